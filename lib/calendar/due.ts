// Statutory time limits: counting working or calendar days from an instant to a due moment.
//
// The law counts in whole days of the hall's local calendar:
// - LLA art. 82: the time limits of the Administrative Licensing Law are counted in working days,
//   statutory holidays excluded (so the State Council's make-up days count as working days).
// - Civil Code art. 201: the day the period starts is not counted; counting begins the next day.
// - Civil Code art. 203: if the last day is a statutory rest day, the period ends on the day after
//   the rest ends; the last day ends at 24:00.
// - LLA art. 45: time needed for hearings, tenders, testing, expert review and the like is not
//   counted in the limit; callers pass those periods as suspensions. (After a correction, LLA
//   art. 32, the clock starts afresh: callers pass the completion moment as `start`.)
// Pure module (no I/O, no clock, no environment), safe for Temporal's workflow sandbox.
import {
  type CalendarSource,
  type CalendarIndex,
  type DayKind,
  type IsoDate,
  dayNumber,
  dayStatus,
  STATUS_LAYOUT,
  indexSnapshot,
  indexedDayString,
  statusIsProvisional,
  statusIsWorking,
  statusKind,
} from './snapshot';

/** The hall's time zone: all dates of the statutory calendar are days in this zone. */
export const HALL_TIME_ZONE = 'Asia/Shanghai';

/**
 * How a time limit is expressed: working days (LLA art. 82) or calendar days (Civil Code
 * art. 203).
 */
export type DueUnit = 'workingDays' | 'calendarDays';

/** An inclusive range of dates during which the clock stops; `to: null` means it has not ended. */
export interface Suspension {
  from: IsoDate;
  to: IsoDate | null;
}

/** What computeDue needs: when the clock started, how long the limit is, and the suspensions. */
export interface DueInput {
  /** The instant the clock started (acceptance, receipt, completion of a correction...). */
  start: Date;
  days: number;
  unit: DueUnit;
  suspensions?: readonly Suspension[];
}

/** Why a date was not counted. */
export type SkipReason = 'weekend' | 'holiday' | 'closed' | 'suspended';

/** A date passed over while counting, with the reason. */
export interface SkippedDay {
  date: IsoDate;
  why: SkipReason;
}

/** The fields shared by running and suspended results. */
export interface DueCommon {
  /** The start day (day 0) in the hall's zone. */
  startDate: IsoDate;
  /** True when a date examined lies in a year whose arrangement is not yet published. */
  provisional: boolean;
  /** Those unpublished years, ascending. */
  provisionalYears: number[];
  /** The dates counted, in order (day 1, day 2, ...). */
  countedDays: IsoDate[];
  /** The dates passed over between the start day and the due day, in order. */
  skipped: SkippedDay[];
  /** Version of the calendar snapshot used, for the audit trail. */
  calendarVersion: string;
}

/** A due moment that is known: the clock is running or the period has elapsed. */
export interface DueRunning extends DueCommon {
  suspended: false;
  /** The last millisecond of the due day in the hall's zone (the day "ends at 24:00"). */
  dueAt: Date;
  dueDate: IsoDate;
}

/** The clock is stopped by an open-ended suspension, so there is no due moment yet. */
export interface DueSuspended extends DueCommon {
  suspended: true;
  dueAt: null;
  dueDate: null;
  /** First day of the open-ended suspension. */
  suspendedSince: IsoDate;
  /** Days still to count once the suspension ends. */
  remainingDays: number;
}

/** The result of computeDue. */
export type DueResult = DueRunning | DueSuspended;

/** A warning moment: the end of the working day that many working days before the due day. */
export interface WarningMoment {
  workingDaysBefore: number;
  date: IsoDate;
  at: Date;
}

const DAY_MS = 86_400_000;
// Longer limits do not exist in the catalog; the bound keeps a typo from looping for minutes.
const MAX_DAYS = 10_000;

// ---------------------------------------------------------------------------------------------
// Time zones. Only the conversion between an instant and a local calendar day is needed.

