// Due dates counted by hand on the State Council's 2026 arrangement (see data/README.md):
// New Year 01-01..03 off, 01-04 (Sun) worked; Spring Festival 02-15..23 off, 02-14 and 02-28
// (Sat) worked; Qingming 04-04..06; Labour Day 05-01..05 off, 05-09 (Sat) worked; Dragon Boat
// 06-19..21; Mid-Autumn 09-25..27; National Day 10-01..07 off, 09-20 (Sun) and 10-10 (Sat) worked.
//
// The whole file (and cli/due.test.ts) is run again in child processes with TZ set to
// Asia/Shanghai, UTC and America/New_York (the last tests below): the results must not depend
// on the server's zone, and spawning from here makes the one test command cover all three.
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  type CalendarOverride,
  type CalendarSource,
  addWorkingDays,
  buildSnapshotFromChineseDays,
  computeDue,
  createSnapshot,
  dateInZone,
  describeDay,
  endOfDayInZone,
  indexSnapshot,
  isWorkingDay,
  parseSnapshot,
  startOfDayInZone,
  warningMoments,
  workingDaysBetween,
  type DueInput,
  type DueResult,
} from './index';

const snapshot = buildSnapshotFromChineseDays();

// Accepted at the counter mid-morning, Beijing time.
const acceptedAt = (date: string) => new Date(`${date}T09:30:00+08:00`);

function due(
  input: Partial<DueInput> & { from: string },
  source: CalendarSource = snapshot,
): DueResult {
  const { from, ...rest } = input;
  return computeDue(source, { start: acceptedAt(from), days: 20, unit: 'workingDays', ...rest });
}

function dueDate(
  input: Partial<DueInput> & { from: string },
  source: CalendarSource = snapshot,
): string | null {
  return due(input, source).dueDate;
}

const closed = (date: string): CalendarOverride => ({
  date,
  kind: 'closed',
  reason: 'hall closed for electrical works',
  author: 'admin.wang',
});

// --- Working days (LLA art. 82) ---------------------------------------------------------------

test('20 working days from an acceptance on 2026-09-28 fall due on 2026-10-30', (t) => {
  // Counted by hand. 09-28 (Mon) is day 0.
  //  1 09-29 Tue   2 09-30 Wed   [10-01..10-07 National Day]   3 10-08 Thu   4 10-09 Fri
  //  5 10-10 Sat (make-up day)   [10-11 Sun]
  //  6 10-12 Mon   7 10-13   8 10-14   9 10-15  10 10-16 Fri   [10-17, 10-18 weekend]
  // 11 10-19 Mon  12 10-20  13 10-21  14 10-22  15 10-23 Fri   [10-24, 10-25 weekend]
  // 16 10-26 Mon  17 10-27  18 10-28  19 10-29  20 10-30 Fri
  t.is(dueDate({ from: '2026-09-28' }), '2026-10-30');
});

test('a 10-day extension of the same limit moves the due date to 2026-11-13', (t) => {
  t.is(dueDate({ from: '2026-09-28', days: 30 }), '2026-11-13');
});

test('a suspension 2026-10-12 to 10-16 inclusive moves the due date to 2026-11-06', (t) => {
  const result = due({
    from: '2026-09-28',
    suspensions: [{ from: '2026-10-12', to: '2026-10-16' }],
  });
  t.is(result.dueDate, '2026-11-06');
  t.deepEqual(
    result.skipped.filter((s) => s.why === 'suspended').map((s) => s.date),
    ['2026-10-12', '2026-10-13', '2026-10-14', '2026-10-15', '2026-10-16'],
  );
});

test('20 working days from a correction completed on 2026-02-13 fall due on 2026-03-19', (t) => {
  t.is(dueDate({ from: '2026-02-13' }), '2026-03-19');
});

test('5 working days from 2026-09-28 end on the make-up Saturday 2026-10-10', (t) => {
  t.is(dueDate({ from: '2026-09-28', days: 5 }), '2026-10-10');
});

test('the working day before the make-up Saturday 2026-10-10 is 2026-10-09', (t) => {
  t.is(addWorkingDays(snapshot, '2026-10-10', -1), '2026-10-09');
});

