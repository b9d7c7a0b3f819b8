/**
 * The updates that change a clock — extension, suspension, resumption, urging — and the
 * calendar-change signal, shared by the department task and the joint case. Validators refuse a
 * bad or late request before it enters history.
 */
import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import type { Actor, CaseChanges, ClockDue, TaskChanges, WarningLevel } from '../lib/case/model';
import { SUPPLEMENT_PROCEDURE, SYSTEM_ACTOR } from '../lib/case/model';
import type { Limit } from '../lib/catalog/types';
import type { ErrorCode } from '../lib/errors';
import { hall } from './activities';
import type { Clock } from './clock';
import {
  calendarChangedSignal,
  clockQuery,
  extendUpdate,
  replyUrgingUpdate,
  resumeUpdate,
  suspendUpdate,
  SUSPENDING_PROCEDURES,
  urgeUpdate,
  type ClockView,
  type UrgingView,
} from './messages';

/** Urgings and their escalations are told to staff by notification since this patch. */
const STAFF_URGING_PATCH = 'staff-notified-of-urgings';

function refuse(code: ErrorCode, message: string): never {
  throw ApplicationFailure.nonRetryable(message, code);
}

/** A register write of the workflow that owns the clock. */
export type ClockRecorder = (
  action: string,
  actor: Actor,
  extra: {
    details?: Record<string, unknown>;
    dueChanges?: DueChanges;
    warningLevel?: WarningLevel;
  },
) => Promise<string>;

/** The due fields an event writes on the task row, the case row, or both. */
export type DueChanges = Pick<
  CaseChanges & TaskChanges,
  'statutoryDueAt' | 'promisedDueAt' | 'dueProvisional'
>;

/** What the handlers need to know about the clock's owner. */
export interface ClockOwner {
  clock: Clock;
  caseNumber: string;
  /** The task whose clock this is; undefined for a whole joint case. */
  taskCode?: string;
  /** The extension the law allows (null: none) and who approves it. */
  extension: (Limit & { approver: 'headOfOrgan' | 'headOfGovernment' }) | null;
  /** The department a task belongs to; undefined for a whole joint case. */
  department?: string;
  isOpen: () => boolean;
  record: ClockRecorder;
  /** Tells staff of an urging (the department) and of its escalation (leadership). */
  alertStaff?: (step: 'urged' | 'urgingEscalated', eventKey: string, urging: UrgingView) => void;
  now: () => string;
}

/** The due fields of a computed clock. */
export function dueChangesOf(due: ClockDue): DueChanges {
  return {
    statutoryDueAt: due.statutoryDueAt,
    promisedDueAt: due.promisedDueAt,
    dueProvisional: due.provisional,
  };
}

