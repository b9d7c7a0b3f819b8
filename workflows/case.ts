/**
 * The case workflow (办件): one per application, its workflow id the case number. It takes the
 * clerk's intake decision, opens the department tasks (one child workflow each), joins their
 * results, and closes the case. Everything it decides is written to the register by activities.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  Actor,
  CaseChanges,
  CaseInput,
  CaseOutcome,
  CaseStatus,
  CaseView,
  RegisterEvent,
  TaskChanges,
  TaskResult,
  TaskSpec,
  TaskView,
} from '../lib/case/model';
import { SYSTEM_ACTOR, taskWorkflowId } from '../lib/case/model';
import type { ErrorCode } from '../lib/errors';
import { hall } from './activities';
import { Clock } from './clock';
import { Notices } from './notices';
import { Fee } from './payment';
import { dueChangesOf, installClockHandlers } from './clockHandlers';
import { departmentTaskWorkflow } from './departmentTask';
import {
  acceptUpdate,
  cancelTaskSignal,
  caseStatusQuery,
  collectUpdate,
  materialsSuppliedSignal,
  refuseToAcceptUpdate,
  registeredUpdate,
  requestCorrectionUpdate,
  supplementUpdate,
  taskMaterialsRequestedSignal,
  withdrawUpdate,
} from './messages';

/** Raises a business refusal that the API maps to its HTTP status by code. */
function refuse(code: ErrorCode, message: string): never {
  throw ApplicationFailure.nonRetryable(message, code);
}

interface TaskSlot {
  spec: TaskSpec;
  status: TaskView['status'];
  result?: TaskResult;
  /** Its child workflow is being started: shown as waiting until the server confirms it. */
  starting?: boolean;
  /** A cancellation that arrived while the child was starting, delivered once it runs. */
  cancelRequested?: string;
  /** Materials its department asked the applicant for, still to be handed in (codes). */
  requested?: string[];
}