test('the counted days are listed in order and include the make-up day', (t) => {
  const result = due({ from: '2026-09-28' });
  t.is(result.countedDays.length, 20);
  t.deepEqual(result.countedDays.slice(0, 6), [
    '2026-09-29',
    '2026-09-30',
    '2026-10-08',
    '2026-10-09',
    '2026-10-10',
    '2026-10-12',
  ]);
  t.is(result.countedDays[19], '2026-10-30');
});

test('the skipped days say whether they were a holiday or a weekend', (t) => {
  const result = due({ from: '2026-09-28', days: 6 });
  t.deepEqual(result.skipped, [
    { date: '2026-10-01', why: 'holiday' },
    { date: '2026-10-02', why: 'holiday' },
    { date: '2026-10-03', why: 'holiday' },
    { date: '2026-10-04', why: 'holiday' },
    { date: '2026-10-05', why: 'holiday' },
    { date: '2026-10-06', why: 'holiday' },
    { date: '2026-10-07', why: 'holiday' },
    { date: '2026-10-11', why: 'weekend' },
  ]);
});

test('a rest day inside a suspension is reported as the rest day', (t) => {
  const result = due({
    from: '2026-10-09',
    days: 2,
    suspensions: [{ from: '2026-10-10', to: '2026-10-11' }],
  });
  t.deepEqual(result.skipped, [
    { date: '2026-10-10', why: 'suspended' },
    { date: '2026-10-11', why: 'weekend' },
  ]);
  t.is(result.dueDate, '2026-10-13');
});

test('zero days fall due at the end of the start day, even on a Sunday', (t) => {
  const result = due({ from: '2026-10-11', days: 0 });
  t.is(result.dueDate, '2026-10-11');
  t.is(result.dueAt?.toISOString(), '2026-10-11T15:59:59.999Z');
  t.deepEqual(result.countedDays, []);
});

// --- Calendar days (Civil Code art. 203) --------------------------------------------------------

test('5 calendar days ending on 2026-10-03 inside National Day move to 2026-10-08', (t) => {
  // 09-29 .. 10-03 are days 1..5; 10-03 is a holiday, the rest lasts to 10-07.
  const result = due({ from: '2026-09-28', days: 5, unit: 'calendarDays' });
  t.is(result.dueDate, '2026-10-08');
  t.is(result.countedDays.at(-1), '2026-10-03');
  t.deepEqual(
    result.skipped.map((s) => s.date),
    ['2026-10-04', '2026-10-05', '2026-10-06', '2026-10-07'],
  );
});

test('10 calendar days ending on the make-up Saturday 2026-10-10 stay there', (t) => {
  t.is(dueDate({ from: '2026-09-30', days: 10, unit: 'calendarDays' }), '2026-10-10');
});

test('10 calendar days ending on Sunday 2026-10-11 move to Monday 2026-10-12', (t) => {
  t.is(dueDate({ from: '2026-10-01', days: 10, unit: 'calendarDays' }), '2026-10-12');
});

test('7 calendar days ending inside the Spring Festival move to 2026-02-24', (t) => {
  // 02-11 .. 02-17 are days 1..7; 02-15..02-23 are off.
  t.is(dueDate({ from: '2026-02-10', days: 7, unit: 'calendarDays' }), '2026-02-24');
});

test('20 calendar days ending on Sunday 2026-10-18 move to 2026-10-19', (t) => {
  t.is(dueDate({ from: '2026-09-28', unit: 'calendarDays' }), '2026-10-19');
});

test('suspended days are not counted in calendar days either', (t) => {
  // 09-29..10-11 are days 1..13, 10-12..10-16 are suspended, 10-17..10-23 are days 14..20.
  const result = due({
    from: '2026-09-28',
    unit: 'calendarDays',
    suspensions: [{ from: '2026-10-12', to: '2026-10-16' }],
  });
  t.is(result.dueDate, '2026-10-23');
});

// --- Suspensions ---------------------------------------------------------------------------

test('an open-ended suspension leaves no due moment and says what remains', (t) => {
  const result = due({ from: '2026-09-28', suspensions: [{ from: '2026-10-12', to: null }] });
  t.true(result.suspended);
  t.is(result.dueAt, null);
  t.is(result.dueDate, null);
  if (result.suspended) {
    t.is(result.suspendedSince, '2026-10-12');
    t.is(result.remainingDays, 15);
  }
  t.is(result.countedDays.length, 5);
});

