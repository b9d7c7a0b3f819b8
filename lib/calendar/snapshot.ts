// The statutory calendar as data: which dates the hall counts as working days.
//
// Pure module (no I/O, no clock, no environment): it is imported by Temporal workflows, whose
// sandbox must replay deterministically, so everything here depends only on its arguments.
import chineseDaysData from 'chinese-days/dist/chinese-days.json';
import chineseDaysPackage from 'chinese-days/package.json';

/** A calendar date written 'YYYY-MM-DD', meaning that day in the hall's time zone. */
export type IsoDate = string;

/**
 * A hall's own decision about one date (a closure or a correction), which wins over the State
 * Council data.
 */
export interface CalendarOverride {
  date: IsoDate;
  kind: 'closed' | 'open';
  reason: string;
  author: string;
}

/** The plain, JSON-safe statutory calendar passed between activities and workflows. */
export interface CalendarSnapshot {
  /** Short hash of the content below: it changes whenever the data or the overrides change. */
  version: string;
  /** Where the State Council data came from, for the audit trail; not part of the hash. */
  source: string;
  /** Years whose State Council arrangement is known; any other year is provisional. */
  publishedYears: number[];
  /** Rest days of the published arrangements (including weekend days inside a holiday). */
  holidays: IsoDate[];
  /** Make-up working days on weekends (调休) of the published arrangements. */
  workdays: IsoDate[];
  /** The hall's closures and corrections, one per date, sorted by date. */
  overrides: CalendarOverride[];
}

/** Everything in a snapshot except its version, which is derived from the rest. */
export type SnapshotContent = Omit<CalendarSnapshot, 'version'>;

/** The shape of the data shipped by the `chinese-days` package (dist/chinese-days.json). */
export interface ChineseDaysData {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
}

/** Options for building a snapshot from `chinese-days`, mainly for tests and replaying old data. */
export interface BuildSnapshotOptions {
  /** Data to use instead of the installed package's. */
  data?: ChineseDaysData;
  /** Treat only these years as published (their entries are kept, the others dropped). */
  publishedYears?: number[];
  /** Label recorded in `source`. */
  source?: string;
}

/** What a date is in the calendar, after applying the hall's overrides. */
export type DayKind = 'working' | 'makeup' | 'open' | 'weekend' | 'holiday' | 'closed';

/**
 * Month-days that are statutory holidays every year, whatever the State Council's arrangement:
 * Regulations on National Annual Festivals and Memorial Days art. 2 as amended 2024 — New Year's
 * Day 1 day, Labour Day 2 days, National Day 3 days. The other festivals follow the lunar
 * calendar (Spring Festival 4 days, Qingming, Dragon Boat, Mid-Autumn) and are only known from
 * the yearly notice, so provisional years do not count them.
 */
