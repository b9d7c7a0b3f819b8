import { z } from 'zod';
import type { SnapshotCalendar } from '../../activities/calendarService';
import { dateInZone, workingDaysBetween } from '../../lib/calendar';
import type { RegisterStore } from '../../lib/store';
import { route, type RouteSpec } from '../route';

const SUPERVISORS = ['supervisor', 'admin', 'headOfGovernment'] as const;

const listQuery = z.object({
  level: z.enum(['reminder', 'yellow', 'red']).optional(),
  department: z.string().min(1).optional(),
  /** Only tasks the department's own system has not acknowledged yet, whatever their level. */
  undelivered: z.enum(['true', 'false']).optional(),
  /** Only tasks held up by the applicant: their department asked for more materials. */
  awaiting: z.enum(['applicant']).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(100),
});

/**
 * Electronic supervision (电子监察): the open department tasks by warning level, most late
 * first, and the counts and on-time rate per department. Read from the register, never from
 * Temporal visibility (eventually consistent and rate limited).
 */
export function supervisionRoutes(
  store: RegisterStore,
  calendar: SnapshotCalendar,
  timeZone: string,
): RouteSpec<any, any, any>[] {
  const db = store.db;
  // One page of the open tasks of the filter, most late first: each level and department shape
  // has its partial index (migrations 20261203000030 and 000050).
  const listPage = async (query: z.infer<typeof listQuery>, dueColumn: string) =>
    (await db('department_tasks as t')
      .join('cases as c', 'c.case_number', 't.case_number')
      .where('t.status', 'open')
      .modify((q) => {
        if (query.undelivered === 'true') void q.whereNull('t.delivered_at');
        if (query.level) void q.where('t.warning_level', query.level);
        // Undelivered and awaiting tasks are listed whatever their level, none included.
        else if (query.undelivered !== 'true' && !query.awaiting) {
          void q.whereNot('t.warning_level', 'none');
        }
        if (query.department) void q.where('t.department', query.department);
        if (query.awaiting) void q.where('t.awaiting', query.awaiting);
      })
      .orderBy(dueColumn, 'asc')
      .orderBy('t.case_number')
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize)
      .select(
        't.case_number',
        't.task_code',
        't.department',
        't.item_code',
        't.warning_level',
        't.promised_due_at',
        't.statutory_due_at',
        't.officer',
        't.delivery_channel',
        't.delivered_at',
        't.awaiting',
        'c.item_code as case_item',
        'c.kind',
      )) as Record<string, any>[];
  return [
    route({
      method: 'get',
      path: '/supervision/cases',
      summary: 'Open department tasks with a warning, most late first',
      tag: 'supervision',
      roles: [...SUPERVISORS],
      query: listQuery,
      handler: async ({ query }) => {
        // Red is late on the statutory limit, the others on the promised one.
        const dueColumn = query.level === 'red' ? 't.statutory_due_at' : 't.promised_due_at';
        // The calendar (for the working days overdue) is read while the database answers.
        const [rows, index] = await Promise.all([listPage(query, dueColumn), calendar.snapshot()]);
        const today = dateInZone(new Date(), timeZone);
        return {
          body: {
            tasks: rows.map((r) => {
              const due: Date = r.warning_level === 'red' ? r.statutory_due_at : r.promised_due_at;
              const overdue = due ? workingDaysBetween(index, dateInZone(due, timeZone), today) : 0;
              return {
                caseNumber: r.case_number,
                task: r.task_code,
                department: r.department,
                item: r.item_code,
                caseItem: r.case_item,
                level: r.warning_level,
                promisedDueAt: r.promised_due_at?.toISOString() ?? null,
                statutoryDueAt: r.statutory_due_at?.toISOString() ?? null,
                workingDaysOverdue: Math.max(overdue, 0),
                officer: r.officer,
                // Undelivered: the department's own system has not acknowledged the task yet.
                deliveredAt: r.delivered_at?.toISOString() ?? null,
                deliveryChannel: r.delivery_channel,
                // 'applicant' while the department waits for materials it asked for.
                awaiting: r.awaiting ?? null,
              };
            }),
            page: query.page,
            pageSize: query.pageSize,
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/supervision/summary',
      summary: 'Open tasks by department and warning level, and each department’s on-time rate',
      tag: 'supervision',
      roles: [...SUPERVISORS],
      handler: async () => {
        // Counts kept by the register's projection (supervision_counts), not a GROUP BY over
        // every task: the answer stays a few hundred rows however large the register grows.
        const counts = await store.supervisionCounts();
        const departments = new Map<string, Record<string, number | null>>();
        const row = (d: string) => {
          let r = departments.get(d);
          if (!r) {
            r = {
              open: 0,
              none: 0,
              reminder: 0,
              yellow: 0,
              red: 0,
              concluded: 0,
              onTime: 0,
              onTimeRate: null,
            };
            departments.set(d, r);
          }
          return r;
        };
        for (const c of counts) {
          if (c.status === 'open') {
            const r = row(c.department);
            r[c.warningLevel] = (r[c.warningLevel] ?? 0) + c.tasks;
            r.open = (r.open ?? 0) + c.tasks;
          } else if (c.status === 'concluded') {
            const r = row(c.department);
            r.concluded = (r.concluded ?? 0) + c.tasks;
            r.onTime = (r.onTime ?? 0) + c.onTime;
          }
        }
        for (const r of departments.values()) {
          r.onTimeRate = r.concluded ? (r.onTime ?? 0) / r.concluded : null;
        }
        return {
          body: {
            departments: [...departments]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([department, r]) => ({ department, ...r })),
          },
        };
      },
    }),
  ];
}
