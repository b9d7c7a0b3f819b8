import { z } from 'zod';
import type { SnapshotCalendar } from '../../activities/calendarService';
import { computeDue, startOfDayInZone } from '../../lib/calendar';
import { route, type RouteSpec } from '../route';

const isoDate = /^\d{4}-\d{2}-\d{2}$/;

const dueQuery = z.object({
  from: z.union([z.string().regex(isoDate, 'YYYY-MM-DD'), z.iso.datetime({ offset: true })]),
  days: z.coerce.number().int().min(0).max(3650),
  unit: z.enum(['workingDays', 'calendarDays']).default('workingDays'),
  // Repeatable: ?suspend=2026-10-12/2026-10-16&suspend=...
  suspend: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .pipe(
      z.array(
        z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}\/\d{4}-\d{2}-\d{2}$/, 'FROM/TO as YYYY-MM-DD/YYYY-MM-DD'),
      ),
    ),
});

/** The public calendar: anyone may ask when a limit runs out. */
export function calendarRoutes(
  calendar: SnapshotCalendar,
  timeZone: string,
): RouteSpec<any, any, any>[] {
  return [
    route({
      method: 'get',
      path: '/calendar/due',
      summary: 'When a limit counted from a day runs out, on the official calendar',
      tag: 'calendar',
      roles: 'public',
      query: dueQuery,
      handler: async ({ query }) => {
        const snapshot = await calendar.snapshot();
        const start = isoDate.test(query.from)
          ? startOfDayInZone(query.from, timeZone)
          : new Date(query.from);
        const suspensions = query.suspend.map((s) => {
          const [from, to] = s.split('/');
          return { from, to };
        });
        const result = computeDue(
          snapshot,
          { start, days: query.days, unit: query.unit, suspensions },
          timeZone,
        );
        return {
          body: {
            from: result.startDate,
            days: query.days,
            unit: query.unit,
            dueDate: result.dueDate,
            dueAt: result.dueAt?.toISOString() ?? null,
            provisional: result.provisional,
            provisionalYears: result.provisionalYears,
            countedDays: result.countedDays,
            skipped: result.skipped,
            calendarVersion: result.calendarVersion,
          },
        };
      },
    }),
  ];
}
