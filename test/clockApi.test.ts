/**
 * The statutory clock through the API, on a case taken over in progress: the labour-dispatch
 * licence received 2026-09-28 10:00 (statutory 20 working days, promised 10, extension up to 10,
 * approved by the head of the organ). Counted by hand on the 2026 arrangement (see
 * test/clock.test.ts for the day-by-day count): promised due end of 10-16 (10-10 is a make-up
 * Saturday), reminder end of 10-15, statutory end of 10-30; extended by 10: statutory end of
 * 11-13, promised end of 10-30. All of them are past today, so every level fires at once.
 */
import test from 'ava';
import { buildCompany } from './support/builders';
import { LABOUR_DISPATCH, takeOverLabourDispatch } from './support/cases';
import { eventually, startTestHall } from './support/hall';

const endOf = (date: string) => `${date}T15:59:59.999Z`;
const ITEM = LABOUR_DISPATCH;
const CLERK = 'dev-clerk-hrss';

test('a case taken over late is red at once, every level fired once and in order', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOverLabourDispatch(hall);
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.warningLevel === 'red' && r.body.case.warningLevel === 'red',
  );
  t.is(detail.body.case.acceptedAt, '2026-09-28T02:00:00.000Z');
  t.is(detail.body.case.promisedDueAt, endOf('2026-10-16'));
  t.is(detail.body.case.statutoryDueAt, endOf('2026-10-30'));
  t.is(detail.body.case.warningLevel, 'red');
  const warnings = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'warningRaised',
  );
  t.deepEqual(
    warnings.map((e: { details: { level: string; dueAt: string } }) => [
      e.details.level,
      e.details.dueAt,
    ]),
    [
      ['reminder', endOf('2026-10-15')],
      ['yellow', endOf('2026-10-16')],
      ['red', endOf('2026-10-30')],
    ],
  );

  const red = await hall.call('GET', '/supervision/cases?level=red', 'dev-supervisor');
  t.is(red.status, 200);
  const row = red.body.tasks.find((r: { caseNumber: string }) => r.caseNumber === caseNumber);
  t.like(row, { department: 'hrss', level: 'red', statutoryDueAt: endOf('2026-10-30') });
  t.true(row.workingDaysOverdue > 20);
  const summary = await hall.call('GET', '/supervision/summary', 'dev-supervisor');
  t.like(
    summary.body.departments.find((d: { department: string }) => d.department === 'hrss'),
    { open: 1, red: 1 },
  );
});

test('the head of the organ extends once, by at most the allowed days, with reasons', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOverLabourDispatch(hall);
  const path = `/cases/${caseNumber}/tasks/${ITEM}/extension`;

  const byOfficer = await hall.call('POST', path, 'dev-officer-hrss', {
    days: 10,
    reason: '情况复杂',
  });
  t.is(byOfficer.status, 403);
  const otherHead = await hall.call('POST', path, 'dev-head-market', {
    days: 10,
    reason: '情况复杂',
  });
  t.is(otherHead.status, 403);
  const tooLong = await hall.call('POST', path, 'dev-head-hrss', { days: 11, reason: '情况复杂' });
  t.is(tooLong.status, 422);
  t.is(tooLong.body.error.code, 'extension_too_long');
  const noReason = await hall.call('POST', path, 'dev-head-hrss', { days: 10, reason: ' ' });
  t.is(noReason.status, 422);

  const extended = await hall.call('POST', path, 'dev-head-hrss', {
    days: 10,
    reason: '需实地核查经营场所',
  });
  t.is(extended.status, 200);
  t.is(extended.body.clock.statutoryDueAt, endOf('2026-11-13'));
  t.is(extended.body.clock.promisedDueAt, endOf('2026-10-30'));
  const again = await hall.call('POST', path, 'dev-head-hrss', { days: 1, reason: '再次延期' });
  t.is(again.status, 409);
  t.is(again.body.error.code, 'extension_not_allowed');

  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.case.statutoryDueAt === endOf('2026-11-13'),
  );
  t.is(detail.body.tasks[0].statutoryDueAt, endOf('2026-11-13'));
  const extensions = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'extended',
  );
  t.is(extensions.length, 1);
  t.is(extensions[0].actor, 'head-hrss');
});

