import type { Knex } from 'knex';
import { z } from 'zod';
import {
  maskRecipient,
  NotificationLedger,
  type NotificationRecord,
} from '../../activities/notifier';
import { DomainError } from '../../lib/errors';
import { isValidSignature, SMS_HEADERS } from '../../lib/notify/smsGateway';
import { problemsOf, route, type RouteSpec } from '../route';

/** What the notification routes need. */
export interface NotificationRouteDeps {
  db: Knex;
  /** The secret the SMS gateway signs its reports with (SMS_API_SECRET); null: SMS is off. */
  smsSecret: string | null;
}

/** GET /notifications: filters and paging. */
export const notificationListQuery = z.object({
  status: z.enum(['pending', 'accepted', 'delivered', 'failed']).optional(),
  caseNumber: z.string().min(1).max(64).optional(),
  channel: z.enum(['sms', 'email']).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});

/** POST /notifications/sms/delivery-reports: one report, as the gateway posts it. */
export const deliveryReportBody = z.object({
  messageId: z.string().min(1).max(100),
  clientReference: z.string().min(1).max(100),
  status: z.enum(['delivered', 'failed']),
  errorCode: z.string().max(100).optional(),
  at: z.iso.datetime({ offset: true }),
});

/** A notification as staff see it: the recipient masked. */
function viewOf(n: NotificationRecord) {
  return { ...n, recipient: maskRecipient(n.channel, n.recipient) };
}

/** The notification routes: the supervisors' list, and the SMS gateway's delivery reports. */
export function notificationRoutes(deps: NotificationRouteDeps): RouteSpec<any, any, any>[] {
  const ledger = new NotificationLedger(deps.db);

  return [
    route({
      method: 'get',
      path: '/notifications',
      summary:
        'Notifications to applicants, newest first; status=failed lists those that never arrive',
      tag: 'notifications',
      roles: ['supervisor', 'admin'],
      query: notificationListQuery,
      handler: async ({ query }) => {
        const { total, rows } = await ledger.list(query);
        return {
          body: {
            total,
            notifications: rows.map(viewOf),
            page: query.page,
            pageSize: query.pageSize,
          },
        };
      },
    }),

    route({
      method: 'post',
      path: '/notifications/sms/delivery-reports',
      summary: 'The SMS gateway reports a delivery (signed like the sends; no bearer token)',
      tag: 'notifications',
      roles: 'public',
      errors: ['unauthenticated', 'validation_failed', 'not_found'],
      // The body is validated in the handler, after the signature: a caller who cannot sign
      // learns nothing about what a valid report looks like.
      handler: async ({ ctx }) => {
        const raw = (ctx.request as { rawBody?: string }).rawBody;
        const signed =
          deps.smsSecret !== null &&
          raw !== undefined &&
          isValidSignature(
            deps.smsSecret,
            {
              timestamp: ctx.get(SMS_HEADERS.timestamp),
              signature: ctx.get(SMS_HEADERS.signature),
            },
            raw,
          );
        if (!signed)
          throw new DomainError('unauthenticated', 'the report is not signed by the gateway');

        const parsed = deliveryReportBody.safeParse(ctx.request.body);
        if (!parsed.success) {
          const problems = problemsOf(parsed.error, 'body');
          throw new DomainError('validation_failed', 'not a delivery report', { problems });
        }
        const applied = await ledger.applyDeliveryReport(parsed.data);
        if (applied === 'unknown') {
          throw new DomainError('not_found', `no notification ${parsed.data.clientReference}`);
        }
        // Delivered and failed are final: the same report again gets the same answer and changes
        // nothing.
        return {
          body: { clientReference: parsed.data.clientReference, updated: applied === 'updated' },
        };
      },
    }),
  ];
}
