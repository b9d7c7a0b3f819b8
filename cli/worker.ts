import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime as SdkRuntime,
  Worker,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { SnapshotCalendar } from '../activities/calendarService';
import { createDocumentService, loadHallSettings } from '../activities/documentService';
import { paymentNoticeDocumentsOf } from '../activities/payments';
import { openDatabase } from '../lib/db';
import { createSmtpMailer } from '../lib/notify/mailer';
import { HttpSmsGateway } from '../lib/notify/smsGateway';
import { bankClientOf } from '../lib/bank/config';
import { exchangeSecretsOf } from '../lib/exchange/config';
import { ExchangeStore } from '../lib/exchange/store';
import { assertOutboxes, removeStalePollSchedules, startOutboxPolling } from './outboxPolling';
import { loadConfig, type Config } from '../lib/config';
import { componentLogger } from '../lib/log';
import { openRuntime, type Runtime } from '../lib/runtime';

// The SDK's own logger is quieted to warnings (the hall logs its steps itself). It must be
// installed before the first connection of the process, hence at load time.
try {
  SdkRuntime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already instantiated by an earlier import: keep that one.
}

let bundle: Promise<{ code: string }> | undefined;

/** The workflow bundle, built once per process and shared by every worker in it. */
function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

/** Builds the hall's worker over a runtime: workflows bundled from workflows/, real activities. */
export async function createHallWorker(
  config: Config,
  runtime: Runtime,
  connection: NativeConnection,
) {
  assertOutboxes(config, runtime.catalog);
  const calendar = new SnapshotCalendar(
    () => runtime.store.listCalendarOverrides(),
    config.HALL_TIME_ZONE,
    () => runtime.store.calendarOverridesStamp(),
  );
  const documents = await createDocumentService(config, runtime, calendar);
  // The notifier holds a connection while it sends: its own small pool, so a slow mail server
  // never starves the register writes.
  const notifyDb = openDatabase(config.DATABASE_URL, { min: 0, max: 4 });
  const mailer = config.SMTP_URL
    ? createSmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM })
    : null;
  const sms = config.SMS_GATEWAY_URL
    ? new HttpSmsGateway({
        url: config.SMS_GATEWAY_URL,
        apiKey: config.SMS_API_KEY,
        apiSecret: config.SMS_API_SECRET,
      })
    : null;
  const activities = createActivities({
    store: runtime.store,
    calendar,
    documents: documents.service,
    departmentEndpoints: config.DEPARTMENT_ENDPOINTS,
    exchange: {
      store: new ExchangeStore(runtime.db),
      secrets: exchangeSecretsOf(config, runtime.catalog, config.DEV_TOKENS),
      ownSystems: new Set(
        [...runtime.catalog.departments.values()].filter((d) => d.hasOwnSystem).map((d) => d.code),
      ),
    },
    payments: {
      db: runtime.db,
      catalog: runtime.catalog,
      bank: bankClientOf(config),
      notifyUrl: `${config.PUBLIC_URL}/bank/callbacks`,
      timeZone: config.HALL_TIME_ZONE,
      documents: paymentNoticeDocumentsOf(documents.service),
      calendar,
      payReminderDays: config.PAY_REMINDER_DAYS,
    },
    notifier: {
      db: notifyDb,
      store: runtime.store,
      mailer,
      sms,
      log: componentLogger('notifier'),
      timeZone: config.HALL_TIME_ZONE,
      hall: loadHallSettings(config.DATA_PATH),
    },
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
  });
  // Polling mode of the exchange, when any outbox is configured: its schedules and own worker.
  const polling = await startOutboxPolling(config, runtime, connection);
  const close = async () => {
    await polling?.close();
    await documents.close();
    await mailer?.close();
    await notifyDb.destroy();
  };
  return { worker, close };
}

/** `onedoor worker`: polls the hall's task queue until SIGINT/SIGTERM. */
export async function runWorker(_argv: string[]): Promise<number> {
  const config = loadConfig();
  const log = componentLogger('worker');
  const runtime = await openRuntime(config, { migrate: true });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const { worker, close } = await createHallWorker(config, runtime, connection);
  await removeStalePollSchedules(config);
  log.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS },
    'worker polling',
  );
  try {
    await worker.run();
  } finally {
    await close();
    await connection.close();
    await runtime.db.destroy();
  }
  return 0;
}