test('a senseless suspension or resumption is refused and changes nothing', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOverLabourDispatch(hall);
  const base = `/cases/${caseNumber}/tasks/${ITEM}`;
  const resumeFirst = await hall.call('POST', `${base}/resumption`, 'dev-officer-hrss');
  t.is(resumeFirst.status, 409);
  t.is(resumeFirst.body.error.code, 'not_suspended');
  const badProcedure = await hall.call('POST', `${base}/suspension`, 'dev-officer-hrss', {
    procedure: 'lunch',
    reason: '午休',
  });
  t.is(badProcedure.status, 422);

  const suspended = await hall.call('POST', `${base}/suspension`, 'dev-officer-hrss', {
    procedure: 'inspection',
    reason: '现场核查',
    expectedDays: 5,
  });
  t.is(suspended.status, 200);
  t.true(suspended.body.clock.suspended);
  // The limit ran out before the suspension began: stopping the clock now cannot undo that.
  t.is(suspended.body.clock.statutoryDueAt, endOf('2026-10-30'));
  const twice = await hall.call('POST', `${base}/suspension`, 'dev-officer-hrss', {
    procedure: 'testing',
    reason: '检测',
  });
  t.is(twice.status, 409);
  const resumed = await hall.call('POST', `${base}/resumption`, 'dev-officer-hrss');
  t.is(resumed.status, 200);
  t.false(resumed.body.clock.suspended);
  // Suspended today and resumed today: one day today is not counted, which is after the due
  // day already, so the statutory date stays.
  t.is(resumed.body.clock.statutoryDueAt, endOf('2026-10-30'));

  await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-hrss', {
    decision: 'approve',
  });
  const closed = await eventually(
    () =>
      hall.call('POST', `${base}/suspension`, 'dev-officer-hrss', {
        procedure: 'testing',
        reason: '检测',
      }),
    (r) => r.status !== 200,
  );
  t.is(closed.status, 409);
  t.is(closed.body.error.code, 'invalid_state');
});

test('an urging unanswered in time escalates to hall leadership; a reply stops it', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOverLabourDispatch(hall);
  const base = `/cases/${caseNumber}/tasks/${ITEM}/urgings`;
  const notSupervisor = await hall.call('POST', base, 'dev-officer-hrss', {
    message: '请尽快办理',
    replyBy: new Date(Date.now() + 60_000).toISOString(),
  });
  t.is(notSupervisor.status, 403);

  const answered = await hall.call('POST', base, 'dev-supervisor', {
    message: '该件已超法定时限，请说明原因',
    replyBy: new Date(Date.now() + 60_000).toISOString(),
  });
  t.is(answered.status, 201);
  const reply = await hall.call(
    'POST',
    `${base}/${answered.body.urging.id}/reply`,
    'dev-officer-hrss',
    {
      message: '已安排现场核查，三日内办结',
    },
  );
  t.is(reply.body.urging.status, 'replied');

  const silent = await hall.call('POST', base, 'dev-supervisor', {
    message: '请于两秒内答复',
    replyBy: new Date(Date.now() + 2_000).toISOString(),
  });
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.timeline.some((e: { action: string }) => e.action === 'urgingEscalated'),
  );
  const escalations = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'urgingEscalated',
  );
  t.is(escalations.length, 1);
  t.is(escalations[0].details.urgingId, silent.body.urging.id);
  const late = await hall.call(
    'POST',
    `${base}/${silent.body.urging.id}/reply`,
    'dev-officer-hrss',
    {
      message: '迟复',
    },
  );
  t.is(late.status, 409);
});

