import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { DomainError, type ErrorCode } from '../lib/errors';
import { authenticate, type Authenticator, type Principal, type Role } from './auth';

/** What a route handler gets: validated input and, unless public, the caller. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  ctx: Context;
}

/** One API operation: its path, who may call it, its schemas and its handler. */
export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  tag: string;
  /** Who may call it; 'public' needs no token. */
  roles: Role[] | 'public';
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Error codes the operation may answer with, for the OpenAPI document. */
  errors?: ErrorCode[];
  /** Media type of a successful answer, when not JSON. */
  produces?: string;
  handler: (input: RouteInput<P, Q, B>) => Promise<{ status?: number; body: unknown }>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<P, Q, B>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

/** Turns schema issues into the problem list a 422 carries, one entry per field. */
export function problemsOf(error: z.ZodError, prefix: string): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
  }));
}

function parsePart<T>(
  schema: z.ZodType<T> | undefined,
  value: unknown,
  prefix: string,
): {
  value?: T;
  problems: { path: string; message: string }[];
} {
  if (!schema) return { value: undefined as T, problems: [] };
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { value: parsed.data, problems: [] }
    : { problems: problemsOf(parsed.error, prefix) };
}

/** Mounts route specs on a router: authentication, role check, validation, then the handler. */
export function mount(
  router: Router,
  routes: RouteSpec<any, any, any>[],
  auth: Authenticator,
): void {
  for (const spec of routes) {
    router[spec.method](spec.path, async (ctx) => {
      const principal =
        spec.roles === 'public'
          ? ({ id: 'public', role: 'admin' } as Principal)
          : authenticate(ctx.get('authorization'), auth);
      if (spec.roles !== 'public' && !spec.roles.includes(principal.role)) {
        throw new DomainError('forbidden', `${spec.summary}: not for the ${principal.role} role`);
      }
      const params = parsePart(spec.params, ctx.params, 'params');
      const query = parsePart(spec.query, ctx.query, 'query');
      const body = parsePart(spec.body, (ctx.request as { body?: unknown }).body ?? {}, 'body');
      const problems = [...params.problems, ...query.problems, ...body.problems];
      if (problems.length > 0) {
        throw new DomainError(
          'validation_failed',
          `${problems.length} field(s) are missing or malformed`,
          {
            problems,
          },
        );
      }
      const result = await spec.handler({
        params: params.value,
        query: query.value,
        body: body.value,
        principal,
        ctx,
      });
      ctx.status = result.status ?? 200;
      ctx.body = result.body;
    });
  }
}
