import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import { route, type RouteSpec } from '../route';
import { caseParams } from '../cases/schema';

const lookupQuery = z.object({
  code: z
    .string()
    .regex(/^[A-Za-z0-9]{8}$/, 'the 8-character verification code printed on a document'),
});

const digest = (text: string): Buffer => createHash('sha256').update(text.toUpperCase()).digest();

/**
 * The portal's case lookup (办件查询): an applicant who holds any document of the case (the
 * receipt, a notice) looks its progress up with the case number and the document's code. It
 * answers progress only — nothing personal, no reasons, no officer names.
 */
export function portalRoutes(store: RegisterStore): RouteSpec<any, any, any>[] {
  return [
    route({
      method: 'get',
      path: '/portal/cases/:caseNumber',
      summary: 'An applicant looks up the progress of a case with a document’s code',
      tag: 'portal',
      roles: 'public',
      params: caseParams,
      query: lookupQuery,
      errors: ['case_not_found'],
      handler: async ({ params, query }) => {
        const codes = (await store
          .db('documents')
          .where({ case_number: params.caseNumber })
          .select('verification_code')) as { verification_code: string }[];
        const given = digest(query.code);
        // Constant-time over every document's code, so timing says nothing about which.
        const known = codes.reduce(
          (found, row) => timingSafeEqual(digest(row.verification_code), given) || found,
          false,
        );
        // An unknown case and a wrong code answer alike, so case numbers cannot be probed.
        if (!known) throw new DomainError('case_not_found', 'no case with that number and code');
        const record = (await store.getCase(params.caseNumber))!;
        const tasks = await store.getTasks(params.caseNumber);
        return {
          body: {
            caseNumber: record.caseNumber,
            item: record.itemCode,
            status: record.status,
            outcome: record.outcome,
            receivedAt: record.receivedAt,
            acceptedAt: record.acceptedAt,
            promisedDueAt: record.promisedDueAt,
            dueProvisional: record.dueProvisional,
            concludedAt: record.concludedAt,
            departments: tasks.map((t) => ({
              task: t.title,
              department: t.department,
              status: t.status,
            })),
          },
        };
      },
    }),
  ];
}