/** Runs one case from submission to closure. */
export async function caseWorkflow(input: CaseInput): Promise<CaseView> {
  const { caseNumber, item } = input;
  const stream = workflowInfo().workflowId;
  const materialCodes = new Set(item.materials.map((m) => m.code));

  let seq = 0;
  let registered = false;
  // Handlers change it between awaits, so the compiler must not narrow it from this initial value.
  let status = 'submitted' as CaseStatus;
  let outcome: CaseOutcome | undefined;
  let materials = [...input.materials];
  let missing: string[] | undefined;
  let acceptedAt: string | undefined;
  const clock = new Clock();
  // When intake last began waiting: receipt, or the supplement that completed the materials.
  let lastSubmittedAt = input.receivedAt;
  const tasks = new Map<string, TaskSlot>(
    item.tasks.map((spec) => [spec.code, { spec, status: 'waiting' }]),
  );
  const finished: TaskResult[] = [];
  let runningChildren = 0;
  let intakeDone = false;

  const notices = new Notices(caseNumber);
  let feeWait: Promise<void> = Promise.resolve();
  const now = (): string => new Date().toISOString();
  const record = (
    action: string,
    actor: Actor,
    extra: Partial<Pick<RegisterEvent, 'details' | 'newCase' | 'taskCode' | 'tasks'>> & {
      caseChanges?: CaseChanges;
      task?: TaskChanges;
    } = {},
  ): Promise<string> => {
    // The number is taken now, before any await, so a handler running meanwhile cannot take it;
    // the event's key (stream#seq) also keys the documents and notifications it causes.
    const n = ++seq;
    return hall
      .recordEvent({ caseNumber, stream, seq: n, at: now(), actor, action, ...extra })
      .then(() => `${stream}#${n}`);
  };

  const fee = new Fee({
    caseNumber,
    record: (action, details) => record(action, SYSTEM_ACTOR, { details }),
    eventKey: () => `${stream}#fee${seq}`,
    ended: () => status === 'withdrawn' || outcome === 'denied',
  });

  const setStatus = (next: CaseStatus): void => {
    status = next;
    upsertSearchAttributes({ CaseStatus: [next] });
  };

  const view = (): CaseView => ({
    caseNumber,
    itemCode: item.code,
    status,
    outcome,
    acceptedAt,
    statutoryDueAt: clock.due?.statutoryDueAt,
    promisedDueAt: clock.due?.promisedDueAt,
    dueProvisional: clock.due?.provisional,
    missing,
    tasks: [...tasks.values()].map((t) => ({
      code: t.spec.code,
      department: t.spec.department,
      title: t.spec.title,
      role: t.spec.role,
      status: t.status,
      dependsOn: t.spec.dependsOn,
      result: t.result,
      ...(t.requested && t.status === 'open'
        ? { awaiting: 'applicant' as const, requestedMaterials: [...t.requested] }
        : {}),
    })),
  });

  /** The open tasks waiting for the applicant's materials (one of them, if `code` names it). */
  const awaitingTasks = (code?: string): TaskSlot[] =>
    [...tasks.values()].filter(
      (t) => t.status === 'open' && t.requested && (!code || t.spec.code === code),
    );

  const requireIntake = (): void => {
    if (status === 'correctionRequested') {
      refuse('invalid_state', 'materials were requested; record the supplement first');
    }
    if (status !== 'submitted') refuse('already_decided', `the case is already ${status}`);
  };

  setHandler(caseStatusQuery, view);

  setHandler(registeredUpdate, async () => {
    await condition(() => registered);
    return view();
  });

  /**
   * Accepts the case: the clock starts, the receipt is issued, and the tasks open at once. The
   * clerk does it by update; the law does it by itself when intake lapses (art. 32).
   */
  async function accept(
    actor: Actor,
    at: string,
    how: {
      action: 'accepted' | 'acceptedByLaw';
      concludeAtIntake?: 'approve' | 'deny';
      reasons?: string;
      fees?: string[];
    },
  ): Promise<void> {
    setStatus('accepted');
    acceptedAt = at;
    clock.start({
      start: item.clockStartsAt === 'receipt' ? input.receivedAt : acceptedAt,
      statutoryLimit: item.statutoryLimit,
      promisedLimit: item.promisedLimit,
      reminderDays: input.reminderDays,
    });
    const due = await clock.compute();
    if (due.promisedDueAt) upsertSearchAttributes({ DueAt: [new Date(due.promisedDueAt)] });
    const acceptedKey = await record(how.action, actor, {
      caseChanges: {
        status: 'accepted',
        acceptedAt,
        clockStartedAt: due.clockStartedAt,
        ...dueChangesOf(due),
        counter: actor.counter,
        clerk: actor.role === 'clerk' ? actor.id : undefined,
      },
      details: {
        calendarVersion: due.calendarVersion,
        ...(how.action === 'acceptedByLaw' ? { basis: 'LLA art. 32 ¶1 (4)' } : {}),
      },
    });
    const receiptKey = acceptedKey;
    const receipt = await hall.issueDocument({ caseNumber, kind: 'receipt', eventKey: receiptKey });
    notices.tell('accepted', receiptKey, receipt.id, { promisedDueAt: due.promisedDueAt });
    if (how.fees && how.fees.length > 0) {
      // The payment notice goes out with the receipt; the departments decide meanwhile, and
      // the licence is handed over only once the fee is paid.
      feeWait = fee.collect(how.fees, input.payByDays ?? 15);
    }
    if (!how.concludeAtIntake && status === 'accepted') {
      // The tasks are in the register before the clerk's call returns, so every department
      // involved, and the supervisors, see the whole case from acceptance on.
      await record('tasksPlanned', SYSTEM_ACTOR, {
        tasks: [...tasks.values()].map((slot) => ({
          taskCode: slot.spec.code,
          department: slot.spec.department,
          itemCode: slot.spec.itemCode,
          role: slot.spec.role,
          title: slot.spec.title,
          status: 'waiting',
        })),
      });
      // copyToRelated: every department whose prerequisites are met has its task before the
      // clerk's call returns.
      await openReadyTasks();
    }
    if (how.concludeAtIntake && status === 'accepted') {
      // An immediate item (即办件) is decided on the spot by the accepting counter.
      const decided: CaseOutcome = how.concludeAtIntake === 'approve' ? 'approved' : 'denied';
      await conclude(decided, actor, how.reasons);
    }
    intakeDone = true;
  }

  setHandler(
    acceptUpdate,
    async (req) => {
      // A case taken over from a department's register was accepted there when it was received.
      const at =
        input.acceptedElsewhereAt ?? (input.source === 'takeover' ? input.receivedAt : now());
      await accept(req.actor, at, {
        action: 'accepted',
        concludeAtIntake: req.concludeAtIntake,
        reasons: req.reasons,
        fees: req.fees,
      });
      return view();
    },
    {
      validator: (req) => {
        requireIntake();
        if (req.concludeAtIntake && item.kind !== 'immediate') {
          refuse('invalid_state', `item ${item.code} is not decided on the spot at intake`);
        }
        if (req.concludeAtIntake === 'deny' && !req.reasons?.trim()) {
          refuse('validation_failed', 'a denial needs its reasons');
        }
        // The clerk names the fee lines the applicant owes (a first certificate is free, a
        // residential rate differs from another): none named, none charged.
        const itemFees = item.fees ?? [];
        const unknownFees = (req.fees ?? []).filter((code: string) => !itemFees.includes(code));
        if (unknownFees.length > 0) {
          refuse('fee_not_in_catalog', `not fees of ${item.code}: ${unknownFees.join(', ')}`);
        }
      },
    },
  );

  if (item.kind === 'joint') {
    // The whole joint case has its own limit (LLA art. 42 ¶2: 45 days, +15 by the head of the
    // people's government); each department's task keeps its own clock besides.
    installClockHandlers({
      clock,
      caseNumber,
      extension: item.extension ?? null,
      isOpen: () => status === 'accepted',
      now,
      record: (action, actor, extra) =>
        record(action, actor, { details: extra.details, caseChanges: extra.dueChanges }),
    });
  }

  /**
   * LLA art. 32: an application neither decided nor sent back for correction within 5 working
   * days of its receipt counts as accepted from that day. Armed whenever intake waits.
   */
  async function watchIntakeLapse(): Promise<void> {
    while (status === 'submitted' || status === 'correctionRequested') {
      await condition(() => status !== 'correctionRequested');
      if (status !== 'submitted') return;
      const since = lastSubmittedAt;
      const { dueAt } = await hall.computeDeadline({
        start: since,
        limit: { days: 5, unit: 'workingDays' },
      });
      const wait = Math.max(Date.parse(dueAt) - Date.now(), 1);
      const decided = await condition(
        () => status !== 'submitted' || lastSubmittedAt !== since,
        wait,
      );
      if (decided) continue;
      await accept(SYSTEM_ACTOR, since, { action: 'acceptedByLaw' });
      await record('supervisorsWarned', SYSTEM_ACTOR, {
        details: { reason: 'intakeLapsed', basis: 'LLA art. 32', since, lapsedAt: dueAt },
      });
    }
  }

  setHandler(
    requestCorrectionUpdate,
    async (req) => {
      setStatus('correctionRequested');
      missing = [...req.missing];
      const key = await record('correctionRequested', req.actor, {
        caseChanges: { status, missingMaterials: missing },
        details: { missing },
      });
      const notice = await hall.issueDocument({
        caseNumber,
        kind: 'correctionNotice',
        eventKey: key,
      });
      notices.tell('correctionRequested', key, notice.id, { missing });
      return view();
    },
    {
      validator: (req) => {
        requireIntake();
        const unknown = req.missing.filter((code: string) => !materialCodes.has(code));
        if (req.missing.length === 0) refuse('validation_failed', 'name at least one material');
        if (unknown.length > 0) {
          refuse('unknown_material', `not materials of ${item.code}: ${unknown.join(', ')}`);
        }
      },
    },
  );

  setHandler(taskMaterialsRequestedSignal, ({ taskCode, materials: asked }) => {
    const slot = tasks.get(taskCode);
    // A task cancelled in the same instant asks nothing any more.
    if (slot?.status === 'open') slot.requested = asked.map((m) => m.code);
  });

  /** Hands materials in at the lead counter to each task that asked for some of them. */
  async function supplementTasks(req: { actor: Actor; materials: string[]; task?: string }) {
    for (const slot of awaitingTasks(req.task)) {
      const handed = slot.requested!.filter((code) => req.materials.includes(code));
      if (handed.length === 0) continue;
      const stillMissing = slot.requested!.filter((code) => !handed.includes(code));
      slot.requested = stillMissing.length > 0 ? stillMissing : undefined;
      const at = now();
      const key = await record('supplemented', req.actor, {
        taskCode: slot.spec.code,
        details: { taskCode: slot.spec.code, materials: handed, stillMissing },
      });
      // The task resumes its clock once everything it asked for is in.
      const child = getExternalWorkflowHandle(taskWorkflowId(caseNumber, slot.spec.code));
      await child.signal(materialsSuppliedSignal, {
        id: key,
        materials: handed,
        at,
        actor: req.actor,
      });
    }
  }

  setHandler(
    supplementUpdate,
    async (req) => {
      if (status !== 'correctionRequested') {
        await supplementTasks(req);
        return view();
      }
      materials = [...new Set([...materials, ...req.materials])];
      const stillMissing = (missing ?? []).filter((code) => !materials.includes(code));
      missing = stillMissing.length > 0 ? stillMissing : undefined;
      if (!missing) {
        setStatus('submitted');
        lastSubmittedAt = now();
      }
      await record('supplemented', req.actor, {
        caseChanges: { status, materials, missingMaterials: missing ?? [] },
        details: { materials: req.materials },
      });
      return view();
    },
    {
      validator: (req) => {
        if (status === 'accepted' && req.task && !tasks.has(req.task)) {
          refuse('task_not_found', `no task ${req.task} in this case`);
        }
        if (status === 'accepted' && awaitingTasks(req.task).length > 0) {
          // A department's request: only what it asked for, and not yet handed in.
          const asked = new Set(awaitingTasks(req.task).flatMap((t) => t.requested!));
          const notAsked = req.materials.filter((code: string) => !asked.has(code));
          if (notAsked.length > 0) {
            refuse('unknown_material', `not asked for by the department: ${notAsked.join(', ')}`);
          }
          return;
        }
        if (status !== 'correctionRequested') {
          refuse('invalid_state', 'no materials were requested for this case');
        }
        const unknown = req.materials.filter((code: string) => !materialCodes.has(code));
        if (unknown.length > 0) {
          refuse('unknown_material', `not materials of ${item.code}: ${unknown.join(', ')}`);
        }
      },
    },
  );

  setHandler(
    refuseToAcceptUpdate,
    async (req) => {
      setStatus('refusedToAccept');
      outcome = 'refusedToAccept';
      const key = await record('refusedToAccept', req.actor, {
        caseChanges: {
          status,
          outcome,
          reasonCode: req.reasonCode,
          reasons: req.reasons,
          competentOrgan: req.competentOrgan,
          closedAt: now(),
        },
      });
      const notice = await hall.issueDocument({ caseNumber, kind: 'refusalNotice', eventKey: key });
      notices.tell('refusedToAccept', key, notice.id, { reasons: req.reasons });
      return view();
    },
    {
      validator: (req) => {
        requireIntake();
        if (!req.reasons.trim()) refuse('validation_failed', 'a refusal needs its reasons');
        if (req.reasonCode === 'wrongOrgan' && !req.competentOrgan?.trim()) {
          refuse('validation_failed', 'name the competent organ when the matter is another’s');
        }
      },
    },
  );

  setHandler(
    withdrawUpdate,
    async (req) => {
      setStatus('withdrawn');
      outcome = 'withdrawn';
      const withdrawnKey = await record('withdrawn', req.actor, {
        caseChanges: { status, outcome, reasons: req.reasons, closedAt: now() },
      });
      notices.tell('withdrawn', withdrawnKey);
      await cancelOpenTasks('the applicant withdrew the application');
      return view();
    },
    {
      validator: (_req) => {
        if (!['submitted', 'correctionRequested', 'accepted'].includes(status)) {
          refuse('invalid_state', `a ${status} case can no longer be withdrawn`);
        }
      },
    },
  );

  setHandler(
    collectUpdate,
    async (req) => {
      setStatus('collected');
      await record('collected', req.actor, { caseChanges: { status, closedAt: now() } });
      return view();
    },
    {
      validator: (_req) => {
        if (status !== 'concluded' || outcome !== 'approved') {
          refuse('invalid_state', 'only an approved case has a licence to collect');
        }
        if (fee.pending) {
          refuse('payment_pending', `the fee of notice ${fee.noticeNumber} is not paid yet`);
        }
      },
    },
  );

  async function conclude(result: CaseOutcome, actor: Actor, reasons?: string): Promise<void> {
    setStatus('concluded');
    outcome = result;
    const closes = result !== 'approved';
    const key = await record('concluded', actor, {
      caseChanges: {
        status,
        outcome,
        reasons,
        concludedAt: now(),
        closedAt: closes ? now() : undefined,
      },
    });
    const kind = result === 'approved' ? 'approvalNotice' : 'denialDecision';
    const decision = await hall.issueDocument({ caseNumber, kind, eventKey: key });
    if (result === 'approved') {
      notices.tell('approved', key, decision.id);
      notices.tell('readyToCollect', `${key}/collect`);
    } else {
      notices.tell('denied', key, decision.id, { reasons });
    }
  }

  /** Cancels every task not yet concluded: running children by signal, waiting ones here. */
  async function cancelOpenTasks(reason: string): Promise<void> {
    // Before acceptance no task was planned, so there is nothing to cancel. Cases started by
    // the first version recorded a cancellation per task even then; `patched` keeps their
    // histories replaying as they were.
    if (acceptedAt === undefined && patched('withdrawal-before-acceptance-cancels-nothing')) return;
    for (const slot of tasks.values()) {
      if (slot.status === 'open') {
        slot.status = 'cancelled';
        slot.requested = undefined;
        const child = getExternalWorkflowHandle(taskWorkflowId(caseNumber, slot.spec.code));
        try {
          await child.signal(cancelTaskSignal, { reason });
        } catch {
          // The task finished in the same instant: its own result stands and arrives as usual.
        }
      } else if (slot.starting) {
        slot.cancelRequested = reason;
      } else if (slot.status === 'waiting') {
        slot.status = 'cancelled';
        await record('taskCancelled', SYSTEM_ACTOR, {
          taskCode: slot.spec.code,
          task: {
            taskCode: slot.spec.code,
            status: 'cancelled',
            cancelledAt: now(),
            cancelReason: reason,
          },
        });
      }
    }
  }

  /** Starts every waiting task whose prerequisites have all been approved (copyToRelated). */
  async function openReadyTasks(): Promise<void> {
    for (const slot of tasks.values()) {
      if (slot.status !== 'waiting' || slot.starting) continue;
      const ready = slot.spec.dependsOn.every(
        (dep) => tasks.get(dep)?.result?.outcome === 'approved',
      );
      if (!ready) continue;
      slot.starting = true;
      runningChildren++;
      const child = await startChild(departmentTaskWorkflow, {
        workflowId: taskWorkflowId(caseNumber, slot.spec.code),
        args: [
          {
            caseNumber,
            task: slot.spec,
            // The first tasks count from the case's acceptance (for a case taken over, its
            // receipt); a dependent task from the moment its prerequisites are met.
            openedAt: slot.spec.dependsOn.length === 0 && acceptedAt ? acceptedAt : now(),
            receivedAt: input.receivedAt,
            soleTask: tasks.size === 1,
            reminderDays: input.reminderDays,
          },
        ],
        searchAttributes: {
          CaseNumber: [caseNumber],
          ItemCode: [slot.spec.itemCode],
          Department: [slot.spec.department],
          CaseStatus: ['open'],
        },
      });
      slot.starting = false;
      slot.status = 'open';
      if (slot.cancelRequested) {
        slot.status = 'cancelled';
        await child.signal(cancelTaskSignal, { reason: slot.cancelRequested });
      }
      child
        .result()
        .then((result) => {
          slot.result = result;
          slot.requested = undefined;
          if (slot.status === 'open')
            slot.status = result.outcome === 'cancelled' ? 'cancelled' : 'concluded';
          finished.push(result);
          runningChildren--;
        })
        .catch(() => {
          // A task workflow fails only when an operator terminates it; the case then waits for
          // an operator too, and the register still shows the task as open.
        });
    }
  }

  // Submission: the register row comes first, so the API can answer with the case at once.
  const submittedKey = await record('submitted', input.submittedBy, {
    newCase: input,
    details: { materials: input.materials, source: input.source },
  });
  registered = true;
  notices.tell('submitted', submittedKey);
  const lapse = watchIntakeLapse();

  // Intake is over when the case is refused, withdrawn, or accepted with its receipt issued.
  await condition(() => intakeDone || ['refusedToAccept', 'withdrawn'].includes(status));

  // Only a joint case warns on its own clock; a single-task case warns through its task.
  const caseWarnings =
    item.kind === 'joint' && status === 'accepted'
      ? clock.watch(
          () => status !== 'accepted',
          async (level, at) => {
            const key = await record('warningRaised', SYSTEM_ACTOR, {
              caseChanges: { warningLevel: level },
              details: { level, dueAt: at },
            });
            // The lead department and, from yellow on, the hall's staff are told (v1: no one).
            if (patched('staff-notified-of-warnings')) {
              notices.alertStaff({
                step: level,
                eventKey: key,
                dueAt: level === 'reminder' ? clock.due?.promisedDueAt : at,
              });
            }
          },
        )
      : Promise.resolve();

  if (status === 'accepted' && outcome === undefined) {
    while (status === 'accepted') {
      await condition(() => finished.length > 0 || status !== 'accepted');
      if (status !== 'accepted') break;
      const result = finished.shift()!;
      if (result.outcome === 'denied') {
        const denials = [...tasks.values()].filter((t) => t.result?.outcome === 'denied');
        const reasons = denials.map((t) => `${t.spec.department}: ${t.result!.reasons}`).join('\n');
        await cancelOpenTasks(`${result.department} denied its task`);
        await conclude('denied', SYSTEM_ACTOR, reasons);
        break;
      }
      await openReadyTasks();
      const allApproved = [...tasks.values()].every((t) => t.result?.outcome === 'approved');
      if (allApproved) await conclude('approved', SYSTEM_ACTOR);
    }
  }

  // An approved case stays open until the licence is collected; the others are closed now. A
  // cancelled child must finish recording its cancellation before the parent closes over it.
  await condition(() => status !== 'concluded' || outcome !== 'approved');
  await condition(() => runningChildren === 0 && allHandlersFinished());
  await lapse;
  await caseWarnings;
  if (outcome === 'denied' || outcome === 'withdrawn') await fee.settle(`the case was ${outcome}`);
  await feeWait;
  await notices.drain();
  return view();
}
