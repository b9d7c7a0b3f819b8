/**
 * The exchange resource: department systems push messages (XML in, XML acknowledgements out),
 * fetch the schema, and read their dead letters. The XML body is read here from the raw request
 * stream, with its own size cap: the app's body parser takes JSON only and leaves it untouched.
 * Department systems authenticate by their messages' HMAC, not by a bearer token.
 */
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DomainError } from '../../lib/errors';
import { ExchangeRefusal, refusalReasons, type RefusalReason } from '../../lib/exchange/reasons';
import { BodyRefused, receiveExchange, type ReceiveDeps } from '../../lib/exchange/receive';
import { DEFAULT_LIMITS } from '../../lib/exchange/parse';
import {
  EXCHANGE_XSD_1_0_PATH,
  EXCHANGE_XSD_PATH,
  ValidatorUnavailable,
} from '../../lib/exchange/xsd';
import { route, type RouteSpec } from '../route';
import { spoolRoutes } from './spool';

/** What the exchange routes need: the inbound path's deps (store, hooks, secrets, limits). */
export type ExchangeRouteDeps = Omit<ReceiveDeps, 'via' | 'remoteAddress' | 'expectedDepartment'>;

const rejectionsQuery = z.object({
  department: z.string().min(1).optional(),
  flagged: z.enum(['true', 'false']).optional(),
  /** Paging: rejections older than this id. */
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const XML_TYPES = ['application/xml', 'text/xml', '+xml'];

/** The body cannot be read into memory: over the cap (the rest is discarded unread). */
const TOO_LARGE = Symbol('too large');

/** Reads at most `limit` bytes of a request; past that, drains a little and gives up. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return TOO_LARGE;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit * 16) {
      req.destroy();
      break;
    }
    if (total <= limit) chunks.push(chunk);
  }
  return total > limit ? TOO_LARGE : Buffer.concat(chunks, total);
}

/** A public route answering one version of the exchange's XSD, cacheable for an hour. */
function schemaRoute(path: string, summary: string, xsd: string): RouteSpec<any, any, any> {
  return route({
    method: 'get',
    path,
    summary,
    tag: 'exchange',
    roles: 'public',
    produces: 'application/xml',
    handler: async ({ ctx }) => {
      ctx.type = 'application/xml; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=3600');
      return { body: xsd };
    },
  });
}

function refusedError(reason: RefusalReason, detail: string, rejectionId?: number): DomainError {
  return new DomainError('validation_failed', detail, {
    reason,
    flagged: refusalReasons[reason].flagged,
    ...(rejectionId ? { rejectionId } : {}),
  });
}

/**
 * POST /exchange/messages, GET /exchange/schema[/1.0] and GET /exchange/rejections, as routes
 * for the app's extraRoutes (mounted, authenticated and documented like every other route).
 */
export function exchangeRoutes(deps: ExchangeRouteDeps): RouteSpec<any, any, any>[] {
  const schema = readFileSync(EXCHANGE_XSD_PATH, 'utf8');
  const schema10 = readFileSync(EXCHANGE_XSD_1_0_PATH, 'utf8');
  const limit = deps.limits?.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes;

  return [
    route({
      method: 'post',
      path: '/exchange/messages',
      summary: 'A department system sends one message or a batch (XML); answers acknowledgements',
      tag: 'exchange',
      roles: 'public',
      errors: ['validation_failed', 'unavailable'],
      produces: 'application/xml',
      handler: async ({ ctx }) => {
        const remoteAddress = ctx.ip;
        const refuseEarly = async (reason: RefusalReason, detail: string, raw: string) => {
          const id = await deps.store.recordRejection({
            reason,
            detail,
            flagged: refusalReasons[reason].flagged,
            via: 'push',
            remoteAddress,
            raw,
          });
          return refusedError(reason, detail, id);
        };
        if (!ctx.request.is(XML_TYPES)) {
          throw await refuseEarly(
            'unsupported_media_type',
            'send the message as application/xml',
            `content-type: ${ctx.get('content-type')}`,
          );
        }
        const body = await readBody(ctx.req, limit);
        if (body === TOO_LARGE) {
          ctx.set('Connection', 'close');
          const length = ctx.get('content-length') || 'unknown';
          throw await refuseEarly(
            'too_large',
            `the body is over ${limit} bytes; send smaller batches`,
            `(body of ${length} bytes, not read)`,
          );
        }
        try {
          const result = await receiveExchange(body, { ...deps, via: 'push', remoteAddress });
          ctx.type = 'application/xml; charset=utf-8';
          // One message told to retry is answered 503, so plain HTTP retry logic resends it.
          const retry = result.kind === 'single' && result.outcomes[0].outcome === 'retry';
          return { status: retry ? 503 : 200, body: result.document };
        } catch (err) {
          if (err instanceof BodyRefused)
            throw refusedError(err.reason, err.detail, err.rejectionId);
          if (err instanceof ExchangeRefusal) throw refusedError(err.reason, err.detail);
          if (err instanceof ValidatorUnavailable) {
            throw new DomainError('unavailable', 'the schema validator is busy; send it again');
          }
          throw err;
        }
      },
    }),

    schemaRoute(
      '/exchange/schema',
      'The XSD of the exchange format, latest version (1.1: 1.0 plus taskCancelled)',
      schema,
    ),
    schemaRoute(
      '/exchange/schema/1.0',
      'The XSD of version 1.0 of the exchange format, for systems that pin it',
      schema10,
    ),

    route({
      method: 'get',
      path: '/exchange/rejections',
      summary: "Refused exchange messages: all for supervisors, a department's own for its staff",
      tag: 'exchange',
      roles: ['supervisor', 'admin', 'headOfGovernment', 'officer', 'headOfOrgan'],
      query: rejectionsQuery,
      handler: async ({ query, principal }) => {
        // Department staff see what was sent in their department's name, whatever they filter.
        const department = principal.department ?? query.department;
        const rejections = await deps.store.listRejections({
          department,
          flagged: query.flagged === undefined ? undefined : query.flagged === 'true',
          before: query.before,
          limit: query.limit,
        });
        const last = rejections[rejections.length - 1];
        return {
          body: {
            rejections,
            next: rejections.length === query.limit && last ? last.id : null,
          },
        };
      },
    }),

    ...spoolRoutes(deps.store.db),
  ];
}
