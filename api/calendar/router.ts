import { z } from 'zod';
import type { SnapshotCalendar } from '../../activities/calendarService';
import { computeDue, startOfDayInZone } from '../../lib/calendar';
import type { Client } from '@temporalio/client';
import type pino from 'pino';
import type { RegisterStore } from '../../lib/store';
import { calendarChangedSignal } from '../../workflows/messages';
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

const overrideBody = z.object({
  date: z.string().regex(isoDate, 'YYYY-MM-DD'),
  kind: z.enum(['closed', 'open']),
  reason: z.string().trim().min(1, 'a calendar entry needs its reason').max(500),
});

/** What a calendar change needs: the register, and Temporal to tell every running clock. */
export interface CalendarChangeDeps {
  store: RegisterStore;
  temporal: Client;
  log: pino.Logger;
}

/**
 * Tells every running clock that the calendar changed; each computes its due moments again and
 * re-arms its timers. Returns how many were told.
 */
export async function announceCalendarChange(
  deps: CalendarChangeDeps,
  version: string,
): Promise<number> {
  const ids = await deps.store.runningClockIds();
  let next = 0;
  let told = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await deps.temporal.workflow.getHandle(id).signal(calendarChangedSignal, { version });
        told++;
      } catch (err) {
        // A clock that closed meanwhile needs no news.
        deps.log.debug({ workflowId: id, err }, 'calendar change not delivered');
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return told;
}

/** The public calendar (anyone may ask when a limit runs out), and the hall's own entries. */
export function calendarRoutes(
  calendar: SnapshotCalendar,
  timeZone: string,
  change?: CalendarChangeDeps,
): RouteSpec<any, any, any>[] {
  const entries: RouteSpec<any, any, any>[] = !change
    ? []
    : [
        route({
          method: 'get',
          path: '/calendar/overrides',
          summary: 'The hall’s own calendar entries (closures and corrections)',
          tag: 'calendar',
          roles: 'public',
          handler: async () => ({
            body: { overrides: await change.store.listCalendarOverrides() },
          }),
        }),
        route({
          method: 'post',
          path: '/calendar/overrides',
          summary: 'Add a closure or correction; every running clock is computed again',
          tag: 'calendar',
          roles: ['admin'],
          body: overrideBody,
          handler: async ({ body, principal }) => {
            const entry = { ...body, author: principal.id };
            await change.store.addCalendarOverride(entry);
            const version = await calendar.reload();
            const recomputing = await announceCalendarChange(change, version);
            return { status: 201, body: { override: entry, version, recomputing } };
          },
        }),
      ];
  return [
    ...entries,
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
