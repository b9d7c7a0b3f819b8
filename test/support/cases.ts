/** Cases of a test hall, made through the API as the counters and the departments make them. */
import type { DepartmentSimulator, SimulatedMessage } from '../../emulators/departmentSimulator';
import { buildCompany } from './builders';
import { eventually, type TestHall } from './hall';

/** Submits an application as `clerk` and accepts it at intake; answers the case number. */
export async function acceptedCase(
  hall: TestHall,
  clerk: string,
  application: unknown,
): Promise<string> {
  const created = await hall.call('POST', '/cases', clerk, application);
  const caseNumber: string = created.body.case.caseNumber;
  await hall.call('POST', `/cases/${caseNumber}/intake`, clerk, { decision: 'accept' });
  return caseNumber;
}

/** The receipt (受理通知书) the hall issued on accepting the case, as its register row. */
export async function receiptOf(hall: TestHall, caseNumber: string) {
  const [receipt] = await hall.runtime
    .db('documents')
    .where({ case_number: caseNumber, kind: 'receipt' });
  return receipt;
}

/** The joint construction approval, led by planning, as planning's counter takes it. */
export const jointConstruction = () => ({
  item: 'joint-construction-parallel-approval',
  applicant: buildCompany(),
  materials: ['joint-application-form', 'design-scheme'],
});

/** The item of takeOverLabourDispatch: 20 working days statutory, 10 promised. */
export const LABOUR_DISPATCH = 'hrss-labour-dispatch-licence';

/**
 * A labour-dispatch licence taken over in progress: received 2026-09-28 10:00, accepted now at
 * the hrss counter. With `open`, waits until its task is open and its clock is set.
 */
export async function takeOverLabourDispatch(
  hall: TestHall,
  { open = false }: { open?: boolean } = {},
): Promise<string> {
  const caseNumber = await acceptedCase(hall, 'dev-clerk-hrss', {
    item: LABOUR_DISPATCH,
    applicant: buildCompany(),
    materials: ['application-form', 'business-licence'],
    receivedAt: '2026-09-28T10:00:00+08:00',
  });
  if (open) {
    await eventually(
      () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
      (r) => r.body.tasks[0]?.status === 'open' && r.body.tasks[0]?.statutoryDueAt,
    );
  }
  return caseNumber;
}

/** The caseAccepted of a food business licence that the market system accepted itself. */
export function foodLicenceAccepted(
  market: DepartmentSimulator,
  departmentCase: string,
): SimulatedMessage {
  return market.caseAccepted({
    caseNumber: departmentCase,
    itemCode: 'market-food-business-licence',
    acceptedAt: new Date().toISOString(),
    applicant: buildCompany(),
    materials: ['application-form'],
    channels: [],
  });
}
