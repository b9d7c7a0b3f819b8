import type { ClockDue } from '../lib/case/model';
import type { Limit } from '../lib/catalog/types';

/** What the calendar activities need: due moments on the current calendar snapshot. */
export interface CalendarService {
  /** Version of the snapshot in force (published years + the hall's overrides). */
  version(): Promise<string>;
  /** The end of a limit counted from a start moment, skipping suspended dates. */
  due(
    start: string,
    limit: Limit,
    suspensions?: { from: string; to: string | null }[],
  ): Promise<{ dueAt: string | null; provisional: boolean }>;
}

/** A clock to compute: the start moment, the two limits, and any suspended ranges. */
export interface ClockRequest {
  start: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  suspensions?: { from: string; to: string | null }[];
}

/** Activities that read the statutory calendar; workflow code never does. */
export function createCalendarActivities(calendar: CalendarService) {
  return {
    /** The statutory and promised due moments of a clock, and whether they are provisional. */
    async computeClock(req: ClockRequest): Promise<ClockDue> {
      const [statutory, promised, calendarVersion] = await Promise.all([
        calendar.due(req.start, req.statutoryLimit, req.suspensions),
        calendar.due(req.start, req.promisedLimit, req.suspensions),
        calendar.version(),
      ]);
      return {
        clockStartedAt: req.start,
        statutoryDueAt: statutory.dueAt!,
        promisedDueAt: promised.dueAt!,
        provisional: statutory.provisional || promised.provisional,
        calendarVersion,
      };
    },
  };
}
