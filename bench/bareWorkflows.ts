/**
 * The floor the case bench compares the hall against: a parent and one child workflow with the
 * shape of a single-department case (the same updates, the same child, the same activity calls
 * in the same order) but no-op activities, no register, no API. What the hall costs above these
 * is its own work: HTTP, validation, PostgreSQL writes, document rendering, search attributes.
 *
 * Activity calls of a case of a one-task item, counted from workflows/case.ts and
 * workflows/departmentTask.ts (bench/cases.ts checks the count against a hall case's history):
 *   case:  recordEvent submitted, [computeDeadline of the intake lapse, beside intake],
 *          computeClock, recordEvent accepted, issueDocument receipt, recordEvent tasksPlanned,
 *          recordEvent concluded, issueDocument approvalNotice, recordEvent collected   = 9
 *   task:  computeClock, recordEvent taskOpened, recordEvent taskConcluded            = 3
 * and the two timers a case arms and cancels on the way: the intake lapse (LLA art. 32) in the
 * case, raced against acceptance, and the first warning of the task's clock, raced against its
 * conclusion. The timers' lengths don't matter: both are cancelled long before they fire.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  defineUpdate,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';

/** The no-op activities the bare workflows call, named after the hall's. */
export interface BareActivities {
  recordEvent(action: string): Promise<boolean>;
  computeClock(): Promise<string>;
  computeDeadline(): Promise<string>;
  issueDocument(kind: string): Promise<string>;
}

/** Activity calls a bare case makes, by name: the same as a hall case of a one-task item. */
export const BARE_ACTIVITY_CALLS: Readonly<Record<keyof BareActivities, number>> = {
  recordEvent: 7,
  computeClock: 2,
  computeDeadline: 1,
  issueDocument: 2,
};

// The hall's activity options (workflows/activities.ts), so retries and timeouts cost the same.
const act = proxyActivities<BareActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Answers once the submission is recorded, as the hall's registeredUpdate does. */
export const bareRegisteredUpdate = defineUpdate<string>('registered');
/** Accepts the case and opens its one task. */
export const bareAcceptUpdate = defineUpdate<string>('accept');
/** Concludes the task (sent to the child). */
export const bareConcludeUpdate = defineUpdate<string>('conclude');
/** Collects: the case closes. */
export const bareCollectUpdate = defineUpdate<string>('collect');
/** The case's (or the task's) status. */
export const bareStatusQuery = defineQuery<string>('status');

/** The bare child: opens (clock + record), waits for its conclusion, records it. */
export async function bareTaskWorkflow(): Promise<string> {
  let opened = false;
  let concluded = false;
  let recorded = false;
  setHandler(bareStatusQuery, () => (recorded ? 'concluded' : opened ? 'open' : 'opening'));
  setHandler(
    bareConcludeUpdate,
    async () => {
      concluded = true;
      await condition(() => opened);
      await act.recordEvent('taskConcluded');
      recorded = true;
      return 'approved';
    },
    {
      validator: () => {
        if (concluded) throw ApplicationFailure.nonRetryable('already concluded', 'invalid_state');
      },
    },
  );

  await act.computeClock();
  await act.recordEvent('taskOpened');
  opened = true;
  const firstWarning = condition(() => concluded, '10 days');
  await condition(() => recorded && allHandlersFinished());
  await firstWarning;
  return 'approved';
}

/** The bare parent: submitted → accepted (child started) → concluded → collected. */
export async function bareCaseWorkflow(): Promise<string> {
  let status = 'submitted';
  let registered = false;
  let taskResult: Promise<string> | undefined;

  setHandler(bareStatusQuery, () => status);
  setHandler(bareRegisteredUpdate, async () => {
    await condition(() => registered);
    return status;
  });
  setHandler(
    bareAcceptUpdate,
    async () => {
      status = 'accepted';
      await act.computeClock();
      await act.recordEvent('accepted');
      await act.issueDocument('receipt');
      await act.recordEvent('tasksPlanned');
      const child = await startChild(bareTaskWorkflow, {
        workflowId: `${workflowInfo().workflowId}/task`,
      });
      taskResult = child.result();
      return status;
    },
    {
      validator: () => {
        if (status !== 'submitted')
          throw ApplicationFailure.nonRetryable(status, 'already_decided');
      },
    },
  );
  setHandler(
    bareCollectUpdate,
    async () => {
      status = 'collected';
      await act.recordEvent('collected');
      return status;
    },
    {
      validator: () => {
        if (status !== 'concluded') throw ApplicationFailure.nonRetryable(status, 'invalid_state');
      },
    },
  );

  await act.recordEvent('submitted');
  registered = true;
  const intakeLapse = (async () => {
    await act.computeDeadline();
    await condition(() => status !== 'submitted', '5 days');
  })();
  await condition(() => taskResult !== undefined);
  await taskResult;
  // As in the hall, a client sees the conclusion once it is recorded, and may collect while the
  // approval notice is still being issued.
  await act.recordEvent('concluded');
  status = 'concluded';
  await act.issueDocument('approvalNotice');
  await condition(() => status === 'collected' && allHandlersFinished());
  await intakeLapse;
  return status;
}
