/**
 * The messages of the case and department-task workflows, declared apart from their handlers so
 * that the API (a client) can import them without pulling in workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AcceptRequest,
  Actor,
  CaseView,
  Conclusion,
  CorrectionRequest,
  MaterialsRequest,
  RefusalRequest,
  RequestedMaterial,
  TaskResult,
  TaskStateView,
} from '../lib/case/model';

/** Waits until the case is in the register, so the API can answer with it at once. */
export const registeredUpdate = defineUpdate<CaseView>('registered');
/** The clerk accepts the application (受理); the clock starts. */
export const acceptUpdate = defineUpdate<CaseView, [AcceptRequest]>('accept');
/** The clerk names every missing material at once (补正). */
export const requestCorrectionUpdate = defineUpdate<CaseView, [CorrectionRequest]>(
  'requestCorrection',
);
/** The clerk refuses to accept (不予受理), with reasons. */
export const refuseToAcceptUpdate = defineUpdate<CaseView, [RefusalRequest]>('refuseToAccept');
/**
 * The applicant hands in materials at the counter: those a correction asked for, or those a
 * department asked for on its task (then `task` may name it when several tasks wait).
 */
export const supplementUpdate = defineUpdate<
  CaseView,
  [{ actor: Actor; materials: string[]; task?: string }]
>('supplement');
/** The applicant withdraws the application (撤回); open tasks are cancelled. */
export const withdrawUpdate = defineUpdate<CaseView, [{ actor: Actor; reasons: string }]>(
  'withdraw',
);
/** The applicant collects the licence (取证); the case closes. */
export const collectUpdate = defineUpdate<CaseView, [{ actor: Actor }]>('collect');
/** The live state of a case. */
export const caseStatusQuery = defineQuery<CaseView>('caseStatus');

/** A department concludes its task: approve, or deny with reasons. */
export const concludeUpdate = defineUpdate<TaskResult, [Conclusion]>('conclude');
/** The case no longer needs this task (another department denied, or the applicant withdrew). */
export const cancelTaskSignal = defineSignal<[{ reason: string }]>('cancelTask');
/** The live state of one department task. */
export const taskStatusQuery = defineQuery<TaskStateView>('taskStatus');
/** A department asks the applicant for more materials on its task; its clock stops meanwhile. */
export const requestMaterialsUpdate = defineUpdate<TaskStateView, [MaterialsRequest]>(
  'requestMaterials',
);
/** The task tells its case what it asked for, so the lead counter can take the supplement. */
export const taskMaterialsRequestedSignal =
  defineSignal<
    [{ taskCode: string; materials: RequestedMaterial[]; reason: string; eventKey: string }]
  >('taskMaterialsRequested');
/**
 * The case passes materials handed in at the lead counter to the task that asked for them;
 * `id` (the case's register event) makes a repeated signal harmless.
 */
export const materialsSuppliedSignal =
  defineSignal<[{ id: string; materials: string[]; at: string; actor: Actor }]>(
    'materialsSupplied',
  );

/** The procedures whose time is not counted (LLA art. 45). */
export const SUSPENDING_PROCEDURES = [
  'hearing',
  'tendering',
  'auction',
  'inspection',
  'testing',
  'quarantine',
  'appraisal',
  'expertReview',
] as const;

/** One of the procedures of LLA art. 45. */
export type SuspendingProcedure = (typeof SUSPENDING_PROCEDURES)[number];

/** A supervisor's urging (督办) and what became of it. */
export interface UrgingView {
  id: string;
  message: string;
  replyBy: string;
  urgedBy: string;
  status: 'awaitingReply' | 'replied' | 'escalated';
  reply?: string;
}

/** The clock of a case or task as its updates answer it. */
export interface ClockView {
  statutoryDueAt?: string;
  promisedDueAt?: string;
  extensionDays: number;
  suspended: boolean;
  suspensions: { from: string; to: string | null; procedure: string; reason: string }[];
  warnings: string[];
  urgings: UrgingView[];
}

/** The head of the organ (or, for a joint case, of the government) extends the limit (延期). */
export const extendUpdate = defineUpdate<
  ClockView,
  [{ actor: Actor; days: number; reason: string }]
>('extend');
/** The clock stops for a procedure of art. 45 (中止计时). */
export const suspendUpdate = defineUpdate<
  ClockView,
  [{ actor: Actor; procedure: SuspendingProcedure; reason: string; expectedDays?: number }]
>('suspend');
/** The clock runs again (恢复计时). */
export const resumeUpdate = defineUpdate<ClockView, [{ actor: Actor }]>('resume');
/** A supervisor urges the department to act, with a reply deadline (督办). */
export const urgeUpdate = defineUpdate<
  UrgingView,
  [{ actor: Actor; message: string; replyBy: string }]
>('urge');
/** The department replies to an urging. */
export const replyUrgingUpdate = defineUpdate<
  UrgingView,
  [{ actor: Actor; urgingId: string; message: string }]
>('replyUrging');
/** The calendar changed (a published year, a hall closure): due moments are computed again. */
export const calendarChangedSignal = defineSignal<[{ version: string }]>('calendarChanged');
/** The clock of a case or task. */
export const clockQuery = defineQuery<ClockView>('clock');
