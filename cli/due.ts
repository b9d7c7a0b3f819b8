// `onedoor due`: the statutory due date of a time limit, for clerks checking a case by hand.
import { parseArgs } from 'node:util';
import {
  HALL_TIME_ZONE,
  buildSnapshotFromChineseDays,
  computeDue,
  dateInZone,
  startOfDayInZone,
  type DueUnit,
  type Suspension,
} from '../lib/calendar';

/** Where the command writes: process.stdout and process.stderr, or a buffer in tests. */
export interface TextSink {
  write(text: string): unknown;
}

const USAGE = `usage: onedoor due --from <date|instant> --days <n> [--unit workingDays|calendarDays]
                  [--suspend <from>/<to>]... [--tz <zone>]

  --from     the day the clock starts (YYYY-MM-DD, that day in the hall's zone), or an ISO
             instant with its offset (2026-09-28T10:30:00+08:00, 2026-09-28T02:30:00Z)
  --days     the limit: a whole number of days (0 = due at the end of the start day)
  --unit     workingDays (default, LLA art. 82) or calendarDays (Civil Code art. 203)
  --suspend  dates not counted, inclusive: 2026-10-12/2026-10-16, one day 2026-10-12, or
             2026-10-12/ for a suspension that has not ended; may be repeated
  --tz       the hall's time zone (default ${HALL_TIME_ZONE})
`;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
// An instant must carry its offset: a bare local time would be read in the server's zone.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

class UsageError extends Error {}

function parseFrom(value: string | undefined, timeZone: string): Date {
  if (value === undefined) throw new UsageError('--from is required');
  if (ISO_DATE.test(value)) return startOfDayInZone(value, timeZone);
  if (ISO_INSTANT.test(value)) {
    const instant = new Date(value);
    if (!Number.isNaN(instant.getTime())) return instant;
  }
  throw new UsageError(
    `--from must be a date (YYYY-MM-DD) or an ISO instant with an offset, not "${value}"`,
  );
}

function parseDays(value: string | undefined): number {
  if (value === undefined) throw new UsageError('--days is required');
  if (!/^\d+$/.test(value)) throw new UsageError(`--days must be a whole number, not "${value}"`);
  return Number(value);
}

function parseUnit(value: string | undefined): DueUnit {
  if (value === undefined) return 'workingDays';
  if (value === 'workingDays' || value === 'calendarDays') return value;
  throw new UsageError(`--unit must be workingDays or calendarDays, not "${value}"`);
}

function parseSuspension(value: string): Suspension {
  const [from, to, ...rest] = value.split('/');
  const valid =
    rest.length === 0 &&
    ISO_DATE.test(from) &&
    (to === undefined || to === '' || ISO_DATE.test(to));
  if (!valid) {
    throw new UsageError(`--suspend must be <from>/<to>, <day> or <from>/, not "${value}"`);
  }
  if (to === undefined) return { from, to: from };
  return { from, to: to === '' ? null : to };
}

function parseTimeZone(value: string | undefined): string {
  const timeZone = value ?? HALL_TIME_ZONE;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new UsageError(`--tz must be an IANA time zone such as Asia/Shanghai, not "${timeZone}"`);
  }
  return timeZone;
}

/**
 * Runs `onedoor due` with the arguments after the subcommand: prints the due date, a provisional
 * notice if any, and the number of days counted; returns the exit code (2 for bad arguments).
 */
export function runDue(
  argv: string[],
  out: TextSink = process.stdout,
  err: TextSink = process.stderr,
): number {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        days: { type: 'string' },
        unit: { type: 'string' },
        suspend: { type: 'string', multiple: true },
        tz: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      out.write(USAGE);
      return 0;
    }
    const timeZone = parseTimeZone(values.tz);
    const start = parseFrom(values.from, timeZone);
    const days = parseDays(values.days);
    const unit = parseUnit(values.unit);
    const suspensions = (values.suspend ?? []).map(parseSuspension);

    const snapshot = buildSnapshotFromChineseDays();
    const result = computeDue(snapshot, { start, days, unit, suspensions }, timeZone);
    const unitName = unit === 'workingDays' ? 'working' : 'calendar';
    const lines: string[] = [];
    if (result.suspended) {
      const left = `${result.remainingDays} ${unitName} days still to count`;
      lines.push(`suspended since ${result.suspendedSince}: ${left}`);
    } else {
      lines.push(result.dueDate);
    }
    if (result.provisional) {
      lines.push(`provisional: ${result.provisionalYears.join(', ')} not yet published`);
    }
    lines.push(
      `counted: ${result.countedDays.length} ${unitName} days from ${dateInZone(start, timeZone)}`,
    );
    out.write(lines.join('\n') + '\n');
    return 0;
  } catch (error) {
    // parseArgs reports unknown or malformed options with a TypeError and a code; the calendar
    // rejects impossible dates and limits with a RangeError. Both are the caller's mistake.
    const isArgError =
      error instanceof UsageError ||
      error instanceof RangeError ||
      (error instanceof TypeError && 'code' in error);
    if (!isArgError) throw error;
    err.write(`onedoor due: ${error.message}\nrun "onedoor due --help" for usage\n`);
    return 2;
  }
}
