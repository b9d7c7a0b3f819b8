import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import type { z } from 'zod';
import { dateInZone } from '../../lib/calendar';
import type { Catalog, Item } from '../../lib/catalog/types';
import type { CaseInput, CaseView, ItemSnapshot } from '../../lib/case/model';
import { DomainError, type FieldProblem } from '../../lib/errors';
import { isValidCreditCode, isValidIdentityNumber } from '../../lib/identity';
import type { RegisterStore } from '../../lib/store';
import { registeredUpdate } from '../../workflows/messages';
import { actorOf, requireDepartment, type Principal } from '../auth';
import type { submitBody } from './schema';

/** What submission needs from the process. */
export interface SubmitDeps {
  catalog: Catalog;
  store: RegisterStore;
  temporal: Client;
  taskQueue: string;
  timeZone: string;
  /** Prefix of case numbers (the hall code unless configured). */
  caseNumberPrefix: string;
  /** Working days before the promised date that the reminder goes out. */
  reminderDays: number;
  /** Calendar days to pay a payment notice. */
  payByDays: number;
}

/** The item fields a running case needs, frozen at submission so a catalog edit can't move it. */
export function snapshotItem(item: Item): ItemSnapshot {
  return {
    code: item.code,
    name: item.name,
    kind: item.kind,
    department: item.department,
    statutoryLimit: item.statutoryLimit,
    promisedLimit: item.promisedLimit,
    clockStartsAt: item.clockStartsAt,
    onTheSpot: item.onTheSpot,
    materials: item.materials.map((m) => ({ code: m.code, name: m.name })),
    tasks: item.tasks,
    extension: item.extension,
    fees: item.fees.map((f) => f.code),
  };
}

/** The hall's day of an instant, as YYYYMMDD, whatever the server's time zone. */
export function hallDay(at: Date, timeZone: string): string {
  return dateInZone(at, timeZone).replaceAll('-', '');
}

function checkIdentity(body: z.infer<typeof submitBody>): FieldProblem[] {
  const a = body.applicant;
  const problems: FieldProblem[] = [];
  const badId = 'not a valid resident identity number (GB 11643 check digit or birth date)';
  if (a.type === 'person' && !isValidIdentityNumber(a.idNumber)) {
    problems.push({ path: 'body.applicant.idNumber', message: badId });
  }
  if (a.type === 'company') {
    if (!isValidCreditCode(a.creditCode)) {
      problems.push({
        path: 'body.applicant.creditCode',
        message: 'not a valid unified social credit code (GB 32100 check character)',
      });
    }
    if (!isValidIdentityNumber(a.legalRepresentative.idNumber)) {
      problems.push({ path: 'body.applicant.legalRepresentative.idNumber', message: badId });
    }
  }
  return problems;
}

/**
 * Starts the workflow of a case under its number, with the search attributes the hall lists
 * cases by. A number already held by a workflow is refused (WorkflowExecutionAlreadyStartedError).
 */
export function startCaseWorkflow(temporal: Client, taskQueue: string, input: CaseInput) {
  return temporal.workflow.start('caseWorkflow', {
    workflowId: input.caseNumber,
    taskQueue,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    searchAttributes: {
      CaseNumber: [input.caseNumber],
      ItemCode: [input.item.code],
      // The lead department; each task workflow carries its own department.
      Department: [input.item.department],
      CaseStatus: ['submitted'],
    },
  });
}

/**
 * Submits an application: validates everything first, so a refused submission leaves nothing
 * behind, then takes a case number and starts the case workflow under it. Answers once the
 * workflow has written the case to the register.
 */
export async function submitCase(
  deps: SubmitDeps,
  principal: Principal,
  body: z.infer<typeof submitBody>,
): Promise<CaseView> {
  const item = deps.catalog.items.get(body.item);
  if (!item) {
    throw new DomainError('unknown_item', `no item ${body.item} in the catalog`, {
      problems: [{ path: 'body.item', message: `unknown item ${body.item}` }],
    });
  }
  requireDepartment(principal, item.department, `item ${item.code}`);

  const known = new Set(item.materials.map((m) => m.code));
  const unknown = body.materials.filter((m) => !known.has(m));
  if (unknown.length > 0) {
    throw new DomainError(
      'unknown_material',
      `not materials of ${item.code}: ${unknown.join(', ')}`,
      {
        problems: unknown.map((m) => ({
          path: 'body.materials',
          message: `unknown material ${m}`,
        })),
      },
    );
  }
  const identity = checkIdentity(body);
  if (identity.length > 0) {
    const code = identity.every((p) => p.path.endsWith('creditCode'))
      ? 'invalid_credit_code'
      : 'invalid_identity_number';
    throw new DomainError(code, identity.map((p) => p.message).join('; '), { problems: identity });
  }

  const now = new Date();
  const day = hallDay(now, deps.timeZone);
  const base: Omit<CaseInput, 'caseNumber'> = {
    item: snapshotItem(item),
    applicant: body.applicant,
    channels: body.channels,
    materials: [...new Set(body.materials)],
    receivedAt: body.receivedAt ? new Date(body.receivedAt).toISOString() : now.toISOString(),
    source: body.receivedAt ? 'takeover' : 'counter',
    submittedBy: actorOf(principal),
    reminderDays: deps.reminderDays,
    payByDays: deps.payByDays,
  };

  // A number whose workflow id Temporal already holds (a register restored from an older backup)
  // is skipped, never reused: the next one is taken.
  for (let attempt = 0; ; attempt++) {
    const sequence = await deps.store.allocateCaseSequence(deps.caseNumberPrefix, day);
    const caseNumber = `${deps.caseNumberPrefix}-${day}-${String(sequence).padStart(5, '0')}`;
    const input: CaseInput = { caseNumber, ...base };
    try {
      const handle = await startCaseWorkflow(deps.temporal, deps.taskQueue, input);
      return await handle.executeUpdate(registeredUpdate);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || attempt >= 20) throw err;
    }
  }
}
