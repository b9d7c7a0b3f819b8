import { z } from 'zod';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import { route, type RouteSpec } from '../route';

const inboxQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

/**
 * The hall inbox: the open tasks of the caller's department, earliest due first. Departments
 * without their own system work from here; the others receive the same tasks by webhook.
 */
export function inboxRoutes(store: RegisterStore): RouteSpec<any, any, any>[] {
  return [
    route({
      method: 'get',
      path: '/inbox',
      summary: 'Open tasks of my department, earliest promised date first',
      tag: 'departments',
      roles: ['officer', 'headOfOrgan'],
      query: inboxQuery,
      handler: async ({ query, principal }) => {
        if (!principal.department)
          throw new DomainError('forbidden', 'no department on this token');
        const rows = (await store
          .db('department_tasks as t')
          .join('cases as c', 'c.case_number', 't.case_number')
          .where({ 't.department': principal.department, 't.status': 'open' })
          .orderBy([{ column: 't.promised_due_at', order: 'asc' }, { column: 't.case_number' }])
          .limit(query.pageSize)
          .offset((query.page - 1) * query.pageSize)
          .select(
            't.case_number as caseNumber',
            't.task_code as task',
            't.title',
            't.item_code as item',
            't.warning_level as warningLevel',
            't.promised_due_at as promisedDueAt',
            't.statutory_due_at as statutoryDueAt',
            't.opened_at as openedAt',
            'c.applicant_name as applicantName',
            'c.kind',
          )) as Record<string, unknown>[];
        return { body: { department: principal.department, tasks: rows } };
      },
    }),
  ];
}
