import { z } from 'zod';
import { lookUpCaseStatus, type ShownCaseStatus } from '../../lib/exchange/bundleStatus';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import { route, type RouteSpec } from '../route';
import { caseParams } from '../cases/schema';

const lookupQuery = z.object({
  code: z
    .string()
    .regex(/^[A-Za-z0-9]{8}$/, 'the 8-character verification code printed on a document'),
});

/**
 * GET /portal/cases/:n, answered by `lookUp`: the hall's from its register, the outer portal's
 * from the status the spool brought it (api/exchange/spool.ts). An unknown case and a wrong
 * code answer alike, so case numbers cannot be probed.
 */
export function caseLookupRoute(
  summary: string,
  lookUp: (caseNumber: string, code: string) => Promise<ShownCaseStatus | undefined>,
): RouteSpec<any, any, any> {
  return route({
    method: 'get',
    path: '/portal/cases/:caseNumber',
    summary,
    tag: 'portal',
    roles: 'public',
    params: caseParams,
    query: lookupQuery,
    errors: ['case_not_found'],
    handler: async ({ params, query }) => {
      const status = await lookUp(params.caseNumber, query.code);
      if (!status) throw new DomainError('case_not_found', 'no case with that number and code');
      return { body: status };
    },
  });
}

/**
 * The portal's case lookup (办件查询): an applicant who holds any document of the case (the
 * receipt, a notice) looks its progress up with the case number and the document's code. It
 * answers progress only — nothing personal, no reasons, no officer names.
 */
export function portalRoutes(store: RegisterStore): RouteSpec<any, any, any>[] {
  return [
    caseLookupRoute(
      'An applicant looks up the progress of a case with a document’s code',
      (n, code) => lookUpCaseStatus(store, n, code),
    ),
  ];
}