test('an open-ended suspension starting after the due day does not stop the clock', (t) => {
  const result = due({ from: '2026-09-28', suspensions: [{ from: '2026-11-02', to: null }] });
  t.false(result.suspended);
  t.is(result.dueDate, '2026-10-30');
});

test('several suspensions add up', (t) => {
  const result = due({
    from: '2026-09-28',
    suspensions: [
      { from: '2026-10-12', to: '2026-10-13' },
      { from: '2026-10-20', to: '2026-10-22' },
    ],
  });
  t.is(result.dueDate, '2026-11-06');
});

// --- Provisional years ------------------------------------------------------------------------

test('a due date in 2027 is flagged provisional', (t) => {
  // December 2026 has 22 working days after 12-01; 2027-01-01 (Fri) is New Year's Day; the
  // remaining 8 are 01-04..01-08 and 01-11..01-13.
  const result = due({ from: '2026-12-01', days: 30 });
  t.is(result.dueDate, '2027-01-13');
  t.true(result.provisional);
  t.deepEqual(result.provisionalYears, [2027]);
});

test('a due date in 2026 is not provisional', (t) => {
  const result = due({ from: '2026-09-28' });
  t.false(result.provisional);
  t.deepEqual(result.provisionalYears, []);
});

test('a provisional year rests only on National Day 10-01..10-03, not the usual week', (t) => {
  // 2027-10-01 Fri holiday, 10-02/10-03 weekend; 10-04..10-06 are working days 1..3.
  t.is(dueDate({ from: '2027-09-30', days: 3 }), '2027-10-06');
});

test('a provisional year rests on both Labour Day days 05-01 and 05-02', (t) => {
  // 2028-04-29/30 weekend, 05-01 Mon and 05-02 Tue holidays: the next working day is 05-03.
  t.is(dueDate({ from: '2028-04-28', days: 1 }), '2028-05-03');
});

test('a provisional year does not guess the lunar holidays', (t) => {
  // The 2027 Spring Festival falls on 02-06; without the notice 02-08 (Mon) counts as working.
  t.deepEqual(describeDay(snapshot, '2027-02-08'), {
    date: '2027-02-08',
    kind: 'working',
    working: true,
    provisional: true,
  });
});

test('a year left out of the published years is counted provisionally', (t) => {
  // Without 2026's notice: 10-01..10-03 off, 10-04 Sun off, 10-10 an ordinary Saturday.
  const unpublished = buildSnapshotFromChineseDays([], {
    publishedYears: snapshot.publishedYears.filter((year) => year !== 2026),
  });
  const result = due({ from: '2026-09-28' }, unpublished);
  t.is(result.dueDate, '2026-10-28');
  t.deepEqual(result.provisionalYears, [2026]);
});

// --- The hall's overrides ------------------------------------------------------------------

test('a hall closure on a working day pushes the due date by one working day', (t) => {
  const withClosure = buildSnapshotFromChineseDays([closed('2026-10-20')]);
  const result = due({ from: '2026-09-28' }, withClosure);
  t.is(result.dueDate, '2026-11-02');
  t.deepEqual(
    result.skipped.find((s) => s.date === '2026-10-20'),
    { date: '2026-10-20', why: 'closed' },
  );
});

test('a hall opening on a Sunday counts that Sunday', (t) => {
  const withOpening = buildSnapshotFromChineseDays([
    { date: '2026-10-11', kind: 'open', reason: 'backlog day', author: 'admin.wang' },
  ]);
  t.is(dueDate({ from: '2026-09-28' }, withOpening), '2026-10-29');
});

test('a hall closure wins over a State Council make-up day', (t) => {
  const withClosure = buildSnapshotFromChineseDays([closed('2026-10-10')]);
  t.false(isWorkingDay(withClosure, '2026-10-10'));
  t.is(describeDay(withClosure, '2026-10-10').kind, 'closed');
});