// China has observed no daylight saving time since it ended on 1991-09-15 (tz database), so from
// 1992 on Asia/Shanghai is a constant UTC+08:00: the fast path is exact, and earlier instants go
// through Intl, which knows the 1986-1991 rules.
const FIXED_OFFSET_ZONES = new Set(['Asia/Shanghai', 'PRC']);
const FIXED_OFFSET_MS = 8 * 3_600_000;
const FIXED_FROM_DAY = Date.UTC(1992, 0, 1) / DAY_MS;
const FIXED_FROM_MS = FIXED_FROM_DAY * DAY_MS - FIXED_OFFSET_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();
const dayStarts = new Map<string, Map<number, number>>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch {
      throw new RangeError(`unknown time zone: ${timeZone}`);
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

// The zone's wall-clock reading at an instant, expressed as milliseconds as if it were UTC.
function wallClockMs(ms: number, timeZone: string): number {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'second') second = Number(part.value);
  }
  const millis = ((ms % 1000) + 1000) % 1000;
  return Date.UTC(year, month - 1, day, hour, minute, second) + millis;
}

function localDay(ms: number, timeZone: string): number {
  if (FIXED_OFFSET_ZONES.has(timeZone) && ms >= FIXED_FROM_MS) {
    return Math.floor((ms + FIXED_OFFSET_MS) / DAY_MS);
  }
  return Math.floor(wallClockMs(ms, timeZone) / DAY_MS);
}

// The first instant of a local day (local midnight, or the end of a gap if midnight is skipped).
function dayStartMs(day: number, timeZone: string): number {
  if (FIXED_OFFSET_ZONES.has(timeZone) && day >= FIXED_FROM_DAY) {
    return day * DAY_MS - FIXED_OFFSET_MS;
  }
  let cache = dayStarts.get(timeZone);
  if (!cache) {
    formatterFor(timeZone);
    cache = new Map();
    dayStarts.set(timeZone, cache);
  }
  const cached = cache.get(day);
  if (cached !== undefined) return cached;
  const wall = day * DAY_MS;
  // Two rounds settle the offset unless a transition sits right at midnight.
  let t = wall - (wallClockMs(wall, timeZone) - wall);
  t = wall - (wallClockMs(t, timeZone) - t);
  if (!(localDay(t, timeZone) === day && localDay(t - 1, timeZone) < day)) {
    // Midnight does not exist that day (a forward jump at 00:00): search the first instant of
    // the day. UTC offsets stay within ±14 h, so the day starts inside this window.
    let lo = wall - 26 * 3_600_000;
    let hi = wall + 26 * 3_600_000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (localDay(mid, timeZone) >= day) hi = mid;
      else lo = mid;
    }
    t = hi;
  }
  cache.set(day, t);
  return t;
}

