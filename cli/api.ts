import { Client, Connection } from '@temporalio/client';
import type { Server } from 'node:http';
import { createApp } from '../api/app';
import { devTokenAuthenticator } from '../api/auth';
import {
  ANNOUNCED_CALENDAR_VERSION as ANNOUNCED,
  announceCalendarChange,
  calendarRoutes,
  type CalendarChangeDeps,
} from '../api/calendar/router';
import { supervisionRoutes } from '../api/supervision/router';
import { inboxRoutes } from '../api/inbox/router';
import { portalRoutes } from '../api/portal/router';
import { notificationRoutes } from '../api/notifications/router';
import { paymentRoutes, temporalPaymentSignal } from '../api/payments/router';
import { bankClientOf } from '../lib/bank/config';
import { exchangeRoutes } from '../api/exchange/router';
import { hallReceiveDeps } from '../api/exchange/hooks';
import { exchangeSpoolHandler } from '../lib/exchange/bundleReceive';
import { runHallSpoolPass } from '../lib/exchange/bundleStatus';
import { openConfiguredSpool } from '../lib/exchange/spool';
import { startSpoolPasses } from '../lib/exchange/spoolPasses';
import { PaymentLedger } from '../activities/payments';
import { documentRoutes } from '../api/documents/router';
import { SnapshotCalendar } from '../activities/calendarService';
import { loadConfig, type Config } from '../lib/config';
import { componentLogger } from '../lib/log';
import { openRuntime, type Runtime } from '../lib/runtime';

async function announceNewCalendar(
  runtime: Runtime,
  calendar: SnapshotCalendar,
  change: CalendarChangeDeps,
): Promise<void> {
  try {
    await calendar.refresh();
    const version = await calendar.version();
    const told = await runtime.store.getSetting(ANNOUNCED);
    if (told !== version) {
      // A durable re-arm workflow tells the running clocks (workflows/calendarRearm.ts).
      const rearm = told ? await announceCalendarChange(change, version) : undefined;
      await runtime.store.setSetting(ANNOUNCED, version);
      if (told) change.log.info({ version, rearm }, 'new calendar announced');
    }
  } catch (err) {
    change.log.warn({ err }, 'calendar announcement failed; it is tried again at the next start');
  }
}

/**
 * Across isolated networks (SPOOL_DIR set): every SPOOL_INTERVAL_SECONDS the hall writes what it
 * owes the other side, imports the bundles the ferry brought, resends the unanswered ones and
 * exports the public status of changed cases. One pass at a time; a failed pass is logged and
 * the next one tries again. Returns the function that stops the passes.
 */
async function startHallSpoolPasses(
  config: Config,
  runtime: Runtime,
  exchangeDeps: Parameters<typeof exchangeSpoolHandler>[0],
): Promise<() => void> {
  const log = componentLogger('spool');
  const spool = await openConfiguredSpool(
    config,
    runtime.db,
    { messages: exchangeSpoolHandler(exchangeDeps) },
    log,
  );
  if (!spool) return () => undefined;
  const passes = startSpoolPasses(
    async () => {
      const done = await runHallSpoolPass(spool, runtime.store, config.SPOOL_PEER);
      const [imported, resent, exported] = [done.imported, done.resent, done.exported.cases];
      if (imported.length + resent.length + exported === 0) return undefined;
      return { imported: imported.length, resent: resent.length, exported };
    },
    config.SPOOL_INTERVAL_SECONDS,
    log,
  );
  log.info({ dir: config.SPOOL_DIR, side: config.SPOOL_SIDE }, 'spool passes started');
  return () => void passes.stop();
}

/** Starts the REST API on a runtime and a Temporal client; resolves once it listens. */
export async function startApi(
  config: Config,
  runtime: Runtime,
  temporal: Client,
): Promise<Server> {
  const log = componentLogger('api');
  const change: CalendarChangeDeps = {
    store: runtime.store,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    log,
  };
  const calendar = new SnapshotCalendar(
    () => runtime.store.listCalendarOverrides(),
    config.HALL_TIME_ZONE,
    () => runtime.store.calendarOverridesStamp(),
  );
  const exchangeDeps = hallReceiveDeps(config, runtime, temporal, log);
  const app = createApp({
    catalog: runtime.catalog,
    store: runtime.store,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    timeZone: config.HALL_TIME_ZONE,
    caseNumberPrefix: config.CASE_NUMBER_PREFIX ?? runtime.catalog.hall.code,
    reminderDays: config.REMINDER_WORKING_DAYS,
    payByDays: config.PAY_BY_DAYS,
    auth: devTokenAuthenticator(runtime.catalog),
    log,
    extraRoutes: [
      ...calendarRoutes(calendar, config.HALL_TIME_ZONE, change),
      ...documentRoutes({ db: runtime.db, store: runtime.store }),
      ...supervisionRoutes(runtime.store, calendar, config.HALL_TIME_ZONE),
      ...inboxRoutes(runtime.store),
      ...portalRoutes(runtime.store),
      ...paymentRoutes({
        db: runtime.db,
        bank: bankClientOf(config),
        bankSecret: config.BANK_SECRET,
        toleranceSeconds: config.BANK_SIGNATURE_TOLERANCE_SECONDS,
        timeZone: config.HALL_TIME_ZONE,
        signalPayment: temporalPaymentSignal(temporal),
        log: componentLogger('payments'),
      }),
      ...exchangeRoutes(exchangeDeps),
      ...notificationRoutes({
        db: runtime.db,
        smsSecret: config.SMS_GATEWAY_URL ? config.SMS_API_SECRET : null,
      }),
    ],
  });
  // A calendar published since the last start (a new chinese-days year, say) reaches every
  // running clock once: the version told of is kept in the register.
  void announceNewCalendar(runtime, calendar, change);

  // Payments recorded (by a callback or the statement) but whose case was never told, e.g.
  // after a crash between the two: told again every minute until they are.
  const ledger = new PaymentLedger(runtime.db);
  const signal = temporalPaymentSignal(temporal);
  const sweep = setInterval(() => {
    ledger
      .announcePending(signal)
      .catch((err: unknown) => log.warn({ err }, 'payment sweep failed'));
  }, 60_000);
  sweep.unref();
  const stopSpool = await startHallSpoolPasses(config, runtime, exchangeDeps);
  return new Promise((resolve, reject) => {
    const server = app.listen(config.API_PORT, config.API_HOST, () => resolve(server));
    server.once('error', reject);
    server.once('close', () => {
      clearInterval(sweep);
      stopSpool();
    });
  });
}

/** `onedoor api`: serves the REST API until SIGINT/SIGTERM. */
export async function runApi(_argv: string[]): Promise<number> {
  const config = loadConfig();
  const log = componentLogger('api');
  const runtime = await openRuntime(config, { migrate: true });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const server = await startApi(config, runtime, temporal);
  log.info({ url: config.PUBLIC_URL }, 'api listening');
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await connection.close();
  await runtime.db.destroy();
  return 0;
}