test('the later of two overrides for the same date wins', (t) => {
  const s = buildSnapshotFromChineseDays([
    closed('2026-10-20'),
    { date: '2026-10-20', kind: 'open', reason: 'works postponed', author: 'admin.li' },
  ]);
  t.is(s.overrides.length, 1);
  t.true(isWorkingDay(s, '2026-10-20'));
});

// --- Working-day helpers ----------------------------------------------------------------------

test('isWorkingDay counts make-up days and leaves out holidays and weekends', (t) => {
  t.true(isWorkingDay(snapshot, '2026-10-10'));
  t.true(isWorkingDay(snapshot, '2026-09-20'));
  t.false(isWorkingDay(snapshot, '2026-10-01'));
  t.false(isWorkingDay(snapshot, '2026-10-11'));
  t.true(isWorkingDay(snapshot, '2026-10-12'));
});

test('workingDaysBetween counts the working days after the due date up to today', (t) => {
  t.is(workingDaysBetween(snapshot, '2026-10-30', '2026-10-30'), 0);
  t.is(workingDaysBetween(snapshot, '2026-10-30', '2026-11-01'), 0);
  t.is(workingDaysBetween(snapshot, '2026-10-30', '2026-11-02'), 1);
  t.is(workingDaysBetween(snapshot, '2026-10-30', '2026-11-13'), 10);
  t.is(workingDaysBetween(snapshot, '2026-09-30', '2026-10-08'), 1);
});

test('workingDaysBetween is negative when today is before the due date', (t) => {
  t.is(workingDaysBetween(snapshot, '2026-10-30', '2026-09-28'), -20);
});

test('workingDaysBetween agrees with addWorkingDays beyond the precomputed years', (t) => {
  const later = addWorkingDays(snapshot, '2036-12-20', 40);
  t.is(workingDaysBetween(snapshot, '2036-12-20', later), 40);
});

test('addWorkingDays by zero returns the date itself', (t) => {
  t.is(addWorkingDays(snapshot, '2026-10-11', 0), '2026-10-11');
});

test('warning moments are the ends of the working days before the due day', (t) => {
  const { dueAt } = due({ from: '2026-09-28' });
  t.truthy(dueAt);
  const moments = warningMoments(snapshot, dueAt!, [0, 1, 5]);
  t.deepEqual(
    moments.map((m) => [m.workingDaysBefore, m.date, m.at.toISOString()]),
    [
      [0, '2026-10-30', '2026-10-30T15:59:59.999Z'],
      [1, '2026-10-29', '2026-10-29T15:59:59.999Z'],
      [5, '2026-10-23', '2026-10-23T15:59:59.999Z'],
    ],
  );
});

test('the warning one working day before the make-up Saturday is at the end of 2026-10-09', (t) => {
  const { dueAt } = due({ from: '2026-09-28', days: 5 });
  const [moment] = warningMoments(snapshot, dueAt!, [1]);
  t.is(moment.at.toISOString(), '2026-10-09T15:59:59.999Z');
});

// --- Instants and time zones ----------------------------------------------------------------

test('the due moment is the last millisecond of 2026-10-30 in Beijing', (t) => {
  const { dueAt } = due({ from: '2026-09-28' });
  t.is(dueAt?.toISOString(), '2026-10-30T15:59:59.999Z');
  t.is(dateInZone(dueAt!), '2026-10-30');
  t.is(dateInZone(new Date(dueAt!.getTime() + 1)), '2026-10-31');
});

test('a start just after midnight Beijing time counts from that Beijing day', (t) => {
  // 2026-09-27T16:30Z is 2026-09-28 00:30 in Beijing (still the 27th in UTC).
  const result = computeDue(snapshot, {
    start: new Date('2026-09-27T16:30:00Z'),
    days: 20,
    unit: 'workingDays',
  });
  t.is(result.startDate, '2026-09-28');
  t.is(result.dueDate, '2026-10-30');
});

test('a start at midnight Beijing time belongs to the new day', (t) => {
  const last = computeDue(snapshot, {
    start: new Date('2026-09-28T15:59:59.999Z'),
    days: 20,
    unit: 'workingDays',
  });
  const next = computeDue(snapshot, {
    start: new Date('2026-09-28T16:00:00Z'),
    days: 20,
    unit: 'workingDays',
  });
  t.is(last.startDate, '2026-09-28');
  t.is(next.startDate, '2026-09-29');
  t.is(next.dueDate, '2026-11-02');
});

