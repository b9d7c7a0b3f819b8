/**
 * The calendar re-arm (workflows/calendarRearm.ts) through the API, on the labour-dispatch
 * licence taken over in progress (received 2026-09-28 10:00, statutory 20 working days: end of
 * 10-30, see test/clockApi.test.ts). Closing Tuesday 2026-10-20 moves day 20 to Monday 11-02.
 */
import test from 'ava';
import { rearmWorkflowId } from '../workflows/calendarRearmMessages';
import { LABOUR_DISPATCH, takeOverLabourDispatch } from './support/cases';
import { eventually, startTestHall, type TestHall } from './support/hall';

const endOf = (date: string) => `${date}T15:59:59.999Z`;
const ITEM = LABOUR_DISPATCH;
const CLERK = 'dev-clerk-hrss';
const CLOSURE = { date: '2026-10-20', kind: 'closed', reason: '台风停止办公' };

/** A labour-dispatch licence taken over in progress, its task open and its clock set. */
const takeOver = (hall: TestHall) => takeOverLabourDispatch(hall, { open: true });

const rearmDone = (hall: TestHall, id: string) =>
  eventually(
    () => hall.call('GET', `/calendar/rearms/${id}`, 'dev-supervisor'),
    (r) => r.body?.status === 'completed',
  );

test('a calendar change answers 202 and its re-arm recomputes every open clock', async (t) => {
  const hall = await startTestHall(t);
  const open = await takeOver(hall);
  const closed = await takeOver(hall);
  const concluded = await hall.call('POST', `/cases/${closed}/conclusion`, 'dev-officer-hrss', {
    decision: 'approve',
  });
  t.is(concluded.status, 200);
  await eventually(
    () => hall.call('GET', `/cases/${closed}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.status === 'concluded',
  );
  // As if the page was read from the register just before the task concluded: its workflow
  // has ended by the time the signal goes.
  await hall.runtime
    .db('department_tasks')
    .where({ case_number: closed, task_code: ITEM })
    .update({ status: 'open' });

  const added = await hall.call('POST', '/calendar/overrides', 'dev-admin', CLOSURE);
  t.is(added.status, 202);
  const id: string = added.body.rearm.id;
  t.is(id, rearmWorkflowId(hall.config.TEMPORAL_TASK_QUEUE, added.body.version));
  t.is(added.body.rearm.href, `/calendar/rearms/${id}`);

  const done = await rearmDone(hall, id);
  t.like(done.body.progress, {
    version: added.body.version,
    listed: 2,
    signalled: 1,
    skipped: 1,
    done: true,
  });
  const detail = await eventually(
    () => hall.call('GET', `/cases/${open}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.statutoryDueAt === endOf('2026-11-02'),
  );
  t.is(detail.body.case.statutoryDueAt, endOf('2026-11-02'));
  const closedTask = (await hall.call('GET', `/cases/${closed}`, 'dev-supervisor')).body.tasks[0];
  t.is(closedTask.statutoryDueAt, endOf('2026-10-30'));
});

test('the same change posted twice re-arms under one id, each clock once', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOver(hall);
  const first = await hall.call('POST', '/calendar/overrides', 'dev-admin', CLOSURE);
  const second = await hall.call('POST', '/calendar/overrides', 'dev-admin', CLOSURE);
  t.is(second.status, 202);
  t.is(second.body.version, first.body.version);
  t.is(second.body.rearm.id, first.body.rearm.id);
  await rearmDone(hall, first.body.rearm.id);

  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.statutoryDueAt === endOf('2026-11-02'),
  );
  const recomputed = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'clockRecomputed',
  );
  t.is(recomputed.length, 1);
});

test('a re-arm is shown to supervisors only, and an unknown one is a 404', async (t) => {
  const hall = await startTestHall(t);
  const unknown = await hall.call('GET', '/calendar/rearms/calendar-rearm-cal-0', 'dev-admin');
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'not_found');
  const caseId = await hall.call('GET', '/calendar/rearms/T000001', 'dev-admin');
  t.is(caseId.status, 422);
  const byClerk = await hall.call('GET', '/calendar/rearms/calendar-rearm-cal-0', CLERK);
  t.is(byClerk.status, 403);
});

test('a long re-arm continues as new and counts every page across its runs', async (t) => {
  const hall = await startTestHall(t);
  await takeOver(hall);
  await takeOver(hall);
  // One clock a page and a history limit of one event: a new run after every page. Two open
  // tasks and no joint case make four pages: task, task, the empty end of the tasks, no joint.
  const handle = await hall.client.workflow.start('calendarRearmWorkflow', {
    workflowId: rearmWorkflowId(hall.config.TEMPORAL_TASK_QUEUE, 'test-version'),
    taskQueue: hall.config.TEMPORAL_TASK_QUEUE,
    args: [{ version: 'test-version', pageSize: 1, batchSize: 1, historyLimit: 1 }],
  });
  const result = await handle.result();
  t.like(result, { listed: 2, signalled: 2, skipped: 0, pages: 4, runs: 4, done: true });
  const latest = await hall.client.workflow.getHandle(handle.workflowId).describe();
  t.not(latest.runId, handle.firstExecutionRunId);
});