/** Installs the clock's updates and signal on the current workflow. */
export function installClockHandlers(owner: ClockOwner): void {
  const { clock } = owner;
  const urgings: UrgingView[] = [];

  const view = (): ClockView => ({
    statutoryDueAt: clock.due?.statutoryDueAt,
    promisedDueAt: clock.due?.promisedDueAt,
    extensionDays: clock.extensionDays,
    suspended: clock.suspended,
    suspensions: clock.suspensions.map((s) => ({ ...s })),
    warnings: [...clock.fired],
    urgings: urgings.map((u) => ({ ...u })),
  });

  const requireOwnDepartment = (actor: Actor): void => {
    if (owner.department && actor.department !== owner.department) {
      refuse('wrong_department', `this task belongs to ${owner.department}`);
    }
  };
  const requireOpen = (): void => {
    if (!owner.isOpen()) refuse('invalid_state', 'the decision is made: the clock no longer runs');
  };

  setHandler(clockQuery, view);

  setHandler(
    extendUpdate,
    async ({ actor, days, reason }) => {
      clock.extensionDays = days;
      const due = await clock.compute();
      const details = {
        days,
        unit: owner.extension!.unit,
        reason,
        ...dueChangesOf(due),
        approver: owner.extension!.approver,
        taskCode: owner.taskCode,
        department: owner.department,
      };
      const key = await owner.record('extended', actor, { details, dueChanges: dueChangesOf(due) });
      // 延期告知书: the applicant is told the reasons and the new date in writing.
      await hall.issueDocument({
        caseNumber: owner.caseNumber,
        kind: 'extensionNotice',
        eventKey: key,
        details,
      });
      return view();
    },
    {
      validator: ({ actor, days, reason }) => {
        const allowed = owner.extension;
        if (!allowed) refuse('extension_not_allowed', 'the law sets no extension for this limit');
        if (actor.role !== allowed.approver) {
          refuse('forbidden', `an extension is approved by the ${allowed.approver}`);
        }
        requireOwnDepartment(actor);
        requireOpen();
        if (clock.extensionDays > 0)
          refuse('extension_not_allowed', 'the limit was extended once already');
        if (clock.suspended)
          refuse('invalid_state', 'the clock is suspended: extend after it resumes');
        if (!Number.isInteger(days) || days < 1)
          refuse('validation_failed', 'extend by whole days, at least 1');
        if (days > allowed.days) {
          refuse('extension_too_long', `at most ${allowed.days} ${allowed.unit} may be added`);
        }
        if (!reason.trim()) refuse('validation_failed', 'an extension needs its reasons');
      },
    },
  );

  setHandler(
    suspendUpdate,
    async ({ actor, procedure, reason, expectedDays }) => {
      clock.suspensions.push({ from: owner.now(), to: null, procedure, reason });
      await clock.compute();
      const details = {
        procedure,
        reason,
        expectedDays,
        taskCode: owner.taskCode,
        department: owner.department,
      };
      const key = await owner.record('suspended', actor, { details });
      // 特别程序告知书 (LLA art. 45): which procedure, and how long it is expected to take.
      await hall.issueDocument({
        caseNumber: owner.caseNumber,
        kind: 'suspensionNotice',
        eventKey: key,
        details,
      });
      return view();
    },
    {
      validator: ({ actor, procedure, reason, expectedDays }) => {
        requireOwnDepartment(actor);
        requireOpen();
        if (clock.suspended) refuse('invalid_state', 'the clock is suspended already');
        if (!SUSPENDING_PROCEDURES.includes(procedure)) {
          refuse('validation_failed', `not a procedure of art. 45: ${procedure}`);
        }
        if (!reason.trim()) refuse('validation_failed', 'a suspension needs its reasons');
        // Art. 45: the applicant is told in writing how long the procedure is expected to take.
        if (!expectedDays || expectedDays < 1)
          refuse('validation_failed', 'give the expected days');
      },
    },
  );

  setHandler(
    resumeUpdate,
    async ({ actor }) => {
      const open = clock.suspensions.find((s) => s.to === null)!;
      // The resumption day is still spent on the procedure: it is not counted either.
      open.to = owner.now();
      const due = await clock.compute();
      await owner.record('resumed', actor, {
        details: { procedure: open.procedure, from: open.from, to: open.to, ...dueChangesOf(due) },
        dueChanges: dueChangesOf(due),
      });
      return view();
    },
    {
      validator: ({ actor }) => {
        requireOwnDepartment(actor);
        if (!clock.suspended) refuse('not_suspended', 'the clock is not suspended');
        // The applicant's materials resume it, handed in at the lead counter (the case's task).
        if (clock.suspensions.at(-1)?.procedure === SUPPLEMENT_PROCEDURE) {
          refuse('invalid_state', 'the clock waits for the applicant’s materials');
        }
      },
    },
  );

  setHandler(
    urgeUpdate,
    async ({ actor, message, replyBy }) => {
      const urging: UrgingView = {
        id: `U${urgings.length + 1}`,
        message,
        replyBy,
        urgedBy: actor.id,
        status: 'awaitingReply',
      };
      urgings.push(urging);
      const key = await owner.record('urged', actor, {
        details: { urgingId: urging.id, message, replyBy },
      });
      // 督办通知单, addressed to the department.
      await hall.issueDocument({
        caseNumber: owner.caseNumber,
        kind: 'urgingNotice',
        eventKey: key,
        details: {
          taskCode: owner.taskCode,
          department: owner.department,
          message,
          replyBy,
          urgedBy: actor.id,
        },
      });
      // The first version told nobody beyond the register and the document.
      if (owner.alertStaff && patched(STAFF_URGING_PATCH)) owner.alertStaff('urged', key, urging);
      void escalateUnanswered(urging);
      return { ...urging };
    },
    {
      validator: ({ actor, message, replyBy }) => {
        if (actor.role !== 'supervisor') refuse('forbidden', 'only a supervisor urges');
        requireOpen();
        if (!message.trim()) refuse('validation_failed', 'an urging needs its message');
        if (!(Date.parse(replyBy) > Date.now())) {
          refuse('validation_failed', 'the reply deadline must be in the future');
        }
      },
    },
  );

  /** No reply by the deadline: the urging goes up to the hall's leadership. */
  async function escalateUnanswered(urging: UrgingView): Promise<void> {
    const wait = Math.max(Date.parse(urging.replyBy) - Date.now(), 1);
    const replied = await condition(() => urging.status !== 'awaitingReply', wait);
    if (replied) return;
    urging.status = 'escalated';
    const key = await owner.record('urgingEscalated', SYSTEM_ACTOR, {
      details: { urgingId: urging.id, replyBy: urging.replyBy, to: 'hallLeadership' },
    });
    if (owner.alertStaff && patched(STAFF_URGING_PATCH)) {
      owner.alertStaff('urgingEscalated', key, urging);
    }
  }

  setHandler(
    replyUrgingUpdate,
    async ({ actor, urgingId, message }) => {
      const urging = urgings.find((u) => u.id === urgingId)!;
      urging.status = 'replied';
      urging.reply = message;
      await owner.record('urgingReplied', actor, { details: { urgingId, message } });
      return { ...urging };
    },
    {
      validator: ({ actor, urgingId, message }) => {
        requireOwnDepartment(actor);
        const urging = urgings.find((u) => u.id === urgingId);
        if (!urging) refuse('not_found', `no urging ${urgingId}`);
        if (urging.status !== 'awaitingReply')
          refuse('invalid_state', `urging ${urgingId} is ${urging.status}`);
        if (!message.trim()) refuse('validation_failed', 'a reply needs its message');
      },
    },
  );

  setHandler(calendarChangedSignal, ({ version }) => {
    if (!owner.isOpen() || clock.due?.calendarVersion === version) return;
    void (async () => {
      const before = clock.due;
      const due = await clock.compute();
      if (
        before?.statutoryDueAt === due.statutoryDueAt &&
        before?.promisedDueAt === due.promisedDueAt
      ) {
        return;
      }
      await owner.record('clockRecomputed', SYSTEM_ACTOR, {
        details: { calendarVersion: due.calendarVersion, ...dueChangesOf(due) },
        dueChanges: dueChangesOf(due),
      });
    })();
  });
}
