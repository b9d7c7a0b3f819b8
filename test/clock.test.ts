/**
 * The clock of a case as the calendar activity computes it, on the hand-counted cases of the
 * 2026 arrangement. Every date below was counted on the calendar by hand:
 * - From 2026-09-28 (Mon, day 0): 09-29, 09-30 are days 1-2; 10-01..07 are off (National Day);
 *   10-08 (Thu) 3, 10-09 (Fri) 4, 10-10 (Sat, make-up day) 5, 10-12..16 6-10, 10-19..23 11-15,
 *   10-26..30 16-20. So 5 working days end on 10-10 and 20 on 10-30.
 * - 10 more: 11-02..06 21-25, 11-09..13 26-30 → 11-13.
 * - Suspended 10-12..16: those five are not counted, so day 20 moves five on → 11-06.
 * - From 2026-02-13 (Fri): 02-14 (Sat, make-up) 1; 02-15..23 off; 02-24..27 2-5; 02-28 (Sat,
 *   make-up) 6; 03-02..06 7-11; 03-09..13 12-16; 03-16..19 17-20 → 03-19.
 * The due moment is the end of the day in Asia/Shanghai: 23:59:59.999 +08:00 = 15:59:59.999Z.
 * This file also runs under TZ=UTC and TZ=America/New_York (lib/calendar/due.test.ts).
 */
import test from 'ava';
import { createCalendarActivities } from '../activities/calendar';
import { SnapshotCalendar } from '../activities/calendarService';

const endOf = (date: string) => `${date}T15:59:59.999Z`;
const twenty = { days: 20, unit: 'workingDays' as const };
const five = { days: 5, unit: 'workingDays' as const };

function activities() {
  return createCalendarActivities(new SnapshotCalendar());
}

test('accepted 2026-09-28 with 20 working days is due at the end of 2026-10-30', async (t) => {
  const due = await activities().computeClock({
    start: '2026-09-28T10:00:00+08:00',
    statutoryLimit: twenty,
    promisedLimit: five,
  });
  t.is(due.statutoryDueAt, endOf('2026-10-30'));
  t.false(due.provisional);
});

test('promised 5 working days from 2026-09-28: due 10-10, reminder end of 10-09', async (t) => {
  const due = await activities().computeClock({
    start: '2026-09-28T10:00:00+08:00',
    statutoryLimit: twenty,
    promisedLimit: five,
    reminderDays: 1,
  });
  t.is(due.promisedDueAt, endOf('2026-10-10'));
  t.is(due.reminderAt, endOf('2026-10-09'));
});

test('the same clock extended by 10 working days is due at the end of 2026-11-13', async (t) => {
  const due = await activities().computeClock({
    start: '2026-09-28T10:00:00+08:00',
    statutoryLimit: { days: 30, unit: 'workingDays' },
    promisedLimit: five,
  });
  t.is(due.statutoryDueAt, endOf('2026-11-13'));
});

test('an expert review suspending 2026-10-12..16 moves the due day to 2026-11-06', async (t) => {
  const due = await activities().computeClock({
    start: '2026-09-28T10:00:00+08:00',
    statutoryLimit: twenty,
    promisedLimit: five,
    // Instants inside the first and the last suspended day, as the workflow records them.
    suspensions: [{ from: '2026-10-12T09:30:00+08:00', to: '2026-10-16T16:00:00+08:00' }],
  });
  t.is(due.statutoryDueAt, endOf('2026-11-06'));
});

test('an open suspension leaves the clock without due moments until it resumes', async (t) => {
  const due = await activities().computeClock({
    start: '2026-09-28T10:00:00+08:00',
    statutoryLimit: twenty,
    promisedLimit: five,
    suspensions: [{ from: '2026-10-12T09:30:00+08:00', to: null }],
  });
  t.true(due.suspended);
  t.is(due.statutoryDueAt, undefined);
});

test('corrected 2026-02-13, 20 working days are due at the end of 2026-03-19', async (t) => {
  const due = await activities().computeClock({
    start: '2026-02-13T16:00:00+08:00',
    statutoryLimit: twenty,
    promisedLimit: five,
  });
  t.is(due.statutoryDueAt, endOf('2026-03-19'));
});

test('the art. 32 correction window of 5 working days from 2026-09-28 ends 10-10', async (t) => {
  const { dueAt } = await activities().computeDeadline({
    start: '2026-09-28T10:00:00+08:00',
    limit: five,
  });
  t.is(dueAt, endOf('2026-10-10'));
});

test('a start late in the evening in Shanghai still counts from that Shanghai day', async (t) => {
  // 2026-09-28 23:30 in Shanghai is 15:30Z: still day 0 = 09-28 there, whatever the server TZ.
  const due = await activities().computeClock({
    start: '2026-09-28T15:30:00Z',
    statutoryLimit: twenty,
    promisedLimit: five,
  });
  t.is(due.statutoryDueAt, endOf('2026-10-30'));
});
