import { z } from 'zod';
import type { SnapshotCalendar } from '../../activities/calendarService';
import { computeDue, startOfDayInZone } from '../../lib/calendar';
import type { Client } from '@temporalio/client';
import type pino from 'pino';
import type { RegisterStore } from '../../lib/store';
import { WorkflowNotFoundError } from '@temporalio/common';
import { DomainError } from '../../lib/errors';
import type { calendarRearmWorkflow } from '../../workflows/calendarRearm';
import {
  rearmProgressQuery,
  rearmWorkflowId,
  type RearmProgress,
} from '../../workflows/calendarRearmMessages';
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

const rearmParams = z.object({
  id: z
    .string()
    .regex(/^calendar-rearm-[\w.-]+$/, 'a re-arm id, as POST /calendar/overrides gave it'),
});

const overrideBody = z.object({
  date: z.string().regex(isoDate, 'YYYY-MM-DD'),
  kind: z.enum(['closed', 'open']),
  reason: z.string().trim().min(1, 'a calendar entry needs its reason').max(500),
});

/** What a calendar change needs: the register, and Temporal to re-arm every running clock. */
export interface CalendarChangeDeps {
  store: RegisterStore;
  temporal: Client;
  /** The hall's task queue, where the worker runs the re-arm workflow. */
  taskQueue: string;
  log: pino.Logger;
}

/** The register setting that holds the calendar version the running clocks were last told of. */
export const ANNOUNCED_CALENDAR_VERSION = 'announcedCalendarVersion';

/**
 * Starts the re-arm of every running clock on calendar version `version`
 * (workflows/calendarRearm.ts) and returns its workflow id at once. One workflow id per
 * version: a second start while the first runs joins it; once it has finished, a new run for
 * the same version (the calendar went back to an earlier state) is allowed and harmless, since
 * a clock ignores a version it already has.
 */
export async function announceCalendarChange(
  deps: CalendarChangeDeps,
  version: string,
): Promise<string> {
  const workflowId = rearmWorkflowId(deps.taskQueue, version);
  await deps.temporal.workflow.start<typeof calendarRearmWorkflow>('calendarRearmWorkflow', {
    workflowId,
    taskQueue: deps.taskQueue,
    args: [{ version }],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  // The API's next start then sees this version as told (cli/api.ts), not as a new calendar.
  await deps.store.setSetting(ANNOUNCED_CALENDAR_VERSION, version);
  deps.log.info({ version, workflowId }, 'calendar re-arm started');
  return workflowId;
}

/** A re-arm as GET /calendar/rearms/:id answers it. */
async function rearmStatus(temporal: Client, workflowId: string) {
  const handle = temporal.workflow.getHandle(workflowId);
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new DomainError('not_found', `no calendar re-arm ${workflowId}`);
    }
    throw err;
  }
  let progress: RearmProgress | null = null;
  if (status === 'COMPLETED') progress = await handle.result();
  else if (status === 'RUNNING') {
    // A worker busy with the clocks it is re-arming may not answer a query in time: the re-arm
    // is then reported running, its counts unknown for now.
    progress = await handle.query(rearmProgressQuery).catch(() => null);
  }
  return { id: workflowId, status: status.toLowerCase(), progress };
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
          summary: 'Add a closure or correction; a re-arm recomputes every running clock',
          tag: 'calendar',
          roles: ['admin'],
          body: overrideBody,
          errors: ['unavailable'],
          handler: async ({ body, principal }) => {
            const entry = { ...body, author: principal.id };
            await change.store.addCalendarOverride(entry);
            const version = await calendar.reload();
            let id: string;
            try {
              id = await announceCalendarChange(change, version);
            } catch (err) {
              // The entry stays (the calendar holds it); the API's next start re-arms for it,
              // and the same request sent again starts the re-arm of the same version.
              change.log.warn({ err, version }, 'calendar re-arm not started');
              throw new DomainError('unavailable', 'the calendar re-arm could not be started');
            }
            return {
              status: 202,
              body: {
                override: entry,
                version,
                rearm: { id, status: 'running', href: `/calendar/rearms/${id}` },
              },
            };
          },
        }),
        route({
          method: 'get',
          path: '/calendar/rearms/:id',
          summary: 'How far the re-arm of the running clocks after a calendar change has got',
          tag: 'calendar',
          roles: ['admin', 'supervisor'],
          params: rearmParams,
          errors: ['not_found'],
          handler: async ({ params }) => ({ body: await rearmStatus(change.temporal, params.id) }),
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
