/**
 * A department task (部门办理环节): one department's part of a case, with its own clock. Its
 * workflow id is `<caseNumber>/<taskCode>`; the department concludes it by update, and the case
 * cancels it by signal when another department denies or the applicant withdraws.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Actor,
  CaseChanges,
  RegisterEvent,
  RequestedMaterial,
  TaskChanges,
  TaskInput,
  TaskResult,
  TaskStateView,
  TaskStatus,
} from '../lib/case/model';
import { SUPPLEMENT_PROCEDURE, SYSTEM_ACTOR } from '../lib/case/model';
import type { ErrorCode } from '../lib/errors';
import { delivery, hall } from './activities';
import { Clock } from './clock';
import { Notices } from './notices';
import { dueChangesOf, installClockHandlers, type DueChanges } from './clockHandlers';
import {
  cancelTaskSignal,
  concludeUpdate,
  materialsSuppliedSignal,
  requestMaterialsUpdate,
  taskMaterialsRequestedSignal,
  taskStatusQuery,
} from './messages';

function refuse(code: ErrorCode, message: string): never {
  throw ApplicationFailure.nonRetryable(message, code);
}

function outcomeOf(decision: 'approve' | 'deny'): TaskResult['outcome'] {
  return decision === 'approve' ? 'approved' : 'denied';
}

/** Runs one department's task until it is concluded or cancelled. */
export async function departmentTaskWorkflow(input: TaskInput): Promise<TaskResult> {
  const { caseNumber, task } = input;
  const stream = workflowInfo().workflowId;
  let seq = 0;
  let status = 'open' as TaskStatus;
  let opened = false;
  let result: TaskResult | undefined;
  const clock = new Clock({
    start: task.clockStartsAt === 'receipt' ? input.receivedAt : input.openedAt,
    statutoryLimit: task.statutoryLimit,
    promisedLimit: task.promisedLimit,
    reminderDays: input.reminderDays,
  });

  const notices = new Notices(caseNumber);
  const now = (): string => new Date().toISOString();
  const record = (
    action: string,
    actor: Actor,
    extra: {
      task?: Omit<TaskChanges, 'taskCode'>;
      details?: RegisterEvent['details'];
      caseChanges?: CaseChanges;
    },
  ): Promise<string> => {
    // Numbered now, before any await: the key (stream#seq) also keys its documents and notices.
    const n = ++seq;
    return hall
      .recordEvent({
        caseNumber,
        stream,
        seq: n,
        at: now(),
        actor,
        action,
        taskCode: task.code,
        details: extra.details,
        task: { taskCode: task.code, ...extra.task },
        caseChanges: extra.caseChanges,
      })
      .then(() => `${stream}#${n}`);
  };

  /** A task that is the whole case writes its dates and warnings on the case row too. */
  const caseShare = (changes: CaseChanges): CaseChanges | undefined =>
    input.soleTask ? changes : undefined;

  const writeDue = (dueChanges: DueChanges | undefined) => ({
    task: { ...dueChanges },
    caseChanges: dueChanges ? caseShare({ ...dueChanges }) : undefined,
  });

  /** The materials this task waits for from the applicant, if it asked for any. */
  let materialsRequest:
    { materials: RequestedMaterial[]; reason: string; outstanding: string[] } | undefined;
  const supplies = new Set<string>();

  const stateView = (): TaskStateView => ({
    caseNumber,
    taskCode: task.code,
    department: task.department,
    status,
    statutoryDueAt: clock.due?.statutoryDueAt,
    promisedDueAt: clock.due?.promisedDueAt,
    warnings: [...clock.fired],
    result,
    materialsRequest: materialsRequest && {
      materials: materialsRequest.materials.map((m) => ({ ...m })),
      reason: materialsRequest.reason,
      outstanding: [...materialsRequest.outstanding],
    },
  });
  setHandler(taskStatusQuery, stateView);

  installClockHandlers({
    clock,
    caseNumber,
    taskCode: task.code,
    extension: task.extension,
    department: task.department,
    isOpen: () => status === 'open',
    now,
    alertStaff: (step, eventKey, urging) =>
      notices.alertStaff({
        step,
        eventKey,
        department: task.department,
        taskCode: task.code,
        taskTitle: task.title,
        dueAt: clock.due?.promisedDueAt,
        replyBy: urging.replyBy,
        message: urging.message,
      }),
    record: async (action, actor, extra) => {
      const key = await record(action, actor, {
        details: extra.details,
        ...writeDue(extra.dueChanges),
      });
      // The applicant is told when the clock stops, runs again, or is extended.
      if (action === 'suspended' || action === 'resumed' || action === 'extended') {
        const d = extra.details ?? {};
        notices.tell(action, key, undefined, {
          promisedDueAt: extra.dueChanges?.promisedDueAt,
          suspensionReason: action === 'suspended' ? String(d.reason ?? '') : undefined,
          extension:
            action === 'extended' && task.extension
              ? { days: Number(d.days), unit: task.extension.unit }
              : undefined,
        });
      }
      return key;
    },
  });

  setHandler(
    concludeUpdate,
    async (conclusion) => {
      // The same conclusion sent twice is one decision: the second gets the first's result.
      if (status === 'concluded') {
        await condition(() => result !== undefined);
        return result!;
      }
      status = 'concluded';
      await condition(() => opened);
      const at = now();
      const actor = { id: conclusion.officer, role: 'officer', department: conclusion.department };
      const key = await record('taskConcluded', actor, {
        task: {
          status: 'concluded',
          decision: conclusion.decision,
          reasons: conclusion.reasons,
          officer: conclusion.officer,
          concludedAt: at,
          // Decided without the materials it asked for: it no longer waits for the applicant.
          ...(materialsRequest ? { awaiting: null } : {}),
        },
      });
      upsertSearchAttributes({ CaseStatus: ['concluded'] });
      // A joint case's applicant hears of each department's part as it ends (issue 6); the
      // case's own result follows once every part is in. A sole task's end is the case's.
      if (!input.soleTask && patched('applicant-told-of-each-conclusion')) {
        notices.tell('taskConcluded', key, undefined, {
          department: task.department,
          taskTitle: task.title,
          decision: conclusion.decision,
        });
      }
      result = {
        taskCode: task.code,
        department: task.department,
        outcome: outcomeOf(conclusion.decision),
        reasons: conclusion.reasons,
        officer: conclusion.officer,
        at,
      };
      return result;
    },
    {
      validator: (conclusion) => {
        if (conclusion.department !== task.department) {
          refuse('wrong_department', `task ${task.code} belongs to ${task.department}`);
        }
        if (status === 'cancelled') refuse('task_cancelled', `task ${task.code} was cancelled`);
        if (conclusion.decision === 'deny' && !conclusion.reasons?.trim()) {
          refuse('validation_failed', 'a denial needs its reasons');
        }
        if (status === 'concluded' && result && result.outcome !== outcomeOf(conclusion.decision)) {
          refuse('conflicting_conclusion', `task ${task.code} is already ${result.outcome}`);
        }
      },
    },
  );

  setHandler(
    requestMaterialsUpdate,
    async ({ actor, materials, reason }) => {
      await condition(() => opened);
      const at = now();
      const asked = [...new Map(materials.map((m) => [m.code, m])).values()];
      materialsRequest = { materials: asked, reason, outstanding: asked.map((m) => m.code) };
      // The applicant's time to bring the materials is not the department's: the clock stops
      // (as for a correction, LLA art. 32) until the case hands the supplement over.
      clock.suspensions.push({ from: at, to: null, procedure: SUPPLEMENT_PROCEDURE, reason });
      await clock.compute();
      const codes = asked.map((m) => m.code);
      const key = await record('materialsRequested', actor, {
        task: { awaiting: 'applicant' },
        details: { materials: codes, reason, procedure: SUPPLEMENT_PROCEDURE, from: at },
      });
      // The case learns of it before the officer's call returns, so the lead counter can take
      // the supplement at once.
      await getExternalWorkflowHandle(workflowInfo().parent!.workflowId).signal(
        taskMaterialsRequestedSignal,
        { taskCode: task.code, materials: asked, reason, eventKey: key },
      );
      notices.tell('taskMaterialsRequested', key, undefined, {
        department: task.department,
        taskTitle: task.title,
        requestedMaterials: asked.map((m) => m.name),
        reasons: reason,
      });
      return stateView();
    },
    {
      validator: ({ actor, materials, reason }) => {
        if (actor.department !== task.department) {
          refuse('wrong_department', `task ${task.code} belongs to ${task.department}`);
        }
        if (status === 'cancelled') refuse('task_cancelled', `task ${task.code} was cancelled`);
        if (status !== 'open') refuse('invalid_state', `task ${task.code} is ${status}`);
        if (!workflowInfo().parent) refuse('invalid_state', 'the task has no case to ask through');
        if (materialsRequest) {
          refuse('invalid_state', 'materials were asked for already: the applicant has not come');
        }
        if (clock.suspended) refuse('invalid_state', 'the clock is suspended already');
        if (materials.length === 0) refuse('validation_failed', 'name at least one material');
        if (materials.some((m: RequestedMaterial) => !m.code?.trim() || !m.name?.trim())) {
          refuse('validation_failed', 'every material needs its code and name');
        }
        if (!reason.trim()) refuse('validation_failed', 'a request for materials needs its reason');
      },
    },
  );

  setHandler(materialsSuppliedSignal, async (supply) => {
    // A repeated signal, or a supplement for a request already met or a task closed meanwhile.
    if (supplies.has(supply.id) || !materialsRequest || status !== 'open') return;
    supplies.add(supply.id);
    const request = materialsRequest;
    request.outstanding = request.outstanding.filter((c) => !supply.materials.includes(c));
    if (request.outstanding.length > 0) return;
    materialsRequest = undefined;
    // The day the materials come in is not counted either (as for any resumption).
    const open = clock.suspensions.find((s) => s.to === null)!;
    open.to = supply.at;
    const due = await clock.compute();
    const key = await record('resumed', supply.actor, {
      task: { awaiting: null, ...dueChangesOf(due) },
      caseChanges: caseShare(dueChangesOf(due)),
      details: {
        procedure: open.procedure,
        from: open.from,
        to: open.to,
        supplement: supply.id,
        ...dueChangesOf(due),
      },
    });
    notices.tell('resumed', key, undefined, { promisedDueAt: due.promisedDueAt });
  });

  setHandler(cancelTaskSignal, ({ reason }) => {
    // A cancellation after the department concluded changes nothing; a repeated one is ignored.
    if (status !== 'open') return;
    status = 'cancelled';
    void cancel(reason);
  });

  async function cancel(reason: string): Promise<void> {
    await condition(() => opened);
    const at = now();
    await record('taskCancelled', SYSTEM_ACTOR, {
      task: {
        status: 'cancelled',
        cancelledAt: at,
        cancelReason: reason,
        ...(materialsRequest ? { awaiting: null } : {}),
      },
      details: { reason },
    });
    upsertSearchAttributes({ CaseStatus: ['cancelled'] });
    result = {
      taskCode: task.code,
      department: task.department,
      outcome: 'cancelled',
      reasons: reason,
      at,
    };
  }

  async function deliver(kind: 'taskAssigned' | 'taskCancelled', reason?: string): Promise<void> {
    const eventKey = `${stream}#${kind}`;
    let done: Awaited<ReturnType<typeof delivery.deliverTask>>;
    try {
      done = await delivery.deliverTask({
        kind,
        caseNumber,
        taskCode: task.code,
        department: task.department,
        itemCode: task.itemCode,
        title: task.title,
        promisedDueAt: clock.due?.promisedDueAt,
        statutoryDueAt: clock.due?.statutoryDueAt,
        reason,
        eventKey,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The department's system refused the message for good: supervisors see it; the hall
      // inbox still serves the department's officers.
      await record('deliveryFailed', SYSTEM_ACTOR, {
        details: { kind, message: err instanceof Error ? err.message : String(err) },
      });
      return;
    }
    await record(
      kind === 'taskAssigned' ? 'taskDelivered' : 'cancellationDelivered',
      SYSTEM_ACTOR,
      {
        task:
          kind === 'taskAssigned'
            ? { deliveryChannel: done.channel, deliveredAt: done.acknowledgedAt }
            : undefined,
        details: { channel: done.channel, acknowledgedAt: done.acknowledgedAt },
      },
    );
  }

  const due = await clock.compute();
  await record('taskOpened', SYSTEM_ACTOR, {
    task: {
      department: task.department,
      itemCode: task.itemCode,
      role: task.role,
      title: task.title,
      status: 'open',
      openedAt: input.openedAt,
      ...dueChangesOf(due),
    },
    caseChanges: caseShare(dueChangesOf(due)),
    details: { calendarVersion: due.calendarVersion },
  });
  if (due.promisedDueAt) upsertSearchAttributes({ DueAt: [new Date(due.promisedDueAt)] });
  opened = true;

  // The department receives its task beside everything else: a system that is down delays only
  // this delivery, never the conclusion through the hall's own API nor the other departments.
  const deliveryScope = new CancellationScope();
  const delivered = deliveryScope
    .run(() => deliver('taskAssigned'))
    .catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
    });
  const stopDelivery = condition(() => status !== 'open').then(async () => {
    if (status === 'concluded') deliveryScope.cancel();
  });

  const warnings = clock.watch(
    () => status !== 'open',
    async (level, at) => {
      const key = await record('warningRaised', SYSTEM_ACTOR, {
        task: { warningLevel: level },
        caseChanges: caseShare({ warningLevel: level }),
        details: { level, dueAt: at, department: task.department },
      });
      // The department and, from yellow on, the hall's staff are told (v1 only recorded it).
      if (patched('staff-notified-of-warnings')) {
        notices.alertStaff({
          step: level,
          eventKey: key,
          department: task.department,
          taskCode: task.code,
          taskTitle: task.title,
          // A reminder names the promised date it comes before.
          dueAt: level === 'reminder' ? clock.due?.promisedDueAt : at,
        });
      }
    },
  );

  await condition(() => result !== undefined && allHandlersFinished());
  await stopDelivery;
  await delivered;
  if (status === 'cancelled') {
    // The department is told once that it need not decide any more.
    await deliver('taskCancelled', result?.reasons);
  }
  await warnings;
  await notices.drain();
  return result!;
}
