/**
 * The spool seen from the API: supervisors read where each route stands (last numbers, the
 * numbers missing, bundles not yet acknowledged, duplicates) and the events of the spool; the
 * outer portal answers the public case lookup from the status the spool brought it.
 */
import type { Knex } from 'knex';
import { z } from 'zod';
import { SpoolStore } from '../../lib/exchange/bundleStore';
import { lookUpPublicStatus } from '../../lib/exchange/bundleStatus';
import { route, type RouteSpec } from '../route';
import { caseLookupRoute } from '../portal/router';

const spoolQuery = z.object({
  kind: z.enum(['gap', 'duplicate', 'refused', 'unknown_ack', 'ack_mismatch']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** GET /exchange/spool, for supervisors. */
export function spoolRoutes(db: Knex): RouteSpec<any, any, any>[] {
  const store = new SpoolStore(db);
  return [
    route({
      method: 'get',
      path: '/exchange/spool',
      summary: 'Where each spool route stands: numbers missing, unacknowledged, events',
      tag: 'exchange',
      roles: ['supervisor', 'admin'],
      query: spoolQuery,
      handler: async ({ query }) => {
        const routes = await Promise.all(
          (await store.listRoutes()).map(async (r) => ({
            ...r,
            missing: await store.missing(r.sender, r.receiver),
            unacknowledged: (await store.unacknowledged(r.sender, r.receiver)).map((b) => ({
              number: b.header.number,
              kind: b.header.kind,
              createdAt: b.header.createdAt,
              ackOutcome: b.ackOutcome,
              ackReason: b.ackReason,
            })),
          })),
        );
        const events = await store.listEvents({ kind: query.kind, limit: query.limit });
        return { body: { routes, events } };
      },
    }),
  ];
}

/**
 * GET /portal/cases/:n on the outer portal: the same answer as the hall's lookup, from the
 * public status the spool imported (mounted by the outer side's app, not by the hall's).
 */
export function outerPortalRoutes(db: Knex): RouteSpec<any, any, any>[] {
  const store = new SpoolStore(db);
  return [
    caseLookupRoute(
      'An applicant looks up a case on the outer portal with a document’s code',
      (n, code) => lookUpPublicStatus(store, n, code),
    ),
  ];
}