export const FIXED_STATUTORY_HOLIDAYS: readonly string[] = Object.freeze([
  '01-01',
  '05-01',
  '05-02',
  '10-01',
  '10-02',
  '10-03',
]);

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a 'YYYY-MM-DD' date; throws a RangeError if it is not a real date. */
export function dayNumber(date: IsoDate): number {
  const match = typeof date === 'string' ? ISO_DATE.exec(date) : null;
  if (!match) throw new RangeError(`not a YYYY-MM-DD date: ${String(date)}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const ms = Date.UTC(year, month - 1, day);
  // Date.UTC silently rolls 02-30 over to 03-02; a round trip catches it.
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day
  ) {
    throw new RangeError(`not a real date: ${date}`);
  }
  return ms / DAY_MS;
}

/** The 'YYYY-MM-DD' form of a day number (days since 1970-01-01). */
export function dayString(day: number): IsoDate {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Whether a day number is a Saturday or a Sunday (1970-01-01 was a Thursday). */
export function isWeekendDay(day: number): boolean {
  const weekday = (((day + 4) % 7) + 7) % 7;
  return weekday === 0 || weekday === 6;
}

// 32-bit FNV-1a over the UTF-16 code units, with a chosen offset basis. The version is a change
// detector, not a security measure, and node:crypto is not available in the workflow sandbox.
function fnv1a(text: string, basis: number): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The version string of some snapshot content: 'cal-' and 12 hex digits of its hash. */
export function snapshotVersion(content: SnapshotContent): string {
  const canonical = JSON.stringify([
    content.publishedYears,
    content.holidays,
    content.workdays,
    content.overrides.map((o) => [o.date, o.kind, o.reason, o.author]),
  ]);
  const high = fnv1a(canonical, 0x811c9dc5).toString(16).padStart(8, '0');
  const low = fnv1a(canonical, 0x6a09e667).toString(16).padStart(8, '0');
  return `cal-${high}${low.slice(0, 4)}`;
}

function sortedUniqueDates(dates: readonly IsoDate[], what: string): IsoDate[] {
  if (!Array.isArray(dates)) throw new TypeError(`${what} must be an array of dates`);
  for (const date of dates) dayNumber(date);
  return [...new Set(dates)].sort();
}

function normaliseOverrides(overrides: readonly CalendarOverride[]): CalendarOverride[] {
  if (!Array.isArray(overrides)) throw new TypeError('overrides must be an array');
  // A later entry for the same date replaces an earlier one: the list reads as a log of decisions.
  const byDate = new Map<IsoDate, CalendarOverride>();
  for (const o of overrides) {
    if (o === null || typeof o !== 'object') throw new TypeError('an override must be an object');
    dayNumber(o.date);
    if (o.kind !== 'closed' && o.kind !== 'open') {
      throw new RangeError(`override ${o.date}: kind must be 'closed' or 'open'`);
    }
    // Every deviation from the State Council data must be accountable to a person and a reason.
    if (typeof o.reason !== 'string' || o.reason.trim() === '') {
      throw new RangeError(`override ${o.date}: a reason is required`);
    }
    if (typeof o.author !== 'string' || o.author.trim() === '') {
      throw new RangeError(`override ${o.date}: an author is required`);
    }
    byDate.set(o.date, { date: o.date, kind: o.kind, reason: o.reason, author: o.author });
  }
  return [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

function deepFreeze(snapshot: CalendarSnapshot): CalendarSnapshot {
  Object.freeze(snapshot.publishedYears);
  Object.freeze(snapshot.holidays);
  Object.freeze(snapshot.workdays);
  for (const o of snapshot.overrides) Object.freeze(o);
  Object.freeze(snapshot.overrides);
  return Object.freeze(snapshot);
}

/** Validates and normalises snapshot content (sorted, deduplicated) and stamps its version. */
export function createSnapshot(content: SnapshotContent): CalendarSnapshot {
  if (content === null || typeof content !== 'object') {
    throw new TypeError('snapshot content must be an object');
  }
  if (!Array.isArray(content.publishedYears))
    throw new TypeError('publishedYears must be an array');
  for (const year of content.publishedYears) {
    if (!Number.isInteger(year) || year < 1900 || year > 9999) {
      throw new RangeError(`not a plausible published year: ${String(year)}`);
    }
  }
  const publishedYears = [...new Set(content.publishedYears)].sort((a, b) => a - b);
  const published = new Set(publishedYears);
  const holidays = sortedUniqueDates(content.holidays, 'holidays');
  const workdays = sortedUniqueDates(content.workdays, 'workdays');
  const holidaySet = new Set(holidays);
  for (const date of [...holidays, ...workdays]) {
    // An entry for an unpublished year would make that year half-known: refuse it rather than
    // count some of its holidays and report the result as settled.
    if (!published.has(Number(date.slice(0, 4)))) {
      throw new RangeError(`${date} belongs to ${date.slice(0, 4)}, which is not a published year`);
    }
  }
  for (const date of workdays) {
    if (holidaySet.has(date)) throw new RangeError(`${date} is both a holiday and a make-up day`);
  }
  const normalised: SnapshotContent = {
    source: typeof content.source === 'string' ? content.source : 'unknown',
    publishedYears,
    holidays,
    workdays,
    overrides: normaliseOverrides(content.overrides ?? []),
  };
  return deepFreeze({ version: snapshotVersion(normalised), ...normalised });
}

/** Builds the snapshot from the State Council data of `chinese-days` and the hall's overrides. */
export function buildSnapshotFromChineseDays(
  overrides: readonly CalendarOverride[] = [],
  opts: BuildSnapshotOptions = {},
): CalendarSnapshot {
  const data: ChineseDaysData = opts.data ?? chineseDaysData;
  const holidayDates = Object.keys(data.holidays);
  const workdayDates = Object.keys(data.workdays);
  // The package adds a year only once the State Council notice is out, and every notice has
  // holidays, so the years present in `holidays` are the published ones.
  const years = opts.publishedYears ?? [
    ...new Set(holidayDates.map((date) => Number(date.slice(0, 4)))),
  ];
  const published = new Set(years);
  const inPublished = (date: string) => published.has(Number(date.slice(0, 4)));
  return createSnapshot({
    source: opts.source ?? (opts.data ? 'custom' : `chinese-days@${chineseDaysPackage.version}`),
    publishedYears: years,
    holidays: holidayDates.filter(inPublished),
    workdays: workdayDates.filter(inPublished),
    overrides: [...overrides],
  });
}

/**
 * Checks a value that went through JSON (a Temporal payload, a database column) and returns it
 * as a snapshot; throws if it is malformed or if its version does not match its content.
 */
export function parseSnapshot(value: unknown): CalendarSnapshot {
  if (value === null || typeof value !== 'object')
    throw new TypeError('a snapshot must be an object');
  const raw = value as Partial<CalendarSnapshot>;
  if (typeof raw.version !== 'string') throw new TypeError('a snapshot must carry its version');
  const snapshot = createSnapshot({
    source: raw.source as string,
    publishedYears: raw.publishedYears as number[],
    holidays: raw.holidays as string[],
    workdays: raw.workdays as string[],
    overrides: raw.overrides as CalendarOverride[],
  });
  // A mismatch means the content was edited without re-stamping: due dates computed from it
  // could not be traced back to a known calendar.
  if (snapshot.version !== raw.version) {
    throw new RangeError(
      `snapshot version ${raw.version} does not match its content (${snapshot.version})`,
    );
  }
  return snapshot;
}

// Kind codes in the low bits of the per-day status byte; codes below WEEKEND are working days.
const KIND_CODES: readonly DayKind[] = [
  'working',
  'makeup',
  'open',
  'weekend',
  'holiday',
  'closed',
];
const CODE: Record<DayKind, number> = {
  working: 0,
  makeup: 1,
  open: 2,
  weekend: 3,
  holiday: 4,
  closed: 5,
};
const KIND_MASK = 0x07;
const PROVISIONAL_BIT = 0x08;

/** How a status byte of CalendarIndex.status is laid out, for loops reading the table directly. */
export const STATUS_LAYOUT = Object.freeze({
  kindMask: KIND_MASK,
  provisionalBit: PROVISIONAL_BIT,
  /** Kind codes below this one are working days. */
  firstRestCode: CODE.weekend,
});

// How many years past the last published (or overridden) year get a precomputed table: enough for
// any statutory limit; later dates fall back to the per-day rule.
const LOOKAHEAD_YEARS = 10;

/** A snapshot with per-day lookup tables, built once and reused for fast counting. */
export interface CalendarIndex {
  readonly snapshot: CalendarSnapshot;
  /** Day number of the first tabulated day (1 January of the first tabulated year). */
  readonly firstDay: number;
  /** One status byte per tabulated day: kind code, plus a bit for provisional years. */
  readonly status: Uint8Array;
  /** workingBefore[i] = number of working days among the first i tabulated days (prefix sums). */
  readonly workingBefore: Int32Array;
  /** The 'YYYY-MM-DD' string of each tabulated day, so counting allocates no strings. */
  readonly dates: readonly string[];
  /** The sets the tables were computed from, for days outside the tabulated range. */
  readonly sources: StatusSources;
}

/** The calendar functions accept either form; a plain snapshot is indexed once and cached. */
export type CalendarSource = CalendarSnapshot | CalendarIndex;

/** The sets a status byte is computed from. */
export interface StatusSources {
  published: ReadonlySet<number>;
  holidaySet: ReadonlySet<number>;
  workdaySet: ReadonlySet<number>;
  overrideByDay: ReadonlyMap<number, CalendarOverride['kind']>;
}

// The status byte of one day; `date` is its 'YYYY-MM-DD' string, passed in so that building the
// tables does not format each date twice.
function computeStatus(day: number, date: IsoDate, sources: StatusSources): number {
  const provisional = sources.published.has(Number(date.slice(0, 4))) ? 0 : PROVISIONAL_BIT;
  const override = sources.overrideByDay.get(day);
  if (override === 'closed') return CODE.closed | provisional;
  if (override === 'open') return CODE.open | provisional;
  if (provisional) {
    if (FIXED_STATUTORY_HOLIDAYS.includes(date.slice(5))) return CODE.holiday | provisional;
  } else {
    // Make-up days first: the arrangement explicitly turns these weekend days into working days.
    if (sources.workdaySet.has(day)) return CODE.makeup;
    if (sources.holidaySet.has(day)) return CODE.holiday;
  }
  return (isWeekendDay(day) ? CODE.weekend : CODE.working) | provisional;
}

const indexCache = new WeakMap<CalendarSnapshot, CalendarIndex>();

/** Builds (or returns the cached) lookup tables of a snapshot; snapshots are taken as immutable. */
export function indexSnapshot(source: CalendarSource): CalendarIndex {
  if (isIndex(source)) return source;
  const cached = indexCache.get(source);
  if (cached) return cached;
  const sources: StatusSources = {
    published: new Set(source.publishedYears),
    holidaySet: new Set(source.holidays.map(dayNumber)),
    workdaySet: new Set(source.workdays.map(dayNumber)),
    overrideByDay: new Map(source.overrides.map((o) => [dayNumber(o.date), o.kind] as const)),
  };
  const years = [
    ...source.publishedYears,
    ...source.overrides.map((o) => Number(o.date.slice(0, 4))),
  ];
  let firstDay = 0;
  let length = 0;
  if (years.length > 0) {
    const firstYear = Math.min(...years);
    const lastYear = Math.max(...years) + LOOKAHEAD_YEARS;
    firstDay = Date.UTC(firstYear, 0, 1) / DAY_MS;
    length = Date.UTC(lastYear + 1, 0, 1) / DAY_MS - firstDay;
  }
  const status = new Uint8Array(length);
  const workingBefore = new Int32Array(length + 1);
  const dates = new Array<string>(length);
  // Walk the calendar with counters rather than formatting each day through Date: this table
  // is rebuilt whenever the hall edits an override, and Date formatting dominated the cost.
  let year = length > 0 ? new Date(firstDay * DAY_MS).getUTCFullYear() : 0;
  let month = 1;
  let dayOfMonth = 1;
  for (let i = 0; i < length; i++) {
    const day = firstDay + i;
    const mm = month < 10 ? `0${month}` : `${month}`;
    const dd = dayOfMonth < 10 ? `0${dayOfMonth}` : `${dayOfMonth}`;
    const date = `${year}-${mm}-${dd}`;
    if (++dayOfMonth > daysInMonth(year, month)) {
      dayOfMonth = 1;
      if (++month > 12) {
        month = 1;
        year++;
      }
    }
    dates[i] = date;
    status[i] = computeStatus(day, date, sources);
    workingBefore[i + 1] = workingBefore[i] + ((status[i] & KIND_MASK) < CODE.weekend ? 1 : 0);
  }
  const index: CalendarIndex = Object.freeze({
    snapshot: source,
    firstDay,
    status,
    workingBefore,
    dates,
    sources,
  });
  indexCache.set(source, index);
  return index;
}

function isIndex(source: CalendarSource): source is CalendarIndex {
  return (source as CalendarIndex).status instanceof Uint8Array;
}

/** The status byte of a day: tabulated when possible, otherwise computed by the same rule. */
export function dayStatus(index: CalendarIndex, day: number): number {
  const i = day - index.firstDay;
  if (i >= 0 && i < index.status.length) return index.status[i];
  return computeStatus(day, dayString(day), index.sources);
}

/** The 'YYYY-MM-DD' string of a day, from the table when it is tabulated. */
export function indexedDayString(index: CalendarIndex, day: number): IsoDate {
  const i = day - index.firstDay;
  return i >= 0 && i < index.dates.length ? index.dates[i] : dayString(day);
}

/** Whether a status byte describes a working day (ordinary, make-up, or opened by the hall). */
export function statusIsWorking(status: number): boolean {
  return (status & KIND_MASK) < CODE.weekend;
}

/** Whether a status byte belongs to a year whose arrangement is not yet published. */
export function statusIsProvisional(status: number): boolean {
  return (status & PROVISIONAL_BIT) !== 0;
}

/** The kind named by a status byte. */
export function statusKind(status: number): DayKind {
  return KIND_CODES[status & KIND_MASK];
}
