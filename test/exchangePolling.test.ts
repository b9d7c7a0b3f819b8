/**
 * Polling mode started: a department system that cannot push keeps its messages in an outbox;
 * the hall's schedule polls it and takes what it serves with the guarantees of a push (dedupe
 * by messageId, sequence order, the same acknowledgements).
 */
import test from 'ava';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import { pollScheduleIdOf, pollTaskQueueOf, removeStalePollSchedules } from '../cli/outboxPolling';
import { buildCompany } from './support/builders';
import { eventually, startTestHall } from './support/hall';

test('the hall polls the tax outbox on a schedule and supervises its case', async (t) => {
  const tax = await startDepartmentSimulator({ department: 'tax' });
  t.teardown(() => tax.close());
  const departmentCase = `SW${Date.now()}`;
  const accepted = tax.caseAccepted({
    caseNumber: departmentCase,
    itemCode: 'tax-invoice-issuance',
    acceptedAt: new Date().toISOString(),
    applicant: buildCompany(),
    materials: [],
    channels: [],
  });
  const examining = tax.statusChanged({
    caseNumber: departmentCase,
    status: 'examining',
    at: new Date().toISOString(),
  });

  const hall = await startTestHall(t, {
    EXCHANGE_OUTBOXES: JSON.stringify({ tax: tax.outboxUrl }),
    EXCHANGE_POLL_INTERVAL_MS: '1000',
  });
  const scheduleId = pollScheduleIdOf(hall.config.TEMPORAL_TASK_QUEUE, 'tax');
  const schedule = hall.client.schedule.getHandle(scheduleId);
  t.teardown(() => schedule.delete().catch(() => undefined));
  const caseNumber = hallCaseNumberOf('tax', departmentCase);

  const supervised = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.status === 200 && r.body.case.status === 'accepted',
    30_000,
  );
  t.is(supervised.body.case.source, 'exchange');
  // Written after the first polls: the next one takes it.
  const concluded = tax.caseConcluded({
    caseNumber: departmentCase,
    decision: 'approve',
    concludedAt: new Date().toISOString(),
  });
  const done = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.case.status === 'concluded',
    30_000,
  );

  t.is(done.body.case.outcome, 'approved');
  const rows = await hall.runtime
    .db('exchange_messages')
    .where({ department: 'tax' })
    .orderBy('sequence')
    .select('message_id', 'via', 'ack');
  t.deepEqual(
    rows.map((r) => [r.message_id, r.via]),
    [
      [accepted.messageId, 'poll'],
      [examining.messageId, 'poll'],
      [concluded.messageId, 'poll'],
    ],
  );
  const cursor = await hall.runtime
    .db('exchange_poll_cursors')
    .where({ department: 'tax' })
    .first();
  t.is(Number(cursor.after), concluded.sequence);
  t.is(cursor.last_error, null);
  const receipts = await hall.runtime
    .db('documents')
    .where({ case_number: caseNumber, kind: 'receipt' });
  t.is(receipts.length, 1);

  // The same message pushed after it was polled is a replay: the first acknowledgement again.
  tax.connect(hall.url);
  const replay = await tax.send(accepted);
  t.is(replay.status, 200);
  t.is(replay.body.trim(), `<?xml version="1.0" encoding="UTF-8"?>\n${rows[0].ack}`);

  const description = await schedule.describe();
  t.like(description.action, {
    workflowType: 'outboxPollWorkflow',
    taskQueue: pollTaskQueueOf(hall.config.TEMPORAL_TASK_QUEUE),
    args: ['tax'],
  });
  t.deepEqual(
    description.spec.intervals?.map((i) => i.every),
    [1000],
  );
  t.like(description.policies, { overlap: 'SKIP' });

  // The outbox no longer configured: the next worker start deletes its schedule.
  await removeStalePollSchedules({ ...hall.config, EXCHANGE_OUTBOXES: {} });
  await t.throwsAsync(() => schedule.describe(), { name: 'ScheduleNotFoundError' });
});

test('an outbox of a department without its own system stops the worker', async (t) => {
  const error = await t.throwsAsync(() =>
    startTestHall(t, { EXCHANGE_OUTBOXES: JSON.stringify({ water: 'http://127.0.0.1:9/outbox' }) }),
  );
  t.regex(error?.message ?? '', /EXCHANGE_OUTBOXES: water has no system of its own/);
});
