/**
 * A case run in a department's own system (复合行政许可模式), supervised by the hall through the
 * XML exchange: caseAccepted starts the hall's case with its clock and receipt, caseConcluded
 * closes it; a resend changes nothing.
 */
import test from 'ava';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import { foodLicenceAccepted } from './support/cases';
import { eventually, startTestHall } from './support/hall';

test('a case accepted in the market system is supervised by the hall to its end', async (t) => {
  const hall = await startTestHall(t);
  const system = await startDepartmentSimulator({ department: 'market', hallUrl: hall.url });
  t.teardown(() => system.close());
  const departmentCase = `SC${Date.now()}`;
  const accepted = foodLicenceAccepted(system, departmentCase);
  const first = await system.send(accepted);
  t.is(first.status, 200);
  t.regex(first.body, /accepted/);
  const again = await system.send(accepted);
  t.is(again.body, first.body);

  const caseNumber = hallCaseNumberOf('market', departmentCase);
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.status === 200 && r.body.case.status === 'accepted' && r.body.tasks.length === 1,
  );
  t.is(detail.body.case.source, 'exchange');
  t.truthy(detail.body.case.promisedDueAt);
  const receipts = await hall.runtime
    .db('documents')
    .where({ case_number: caseNumber, kind: 'receipt' });
  t.is(receipts.length, 1);
  t.is(detail.body.timeline.filter((e: { action: string }) => e.action === 'accepted').length, 1);

  const concluded = await system.send(
    system.caseConcluded({
      caseNumber: departmentCase,
      decision: 'approve',
      concludedAt: new Date().toISOString(),
    }),
  );
  t.is(concluded.status, 200);
  const done = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.case.status === 'concluded',
  );
  t.is(done.body.case.outcome, 'approved');
  t.like(done.body.tasks[0], { decision: 'approve', officer: 'system-market' });
});
