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
  RefusalRequest,
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
/** The applicant hands in the missing materials at the counter. */
export const supplementUpdate = defineUpdate<CaseView, [{ actor: Actor; materials: string[] }]>(
  'supplement',
);
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
