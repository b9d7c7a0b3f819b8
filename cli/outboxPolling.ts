/**
 * Polling mode of the exchange, started by the worker: for every department system that cannot
 * push (EXCHANGE_OUTBOXES), a Temporal schedule runs outboxPollWorkflow every
 * EXCHANGE_POLL_INTERVAL_MS on the exchange's own task queue, served by a small worker here.
 *
 * Why a schedule rather than a timer in the API or worker process: the hall scales out by
 * running more of those processes, and a timer in each would poll each outbox once per process;
 * one schedule per outbox polls it once whatever the number of processes, never two polls of
 * one outbox at a time (overlap: skip), survives restarts, and can be paused, triggered or
 * re-timed from the Temporal UI or CLI. The cursor and every guarantee of the inbound path
 * (dedupe by messageId, sequence order, dead letters) are in the activity and the register.
 */
import { Connection, Client, ScheduleAlreadyRunning } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  type NativeConnection,
  Worker,
} from '@temporalio/worker';
import { createOutboxPollActivities } from '../activities/departments';
import { hallReceiveDeps } from '../api/exchange/hooks';
import type { Catalog } from '../lib/catalog/types';
import type { Config } from '../lib/config';
import { exchangeSecretsOf } from '../lib/exchange/config';
import type { ExchangeSecrets } from '../lib/exchange/types';
import { componentLogger } from '../lib/log';
import type { Runtime } from '../lib/runtime';

/** The task queue of the polls: the hall's, suffixed, so polls never queue behind cases. */
export function pollTaskQueueOf(taskQueue: string): string {
  return `${taskQueue}-exchange`;
}

/** The schedule of one department's outbox. */
export function pollScheduleIdOf(taskQueue: string, department: string): string {
  return `${taskQueue}-exchange-poll-${department}`;
}

/** Problems of EXCHANGE_OUTBOXES against the catalog and the secrets; empty when fine. */
export function outboxProblems(
  outboxes: Record<string, string>,
  catalog: Catalog,
  secrets: ExchangeSecrets,
): string[] {
  const problems: string[] = [];
  for (const department of Object.keys(outboxes)) {
    const known = catalog.departments.get(department);
    if (!known) problems.push(`EXCHANGE_OUTBOXES: no department ${department} in the catalog`);
    else if (!known.hasOwnSystem) {
      problems.push(`EXCHANGE_OUTBOXES: ${department} has no system of its own (hasOwnSystem)`);
    } else if (!secrets[department]) {
      problems.push(`EXCHANGE_OUTBOXES: no exchange secret for ${department}`);
    }
  }
  return problems;
}

/** Throws, listing every problem, when EXCHANGE_OUTBOXES does not fit the catalog. */
export function assertOutboxes(config: Config, catalog: Catalog): void {
  const secrets = exchangeSecretsOf(config, catalog, config.DEV_TOKENS);
  const problems = outboxProblems(config.EXCHANGE_OUTBOXES, catalog, secrets);
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

/**
 * Creates each outbox's schedule, or brings an existing one to the configured interval, and
 * deletes the schedules of this queue whose outbox is no longer configured (nothing would serve
 * their polls).
 */
async function ensureSchedules(config: Config, departments: string[]): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const wanted = new Set(departments.map((d) => pollScheduleIdOf(config.TEMPORAL_TASK_QUEUE, d)));
    const prefix = pollScheduleIdOf(config.TEMPORAL_TASK_QUEUE, '');
    for await (const existing of client.schedule.list()) {
      if (existing.scheduleId.startsWith(prefix) && !wanted.has(existing.scheduleId)) {
        await client.schedule.getHandle(existing.scheduleId).delete();
      }
    }
    for (const department of departments) {
      const scheduleId = pollScheduleIdOf(config.TEMPORAL_TASK_QUEUE, department);
      const options = {
        spec: { intervals: [{ every: config.EXCHANGE_POLL_INTERVAL_MS }] },
        action: {
          type: 'startWorkflow' as const,
          workflowType: 'outboxPollWorkflow',
          args: [department],
          taskQueue: pollTaskQueueOf(config.TEMPORAL_TASK_QUEUE),
          workflowId: scheduleId,
          workflowExecutionTimeout: '5 minutes' as const,
        },
        // A poll still running when the next is due: the next is skipped, never stacked.
        policies: { overlap: 'SKIP' as const, catchupWindow: '1 minute' as const },
      };
      try {
        await client.schedule.create({ scheduleId, ...options });
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        await client.schedule.getHandle(scheduleId).update((previous) => ({
          ...previous,
          ...options,
          state: previous.state,
        }));
      }
    }
  } finally {
    await connection.close();
  }
}

/** With no outbox configured: deletes the poll schedules an earlier configuration left. */
export async function removeStalePollSchedules(config: Config): Promise<void> {
  if (Object.keys(config.EXCHANGE_OUTBOXES).length === 0) await ensureSchedules(config, []);
}

/** A running poll worker: close() stops it. */
export interface OutboxPolling {
  departments: string[];
  close(): Promise<void>;
}

/**
 * Starts polling mode when EXCHANGE_OUTBOXES names any outbox: the schedules, and the worker of
 * the polls on the worker's connection. Answers undefined when no outbox is configured.
 */
export async function startOutboxPolling(
  config: Config,
  runtime: Runtime,
  connection: NativeConnection,
): Promise<OutboxPolling | undefined> {
  const departments = Object.keys(config.EXCHANGE_OUTBOXES);
  if (departments.length === 0) return undefined;
  assertOutboxes(config, runtime.catalog);
  const log = componentLogger('exchange-poll');
  const activities = createOutboxPollActivities({
    outboxes: config.EXCHANGE_OUTBOXES,
    receiveDeps: (temporal) => hallReceiveDeps(config, runtime, temporal, log),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: pollTaskQueueOf(config.TEMPORAL_TASK_QUEUE),
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows/outboxPoll'),
      logger: new DefaultLogger('WARN'),
    }),
    activities,
  });
  const running = worker.run().catch((err: unknown) => {
    log.error({ err }, 'the poll worker stopped');
  });
  await ensureSchedules(config, departments);
  log.info({ departments, intervalMs: config.EXCHANGE_POLL_INTERVAL_MS }, 'outboxes polled');
  return {
    departments,
    close: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
