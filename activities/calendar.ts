import type { ClockDue } from '../lib/case/model';
import type { Limit } from '../lib/catalog/types';

/** What the calendar activities need: due moments on the current calendar snapshot. */
export interface CalendarService {
  /** Version of the snapshot in force (published years + the hall's overrides). */
  version(): Promise<string>;
  /** Picks up calendar changes made since the snapshot was built. */
  refresh?(): Promise<void>;
  /** The end of a limit counted from a start moment, skipping suspended dates. */
  due(
    start: string,
    limit: Limit,
    suspensions?: { from: string; to: string | null }[],
  ): Promise<{ dueAt: string | null; provisional: boolean }>;
  /** The hall's date (YYYY-MM-DD) of an instant. */
  dateOf(instant: string): string;
  /** The end of the working day `workingDays` working days before a due moment. */
  workingDaysBefore(dueAt: string, workingDays: number): Promise<string>;
}

/** A clock to compute: the start moment, the two limits, and any suspended ranges. */
export interface ClockRequest {
  start: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  /** Suspended periods as instants; each counts whole hall days, from its first to its last. */
  suspensions?: { from: string; to: string | null }[];
  /** Working days before the promised due moment at which the reminder goes out (default 1). */
  reminderDays?: number;
}

/** Activities that read the statutory calendar; workflow code never does. */
export function createCalendarActivities(calendar: CalendarService) {
  return {
    /** The statutory and promised due moments of a clock, and whether they are provisional. */
    async computeClock(req: ClockRequest): Promise<ClockDue> {
      await calendar.refresh?.();
      const suspensions = (req.suspensions ?? []).map((s) => ({
        from: calendar.dateOf(s.from),
        to: s.to === null ? null : calendar.dateOf(s.to),
      }));
      const [statutory, promised, calendarVersion] = await Promise.all([
        calendar.due(req.start, req.statutoryLimit, suspensions),
        calendar.due(req.start, req.promisedLimit, suspensions),
        calendar.version(),
      ]);
      if (!statutory.dueAt || !promised.dueAt) {
        // An open suspension: no due moment until the clock resumes.
        return {
          clockStartedAt: req.start,
          provisional: statutory.provisional || promised.provisional,
          calendarVersion,
          suspended: true,
        };
      }
      const reminderAt = await calendar.workingDaysBefore(promised.dueAt, req.reminderDays ?? 1);
      return {
        clockStartedAt: req.start,
        statutoryDueAt: statutory.dueAt,
        promisedDueAt: promised.dueAt,
        reminderAt,
        provisional: statutory.provisional || promised.provisional,
        calendarVersion,
        suspended: false,
      };
    },
    /** The end of a limit counted from a start moment (the correction window of art. 32). */
    async computeDeadline(req: { start: string; limit: Limit }): Promise<{ dueAt: string }> {
      const due = await calendar.due(req.start, req.limit, []);
      return { dueAt: due.dueAt! };
    },
  };
}
