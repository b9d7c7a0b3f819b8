/**
 * The floor the case bench compares the hall against: a parent and one child workflow with the
 * shape of a single-department case (the same updates, the same child, the same activity calls
 * in the same order, the same timers and races) but no-op activities, no register, no API. What
 * the hall costs above these is its own work: HTTP, validation, PostgreSQL writes, documents,
 * search attributes.
 *
 * Activity calls of a case of a one-task item without fees, from workflows/case.ts,
 * workflows/departmentTask.ts and workflows/notices.ts (bench/cases.ts compares them with the
 * histories of hall cases and warns when they part):
 *   case:  recordEvent submitted, notify submitted, computeDeadline (intake lapse, beside
 *          intake), computeClock, recordEvent accepted, issueDocument receipt, notify accepted,
 *          recordEvent tasksPlanned, recordEvent concluded, issueDocument approvalNotice,
 *          notify approved, notify readyToCollect, recordEvent collected               = 13
 *   task:  computeClock, recordEvent taskOpened, [deliverTask, recordEvent taskDelivered,
 *          cancelled when the conclusion comes first], recordEvent taskConcluded     = 3 to 5
 * Notices are started beside the steps and awaited only before the workflow returns. Two timers
 * are armed and cancelled on the way: the intake lapse (LLA art. 32), raced against acceptance,
 * and the task's first warning, raced against its conclusion; their lengths don't matter.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  isCancellation,
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
  notify(step: string): Promise<string>;
  deliverTask(): Promise<string>;
}

// The hall's activity options (workflows/activities.ts), so timeouts and retries are the same.
const act = proxyActivities<BareActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const delivery = proxyActivities<BareActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});
const notifier = proxyActivities<BareActivities>({
  startToCloseTimeout: '90 seconds',
  scheduleToCloseTimeout: '3 days',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '30 minutes' },
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

/** The bare child: opens, is delivered unless concluded first, records its conclusion. */
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
  const scope = new CancellationScope();
  const delivered = scope
    .run(async () => {
      await delivery.deliverTask();
      await act.recordEvent('taskDelivered');
    })
    .catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
    });
  const stopDelivery = condition(() => concluded).then(() => scope.cancel());
  const firstWarning = condition(() => concluded, '10 days');
  await condition(() => recorded && allHandlersFinished());
  await stopDelivery;
  await delivered;
  await firstWarning;
  return 'approved';
}

/** What a bare parent keeps: its status, whether its submission is recorded, its notices. */
interface BareCase {
  status: string;
  registered: boolean;
  notices: Promise<string>[];
}

/**
 * The handlers both bare parents share: status, registered, accept (ended by `openTasks`, which
 * starts the child or children) and collect.
 */
function setCaseHandlers(c: BareCase, openTasks: () => Promise<void>): void {
  setHandler(bareStatusQuery, () => c.status);
  setHandler(bareRegisteredUpdate, async () => {
    await condition(() => c.registered);
    return c.status;
  });
  setHandler(
    bareAcceptUpdate,
    async () => {
      c.status = 'accepted';
      await act.computeClock();
      await act.recordEvent('accepted');
      await act.issueDocument('receipt');
      c.notices.push(notifier.notify('accepted'));
      await act.recordEvent('tasksPlanned');
      await openTasks();
      return c.status;
    },
    {
      validator: () => {
        if (c.status !== 'submitted') {
          throw ApplicationFailure.nonRetryable(c.status, 'already_decided');
        }
      },
    },
  );
  setHandler(
    bareCollectUpdate,
    async () => {
      c.status = 'collected';
      await act.recordEvent('collected');
      return c.status;
    },
    {
      validator: () => {
        if (c.status !== 'concluded') {
          throw ApplicationFailure.nonRetryable(c.status, 'invalid_state');
        }
      },
    },
  );
}

/** Records the submission; answers the intake lapse (LLA art. 32), raced against acceptance. */
async function submit(c: BareCase): Promise<{ intakeLapse: Promise<void> }> {
  await act.recordEvent('submitted');
  c.registered = true;
  c.notices.push(notifier.notify('submitted'));
  const intakeLapse = (async () => {
    await act.computeDeadline();
    await condition(() => c.status !== 'submitted', '5 days');
  })();
  return { intakeLapse };
}

/**
 * Records the conclusion. As in the hall, a client sees it once it is recorded, and may collect
 * while the approval notice is still being issued.
 */
async function conclude(c: BareCase): Promise<void> {
  await act.recordEvent('concluded');
  c.status = 'concluded';
  await act.issueDocument('approvalNotice');
  c.notices.push(notifier.notify('approved'), notifier.notify('readyToCollect'));
}

/** The bare parent: submitted → accepted (child started) → concluded → collected. */
export async function bareCaseWorkflow(): Promise<string> {
  const c: BareCase = { status: 'submitted', registered: false, notices: [] };
  let taskResult: Promise<string> | undefined;
  setCaseHandlers(c, async () => {
    const child = await startChild(bareTaskWorkflow, {
      workflowId: `${workflowInfo().workflowId}/task`,
    });
    taskResult = child.result();
  });

  const { intakeLapse } = await submit(c);
  await condition(() => taskResult !== undefined);
  await taskResult;
  await conclude(c);
  await condition(() => c.status === 'collected' && allHandlersFinished());
  await intakeLapse;
  await Promise.all(c.notices);
  return c.status;
}

/** One task of a bare joint case: its code and the codes it waits for. */
export interface BareTaskPlan {
  code: string;
  dependsOn: string[];
}

/**
 * The bare parent of a joint case (bench/joint.ts): the same case steps as bareCaseWorkflow,
 * one bareTaskWorkflow child per task (`<id>/<code>`) started as its prerequisites conclude,
 * the whole case's own warning timer raced against the join, as workflows/case.ts does.
 */
export async function bareJointCaseWorkflow(plan: BareTaskPlan[]): Promise<string> {
  const c: BareCase = { status: 'submitted', registered: false, notices: [] };
  const done = new Set<string>();
  const started = new Set<string>();
  const id = workflowInfo().workflowId;
  let running = 0;

  const openReady = async (): Promise<void> => {
    for (const task of plan) {
      if (started.has(task.code) || !task.dependsOn.every((d) => done.has(d))) continue;
      started.add(task.code);
      running++;
      const child = await startChild(bareTaskWorkflow, { workflowId: `${id}/${task.code}` });
      void child.result().then(() => {
        done.add(task.code);
        running--;
      });
    }
  };
  setCaseHandlers(c, openReady);

  const { intakeLapse } = await submit(c);
  await condition(() => c.status === 'accepted');
  // The whole joint case's own clock (LLA art. 42 ¶2): its first warning, raced against the join.
  const caseWarning = condition(() => c.status !== 'accepted', '20 days');
  let joined = 0;
  while (done.size < plan.length) {
    await condition(() => done.size > joined);
    joined = done.size;
    await openReady();
  }
  await conclude(c);
  await condition(() => c.status === 'collected' && running === 0 && allHandlersFinished());
  await intakeLapse;
  await caseWarning;
  await Promise.all(c.notices);
  return c.status;
}