test('closing the hall on 2026-10-20 re-arms running clocks: day 20 moves to 11-02', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await takeOverLabourDispatch(hall);
  await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.status === 'open',
  );
  const noReason = await hall.call('POST', '/calendar/overrides', 'dev-admin', {
    date: '2026-10-20',
    kind: 'closed',
    reason: '',
  });
  t.is(noReason.status, 422);
  const notAdmin = await hall.call('POST', '/calendar/overrides', 'dev-supervisor', {
    date: '2026-10-20',
    kind: 'closed',
    reason: '台风停止办公',
  });
  t.is(notAdmin.status, 403);

  const added = await hall.call('POST', '/calendar/overrides', 'dev-admin', {
    date: '2026-10-20',
    kind: 'closed',
    reason: '台风停止办公',
  });
  // Answered at once; a re-arm workflow tells the running clocks (test/calendarRearm.test.ts).
  t.is(added.status, 202);
  t.regex(added.body.rearm.id, /^calendar-rearm-/);
  // 10-20 (Tue) no longer counts: day 20 moves from Fri 10-30 to Mon 11-02; the promised day
  // (10-16) lies before the closure and stays.
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.tasks[0]?.statutoryDueAt === endOf('2026-11-02'),
  );
  t.is(detail.body.tasks[0].promisedDueAt, endOf('2026-10-16'));
  t.is(detail.body.case.statutoryDueAt, endOf('2026-11-02'));
  const recomputed = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'clockRecomputed',
  );
  t.is(recomputed.length, 1);
  const due = await hall.call('GET', '/calendar/due?from=2026-09-28&days=20', 'dev-supervisor');
  t.is(due.body.dueDate, '2026-11-02');
});

test('an application undecided 5 working days is accepted from receipt (art. 32)', async (t) => {
  const hall = await startTestHall(t);
  // Received Friday 2026-11-20 10:00 and never decided: 11-23..27 are its 5 working days, so
  // by law it was accepted on 11-20 when 11-27 ended.
  const created = await hall.call('POST', '/cases', CLERK, {
    item: ITEM,
    applicant: buildCompany(),
    materials: ['application-form'],
    receivedAt: '2026-11-20T10:00:00+08:00',
  });
  const caseNumber: string = created.body.case.caseNumber;
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.timeline.some((e: { action: string }) => e.action === 'supervisorsWarned'),
  );
  t.is(detail.body.case.status, 'accepted');
  t.is(detail.body.case.acceptedAt, '2026-11-20T02:00:00.000Z');
  const lapse = detail.body.timeline.find((e: { action: string }) => e.action === 'acceptedByLaw');
  t.like(lapse, { actor: 'onedoor', actorRole: 'system' });
  const warned = detail.body.timeline.find(
    (e: { action: string }) => e.action === 'supervisorsWarned',
  );
  t.like(warned.details, { reason: 'intakeLapsed', lapsedAt: endOf('2026-11-27') });
  const late = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  t.is(late.status, 409);
});

test('the head of government, not of an organ, extends a joint case’s whole limit', async (t) => {
  const hall = await startTestHall(t);
  const created = await hall.call('POST', '/cases', 'dev-clerk-market', {
    item: 'joint-open-restaurant',
    applicant: buildCompany(),
    materials: ['joint-application-form'],
    receivedAt: '2026-09-28T10:00:00+08:00',
  });
  const caseNumber: string = created.body.case.caseNumber;
  const accepted = await hall.call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-market', {
    decision: 'accept',
  });
  // 45 working days from 09-28: day 20 is 10-30 (see test/clock.test.ts); 11-02..27 are days
  // 21-40, 11-30..12-04 days 41-45.
  t.is(accepted.body.case.statutoryDueAt, endOf('2026-12-04'));
  const byOrgan = await hall.call('POST', `/cases/${caseNumber}/extension`, 'dev-head-market', {
    days: 15,
    reason: '涉及部门多',
  });
  t.is(byOrgan.status, 403);
  const tooLong = await hall.call('POST', `/cases/${caseNumber}/extension`, 'dev-head-government', {
    days: 16,
    reason: '涉及部门多',
  });
  t.is(tooLong.status, 422);
  const extended = await hall.call(
    'POST',
    `/cases/${caseNumber}/extension`,
    'dev-head-government',
    {
      days: 15,
      reason: '涉及部门多，需联合踏勘',
    },
  );
  t.is(extended.status, 200);
  // 15 more working days: 12-07..11 (46-50), 12-14..18 (51-55), 12-21..25 (56-60).
  t.is(extended.body.clock.statutoryDueAt, endOf('2026-12-25'));
});
