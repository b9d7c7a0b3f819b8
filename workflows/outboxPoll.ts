/**
 * One poll of a department system's outbox (polling mode of the exchange), started by the
 * Temporal schedule `<taskQueue>/exchange-poll/<department>` (cli/outboxPolling.ts). The
 * schedule's overlap policy (skip) keeps polls of one outbox from running side by side; the
 * cursor and every guarantee of the inbound path live in the activity and the register.
 * Bundled alone for the exchange's own task queue, apart from the case workflows.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { OutboxPollActivities } from '../activities/departments';

const { pollDepartmentOutbox } = proxyActivities<OutboxPollActivities>({
  startToCloseTimeout: '2 minutes',
  // A poll never throws for the outbox's own faults (they are in its report and the cursor
  // table); a failure here is the worker's, tried a few times, then left to the next run.
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

/** Polls one department's outbox once and answers what the poll did. */
export async function outboxPollWorkflow(department: string) {
  return pollDepartmentOutbox(department);
}