test('another time zone can be given for the hall', (t) => {
  // 2026-09-27T20:00Z is Sunday 09-27 in UTC: day 1 is 09-28, so the 20th is 10-29.
  const result = computeDue(
    snapshot,
    { start: new Date('2026-09-27T20:00:00Z'), days: 20, unit: 'workingDays' },
    'UTC',
  );
  t.is(result.dueDate, '2026-10-29');
  t.is(result.dueAt?.toISOString(), '2026-10-29T23:59:59.999Z');
});

test('the fixed +08:00 fast path agrees with the time zone database from 1992 to 2100', (t) => {
  // Asia/Chongqing is a tz link to Asia/Shanghai that does not take the fast path.
  let mismatches = 0;
  for (let year = 1992; year <= 2100; year++) {
    for (const monthDay of ['-01-01', '-04-15', '-07-01', '-09-15', '-12-31']) {
      const date = `${year}${monthDay}`;
      const fast = endOfDayInZone(date, 'Asia/Shanghai').getTime();
      if (fast !== endOfDayInZone(date, 'Asia/Chongqing').getTime()) mismatches++;
      if (
        dateInZone(new Date(fast), 'Asia/Shanghai') !== dateInZone(new Date(fast), 'Asia/Chongqing')
      ) {
        mismatches++;
      }
    }
  }
  t.is(mismatches, 0);
});

test('days before 1992 use the 1986-1991 daylight saving rules of the time zone database', (t) => {
  t.is(endOfDayInZone('1988-07-01', 'Asia/Shanghai').toISOString(), '1988-07-01T14:59:59.999Z');
});

test('days end correctly across daylight saving changes in other zones', (t) => {
  t.is(endOfDayInZone('2026-03-08', 'America/New_York').toISOString(), '2026-03-09T03:59:59.999Z');
  t.is(endOfDayInZone('2026-11-01', 'America/New_York').toISOString(), '2026-11-02T04:59:59.999Z');
  // In Santiago clocks jump from 00:00 to 01:00 on 2026-09-06: that day starts at 01:00 local.
  t.is(
    startOfDayInZone('2026-09-06', 'America/Santiago').toISOString(),
    '2026-09-06T04:00:00.000Z',
  );
  t.is(endOfDayInZone('2026-09-05', 'America/Santiago').toISOString(), '2026-09-06T03:59:59.999Z');
});

// --- Snapshot --------------------------------------------------------------------------------

test('the chinese-days data has the 2026 make-up days of the State Council notice', (t) => {
  t.deepEqual(
    snapshot.workdays.filter((d) => d.startsWith('2026')),
    ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'],
  );
  t.is(snapshot.holidays.filter((d) => d.startsWith('2026')).length, 33);
  t.deepEqual(
    snapshot.publishedYears,
    Array.from({ length: 23 }, (_, i) => 2004 + i),
  );
});

test('a snapshot survives a JSON round trip with the same version and results', (t) => {
  const withClosure = buildSnapshotFromChineseDays([closed('2026-10-20')]);
  const back = parseSnapshot(JSON.parse(JSON.stringify(withClosure)));
  t.is(back.version, withClosure.version);
  t.deepEqual(back, withClosure);
  t.is(dueDate({ from: '2026-09-28' }, back), '2026-11-02');
});

test('a snapshot whose content was edited without a new version is refused', (t) => {
  const json = JSON.parse(JSON.stringify(snapshot));
  json.workdays = json.workdays.filter((d: string) => d !== '2026-10-10');
  t.throws(() => parseSnapshot(json), { instanceOf: RangeError, message: /does not match/ });
});

test('the version changes when an override is added and not otherwise', (t) => {
  t.is(buildSnapshotFromChineseDays().version, snapshot.version);
  t.not(buildSnapshotFromChineseDays([closed('2026-10-20')]).version, snapshot.version);
  t.regex(snapshot.version, /^cal-[0-9a-f]{12}$/);
});

test('holidays of a year that is not published are refused', (t) => {
  t.throws(
    () =>
      createSnapshot({
        source: 'test',
        publishedYears: [2026],
        holidays: ['2027-10-04'],
        workdays: [],
        overrides: [],
      }),
    { instanceOf: RangeError },
  );
});