function checkInstant(instant: Date, what: string): number {
  const ms = instant instanceof Date ? instant.getTime() : NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} must be a valid Date`);
  return ms;
}

/** The calendar date of an instant in a time zone (the hall's by default). */
export function dateInZone(instant: Date, timeZone: string = HALL_TIME_ZONE): IsoDate {
  const day = localDay(checkInstant(instant, 'instant'), timeZone);
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The first instant of a date in a time zone (local midnight). */
export function startOfDayInZone(date: IsoDate, timeZone: string = HALL_TIME_ZONE): Date {
  return new Date(dayStartMs(dayNumber(date), timeZone));
}

/** The last millisecond of a date in a time zone: next local midnight minus 1 ms. */
export function endOfDayInZone(date: IsoDate, timeZone: string = HALL_TIME_ZONE): Date {
  return new Date(dayStartMs(dayNumber(date) + 1, timeZone) - 1);
}

// ---------------------------------------------------------------------------------------------
// Counting.

interface SuspensionRange {
  from: number;
  to: number;
  fromDate: IsoDate;
}

function parseSuspensions(suspensions: readonly Suspension[] | undefined): SuspensionRange[] {
  if (suspensions === undefined) return [];
  if (!Array.isArray(suspensions)) throw new TypeError('suspensions must be an array');
  return suspensions.map((s) => {
    if (s === null || typeof s !== 'object') throw new TypeError('a suspension must be an object');
    const from = dayNumber(s.from);
    const to = s.to === null ? Infinity : dayNumber(s.to);
    if (to < from) throw new RangeError(`suspension ends before it starts: ${s.from}/${s.to}`);
    return { from, to, fromDate: s.from };
  });
}

function suspensionOn(
  ranges: readonly SuspensionRange[],
  day: number,
): SuspensionRange | undefined {
  for (const range of ranges) if (day >= range.from && day <= range.to) return range;
  return undefined;
}

function restReason(kind: DayKind): SkipReason {
  return kind === 'closed' ? 'closed' : kind === 'holiday' ? 'holiday' : 'weekend';
}

// Read once at load: the hot loop below tests status bits without calling into snapshot.ts.
const {
  kindMask: KIND_MASK,
  provisionalBit: PROVISIONAL_BIT,
  firstRestCode: FIRST_REST,
} = STATUS_LAYOUT;

// The running state of one count; plain functions over it keep computeDue free of per-call
// closures, which matters when ten thousand cases are recomputed after a calendar change.
interface Tally {
  index: CalendarIndex;
  startDay: number;
  days: number;
  countedDays: IsoDate[];
  skipped: SkippedDay[];
  provisionalYears: number[];
}

// Every date examined after day 0 can change the result, so any of them being in an
// unpublished year makes the result provisional.
function examine(tally: Tally, day: number): number {
  const { index } = tally;
  const i = day - index.firstDay;
  const status = i >= 0 && i < index.status.length ? index.status[i] : dayStatus(index, day);
  if ((status & PROVISIONAL_BIT) !== 0) {
    const year = Number(indexedDayString(index, day).slice(0, 4));
    if (!tally.provisionalYears.includes(year)) tally.provisionalYears.push(year);
  }
  return status;
}

function isWorkingStatus(status: number): boolean {
  return (status & KIND_MASK) < FIRST_REST;
}

function dateOf(index: CalendarIndex, day: number): IsoDate {
  const i = day - index.firstDay;
  return i >= 0 && i < index.dates.length ? index.dates[i] : indexedDayString(index, day);
}

function commonOf(tally: Tally): DueCommon {
  const years = tally.provisionalYears.sort((a, b) => a - b);
  return {
    startDate: dateOf(tally.index, tally.startDay),
    provisional: years.length > 0,
    provisionalYears: years,
    countedDays: tally.countedDays,
    skipped: tally.skipped,
    calendarVersion: tally.index.snapshot.version,
  };
}

function stoppedBy(tally: Tally, range: SuspensionRange): DueSuspended {
  return {
    ...commonOf(tally),
    suspended: true,
    dueAt: null,
    dueDate: null,
    suspendedSince: range.fromDate,
    remainingDays: tally.days - tally.countedDays.length,
  };
}

/**
 * Computes when a statutory time limit falls due.
 *
 * The start day (the date of `start` in `timeZone`) is day 0 and is never counted (Civil Code
 * art. 201); `days: 0` makes the limit due at the end of the start day itself (on-the-spot items).
 * Working-day limits count only working days, make-up days included (LLA art. 82). Calendar-day
 * limits count every day, and if the last one is a rest day the period ends at the end of the next
 * working day (Civil Code art. 203). Suspended dates are counted in neither unit. The due moment is
 * the last millisecond of the due day in `timeZone` (for Asia/Shanghai, dueDate T15:59:59.999Z).
 */
export function computeDue(
  source: CalendarSource,
  input: DueInput,
  timeZone: string = HALL_TIME_ZONE,
): DueResult {
  const index = indexSnapshot(source);
  const startMs = checkInstant(input.start, 'start');
  const { days, unit } = input;
  if (!Number.isInteger(days) || days < 0 || days > MAX_DAYS) {
    throw new RangeError(`days must be a whole number from 0 to ${MAX_DAYS}, not ${String(days)}`);
  }
  if (unit !== 'workingDays' && unit !== 'calendarDays') {
    throw new RangeError(`unit must be 'workingDays' or 'calendarDays', not ${String(unit)}`);
  }
  const ranges = parseSuspensions(input.suspensions);
  const startDay = localDay(startMs, timeZone);
  const tally: Tally = {
    index,
    startDay,
    days,
    countedDays: [],
    skipped: [],
    provisionalYears: [],
  };
  const { countedDays, skipped } = tally;

  let day = startDay;
  while (countedDays.length < days) {
    day++;
    const status = examine(tally, day);
    if (unit === 'workingDays' && !isWorkingStatus(status)) {
      // A rest day inside a suspension is reported as the rest day: it would not count anyway.
      skipped.push({ date: dateOf(index, day), why: restReason(statusKind(status)) });
      continue;
    }
    const suspension = ranges.length > 0 ? suspensionOn(ranges, day) : undefined;
    if (suspension) {
      if (suspension.to === Infinity) return stoppedBy(tally, suspension);
      skipped.push({ date: dateOf(index, day), why: 'suspended' });
      continue;
    }
    countedDays.push(dateOf(index, day));
  }

  if (unit === 'calendarDays' && days > 0 && !isWorkingStatus(examine(tally, day))) {
    // Civil Code art. 203: a period whose last day is a rest day ends on the next working day.
    // The day it moves to must itself be countable, so suspended days are passed over as well.
    for (;;) {
      day++;
      const status = examine(tally, day);
      if (!isWorkingStatus(status)) {
        skipped.push({ date: dateOf(index, day), why: restReason(statusKind(status)) });
        continue;
      }
      const suspension = ranges.length > 0 ? suspensionOn(ranges, day) : undefined;
      if (!suspension) break;
      if (suspension.to === Infinity) return stoppedBy(tally, suspension);
      skipped.push({ date: dateOf(index, day), why: 'suspended' });
    }
  }

  return {
    ...commonOf(tally),
    suspended: false,
    dueAt: new Date(dayStartMs(day + 1, timeZone) - 1),
    dueDate: dateOf(index, day),
  };
}

/**
 * Whether a date is a working day: make-up days and hall openings are, rest days and closures
 * are not.
 */
export function isWorkingDay(source: CalendarSource, date: IsoDate): boolean {
  return statusIsWorking(dayStatus(indexSnapshot(source), dayNumber(date)));
}

/** What a date is in the calendar, and whether that is still provisional. */
export function describeDay(
  source: CalendarSource,
  date: IsoDate,
): { date: IsoDate; kind: DayKind; working: boolean; provisional: boolean } {
  const status = dayStatus(indexSnapshot(source), dayNumber(date));
  return {
    date,
    kind: statusKind(status),
    working: statusIsWorking(status),
    provisional: statusIsProvisional(status),
  };
}

/** The n-th working day after a date (n > 0), before it (n < 0), or the date itself (n = 0). */
export function addWorkingDays(source: CalendarSource, date: IsoDate, n: number): IsoDate {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_DAYS) {
    throw new RangeError(`n must be a whole number within ±${MAX_DAYS}, not ${String(n)}`);
  }
  const index = indexSnapshot(source);
  let day = dayNumber(date);
  const step = n < 0 ? -1 : 1;
  for (let left = Math.abs(n); left > 0;) {
    day += step;
    if (statusIsWorking(dayStatus(index, day))) left--;
  }
  return indexedDayString(index, day);
}

// Working days in the half-open range (a, b] for a <= b.
function workingDaysAfter(index: CalendarIndex, a: number, b: number): number {
  const i = a + 1 - index.firstDay;
  const j = b + 1 - index.firstDay;
  if (i >= 0 && j <= index.status.length) return index.workingBefore[j] - index.workingBefore[i];
  let count = 0;
  for (let day = a + 1; day <= b; day++) if (statusIsWorking(dayStatus(index, day))) count++;
  return count;
}

/**
 * Working days after `fromDate` up to and including `toDate` (negative if `toDate` is earlier):
 * with the due date and today, the number of working days overdue.
 */
export function workingDaysBetween(
  source: CalendarSource,
  fromDate: IsoDate,
  toDate: IsoDate,
): number {
  const index = indexSnapshot(source);
  const from = dayNumber(fromDate);
  const to = dayNumber(toDate);
  return to >= from ? workingDaysAfter(index, from, to) : -workingDaysAfter(index, to, from);
}

/**
 * For each count N, the end of the working day N working days before the day of `dueAt` (N = 0
 * gives the end of the due day itself): when to warn the clerk that a limit is coming up.
 */
export function warningMoments(
  source: CalendarSource,
  dueAt: Date,
  workingDaysBefore: readonly number[],
  timeZone: string = HALL_TIME_ZONE,
): WarningMoment[] {
  const dueDate = dateInZone(dueAt, timeZone);
  return workingDaysBefore.map((n) => {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`working days before must be a whole number ≥ 0, not ${String(n)}`);
    }
    const date = addWorkingDays(source, dueDate, -n);
    return { workingDaysBefore: n, date, at: endOfDayInZone(date, timeZone) };
  });
}
