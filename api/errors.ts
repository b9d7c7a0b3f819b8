import type { Middleware } from 'koa';
import type pino from 'pino';
import { DomainError, errorCatalog, isErrorCode } from '../lib/errors';

/**
 * Maps everything a route throws to one response shape: `{ error: { code, message, problems? } }`.
 * Domain errors keep their status and code; a refusal from a workflow update validator comes
 * back as an ApplicationFailure whose type is our code; anything else is a logged 500.
 */
export function errorMiddleware(log: pino.Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new DomainError('not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const domain = toDomainError(err);
      if (domain) {
        ctx.status = domain.status;
        ctx.body = {
          error: {
            code: domain.code,
            message: domain.expose ? domain.message : 'internal error',
            ...domain.details,
          },
        };
        // Client errors are the caller's business, not ours: logged at debug, never as errors.
        if (domain.status >= 500) log.error({ err, path: ctx.path }, 'request failed');
        else log.debug({ code: domain.code, path: ctx.path }, 'request refused');
        return;
      }
      log.error({ err, path: ctx.path }, 'unexpected error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'internal error' } };
    }
  };
}

/** Finds the domain meaning of an error, following Temporal's cause chain. */
export function toDomainError(err: unknown): DomainError | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof DomainError) return current;
    const e = current as { type?: unknown; message?: string; cause?: unknown; status?: number };
    if (isErrorCode(e.type)) return new DomainError(e.type, e.message ?? e.type);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.message) {
      // Koa's own errors (e.g. malformed JSON from the body parser).
      return new DomainError('validation_failed', e.message);
    }
    current = e.cause;
  }
  return undefined;
}

/** The HTTP status of a code (for the OpenAPI document). */
export const statusOf = (code: keyof typeof errorCatalog): number => errorCatalog[code].status;
