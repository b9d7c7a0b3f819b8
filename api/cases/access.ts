import {
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { DomainError } from '../../lib/errors';
import type { CaseRecord, RegisterStore } from '../../lib/store';
import { requireDepartment, type Principal } from '../auth';

/**
 * The register row of a case the caller may see or act on, or 404/403: a clerk only their
 * counter's department's cases, department staff only cases their department is in (as lead or
 * holding a task), supervisors and admins every case.
 */
export async function caseFor(
  store: RegisterStore,
  caseNumber: string,
  principal: Principal,
): Promise<CaseRecord> {
  const record = await store.getCase(caseNumber);
  if (!record) throw new DomainError('case_not_found', `no case ${caseNumber}`);
  if (principal.role === 'clerk') {
    requireDepartment(principal, record.department, `case ${caseNumber}`);
  }
  if (principal.role === 'officer' || principal.role === 'headOfOrgan') {
    const tasks = await store.getTasks(caseNumber);
    const involved =
      record.department === principal.department ||
      tasks.some((t) => t.department === principal.department);
    if (!involved) {
      throw new DomainError(
        'wrong_department',
        `case ${caseNumber} is not ${principal.department}’s`,
      );
    }
  }
  return record;
}

/**
 * Runs a call against a case's workflow and turns Temporal's answers into the hall's: a closed
 * workflow refuses with 409, a missing one with 404.
 */
export async function onWorkflow<T>(caseNumber: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new DomainError('case_not_found', `no running case ${caseNumber}`);
    }
    const message = (err as Error).message ?? '';
    if (/already completed|workflow execution already/i.test(message)) {
      throw new DomainError('invalid_state', `case ${caseNumber} is closed`);
    }
    // A worker that died mid-task, or one that answers too slowly: nothing was decided, and the
    // same request sent again is safe (every decision is idempotent).
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? '';
    if (
      err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
      /Workflow Task in failed state/i.test(`${message} ${cause}`)
    ) {
      throw new DomainError(
        'unavailable',
        `case ${caseNumber} did not answer in time; send it again`,
      );
    }
    throw err;
  }
}
