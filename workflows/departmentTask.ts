/**
 * A department task (部门办理环节): one department's part of a case, with its own clock. Its
 * workflow id is `<caseNumber>/<taskCode>`; the department concludes it by update, and the case
 * cancels it by signal when another department denies or the applicant withdraws.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Actor,
  RegisterEvent,
  TaskInput,
  TaskResult,
  TaskStateView,
  TaskStatus,
} from '../lib/case/model';
import { SYSTEM_ACTOR } from '../lib/case/model';
import type { ErrorCode } from '../lib/errors';
import { hall } from './activities';
import { cancelTaskSignal, concludeUpdate, taskStatusQuery } from './messages';

function refuse(code: ErrorCode, message: string): never {
  throw ApplicationFailure.nonRetryable(message, code);
}

/** Runs one department's task until it is concluded or cancelled. */
export async function departmentTaskWorkflow(input: TaskInput): Promise<TaskResult> {
  const { caseNumber, task } = input;
  const stream = workflowInfo().workflowId;
  let seq = 0;
  let status = 'open' as TaskStatus;
  let opened = false;
  let result: TaskResult | undefined;
  let due: { statutoryDueAt: string; promisedDueAt: string } | undefined;

  const now = (): string => new Date().toISOString();
  const record = (
    action: string,
    actor: Actor,
    extra: Pick<RegisterEvent, 'task' | 'details'>,
  ): Promise<boolean> =>
    hall.recordEvent({
      caseNumber,
      stream,
      seq: ++seq,
      at: now(),
      actor,
      action,
      taskCode: task.code,
      ...extra,
    });

  setHandler(taskStatusQuery, (): TaskStateView => ({
    caseNumber,
    taskCode: task.code,
    department: task.department,
    status,
    statutoryDueAt: due?.statutoryDueAt,
    promisedDueAt: due?.promisedDueAt,
    result,
  }));

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
      const outcome = conclusion.decision === 'approve' ? 'approved' : 'denied';
      const actor = { id: conclusion.officer, role: 'officer', department: conclusion.department };
      await record('taskConcluded', actor, {
        task: {
          taskCode: task.code,
          status: 'concluded',
          decision: conclusion.decision,
          reasons: conclusion.reasons,
          officer: conclusion.officer,
          concludedAt: at,
        },
      });
      upsertSearchAttributes({ CaseStatus: ['concluded'] });
      result = {
        taskCode: task.code,
        department: task.department,
        outcome,
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
      task: { taskCode: task.code, status: 'cancelled', cancelledAt: at, cancelReason: reason },
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

  const clockStart = task.clockStartsAt === 'receipt' ? input.receivedAt : input.openedAt;
  const clock = await hall.computeClock({
    start: clockStart,
    statutoryLimit: task.statutoryLimit,
    promisedLimit: task.promisedLimit,
  });
  due = clock;
  await record('taskOpened', SYSTEM_ACTOR, {
    task: {
      taskCode: task.code,
      department: task.department,
      itemCode: task.itemCode,
      role: task.role,
      title: task.title,
      status: 'open',
      openedAt: input.openedAt,
      statutoryDueAt: clock.statutoryDueAt,
      promisedDueAt: clock.promisedDueAt,
      dueProvisional: clock.provisional,
    },
    details: { calendarVersion: clock.calendarVersion },
  });
  upsertSearchAttributes({ DueAt: [new Date(clock.promisedDueAt)] });
  opened = true;

  await condition(() => result !== undefined && allHandlersFinished());
  return result!;
}

function outcomeOf(decision: 'approve' | 'deny'): TaskResult['outcome'] {
  return decision === 'approve' ? 'approved' : 'denied';
}
