import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime as SdkRuntime,
  Worker,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { SnapshotCalendar } from '../activities/calendarService';
import { createDocumentService } from '../activities/documentService';
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
  const calendar = new SnapshotCalendar(
    () => runtime.store.listCalendarOverrides(),
    config.HALL_TIME_ZONE,
    () => runtime.store.calendarOverridesStamp(),
  );
  const documents = await createDocumentService(config, runtime, calendar);
  const activities = createActivities({
    store: runtime.store,
    calendar,
    documents: documents.service,
    departmentEndpoints: config.DEPARTMENT_ENDPOINTS,
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
  });
  return { worker, close: documents.close };
}

/** `onedoor worker`: polls the hall's task queue until SIGINT/SIGTERM. */
export async function runWorker(_argv: string[]): Promise<number> {
  const config = loadConfig();
  const log = componentLogger('worker');
  const runtime = await openRuntime(config, { migrate: true });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const { worker, close } = await createHallWorker(config, runtime, connection);
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