test('an override needs a reason and an author', (t) => {
  t.throws(() => buildSnapshotFromChineseDays([{ ...closed('2026-10-20'), reason: ' ' }]), {
    instanceOf: RangeError,
  });
  t.throws(() => buildSnapshotFromChineseDays([{ ...closed('2026-10-20'), author: '' }]), {
    instanceOf: RangeError,
  });
});

test('the indexed form gives the same results as the plain snapshot', (t) => {
  const index = indexSnapshot(snapshot);
  t.deepEqual(due({ from: '2026-02-13' }, index), due({ from: '2026-02-13' }));
});

test('the precomputed date strings match the dates they stand for', (t) => {
  const index = indexSnapshot(snapshot);
  const wrong = index.dates.filter(
    (date, i) => date !== new Date((index.firstDay + i) * 86_400_000).toISOString().slice(0, 10),
  );
  t.deepEqual(wrong, []);
});

// --- Bad input -----------------------------------------------------------------------------------

test('a negative or fractional number of days is refused', (t) => {
  t.throws(() => due({ from: '2026-09-28', days: -1 }), { instanceOf: RangeError });
  t.throws(() => due({ from: '2026-09-28', days: 1.5 }), { instanceOf: RangeError });
});

test('an unknown unit is refused', (t) => {
  t.throws(() => due({ from: '2026-09-28', unit: 'weeks' as never }), { instanceOf: RangeError });
});

test('an impossible date is refused', (t) => {
  t.throws(() => isWorkingDay(snapshot, '2026-02-30'), { instanceOf: RangeError });
  t.throws(() => isWorkingDay(snapshot, '2026-9-1'), { instanceOf: RangeError });
});

test('a suspension that ends before it starts is refused', (t) => {
  t.throws(
    () => due({ from: '2026-09-28', suspensions: [{ from: '2026-10-16', to: '2026-10-12' }] }),
    {
      instanceOf: RangeError,
    },
  );
});

test('an invalid start instant is refused', (t) => {
  t.throws(() => computeDue(snapshot, { start: new Date('nope'), days: 1, unit: 'workingDays' }), {
    instanceOf: RangeError,
  });
});

test('an unknown time zone is refused', (t) => {
  t.throws(() => endOfDayInZone('2026-10-30', 'Mars/Olympus'), { instanceOf: RangeError });
});

// --- Performance and process time zones ----------------------------------------------------

const matrixChild = process.env.ONEDOOR_TZ_MATRIX_CHILD;

if (!matrixChild) {
  // Speed is measured by bench/calendar.ts (npm run bench), never by a timed test.
  const repo = path.resolve(__dirname, '..', '..');
  const avaCli = path.join(repo, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  const files = ['lib/calendar/due.test.ts', 'cli/due.test.ts', 'test/clock.test.ts'];

  for (const timeZone of ['Asia/Shanghai', 'UTC', 'America/New_York']) {
    test(`every calendar and CLI test also passes with TZ=${timeZone}`, async (t) => {
      const { code, output } = await new Promise<{ code: number | null; output: string }>(
        (resolve, reject) => {
          const child = spawn(process.execPath, [avaCli, ...files], {
            cwd: repo,
            env: { ...process.env, TZ: timeZone, ONEDOOR_TZ_MATRIX_CHILD: timeZone },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let output = '';
          child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
          child.on('error', reject);
          child.on('close', (exitCode) => resolve({ code: exitCode, output }));
        },
      );
      const summary = output.trim().split('\n').at(-1) ?? '';
      t.log(`TZ=${timeZone}: ${summary.trim()}`);
      t.is(code, 0, output);
      t.regex(output, /tests? passed/);
    });
  }
} else {
  test('the process runs in the time zone the parent asked for', (t) => {
    // getTimezoneOffset() uses the process zone: minutes behind UTC on 2026-07-01.
    const expected: Record<string, number> = {
      'Asia/Shanghai': -480,
      UTC: 0,
      'America/New_York': 240,
    };
    t.is(new Date('2026-07-01T12:00:00Z').getTimezoneOffset(), expected[matrixChild]);
  });
}
