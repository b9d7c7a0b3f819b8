/** HTTP servers of one test on loopback, closed at its teardown. */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { ExecutionContext } from 'ava';
import type Koa from 'koa';
import KoaApp from 'koa';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { devTokenAuthenticator } from '../../api/auth';
import { errorMiddleware } from '../../api/errors';
import { mount, type RouteSpec } from '../../api/route';
import type { Catalog } from '../../lib/catalog/types';

/** Serves `app` on a free port of 127.0.0.1 until teardown; answers its base URL. */
export async function listen(t: ExecutionContext<any>, app: Koa): Promise<string> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Serves route specs as createApp mounts them (dev tokens, the error middleware, a JSON body
 * parser) on a Koa app of their own; answers its base URL.
 */
export async function serveRoutes(
  t: ExecutionContext<any>,
  routes: RouteSpec<any, any, any>[],
  { catalog, jsonLimit }: { catalog: Catalog; jsonLimit?: string },
): Promise<string> {
  const app = new KoaApp();
  const router = new Router();
  mount(router, routes, devTokenAuthenticator(catalog));
  app.use(errorMiddleware(pino({ level: 'silent' })));
  app.use(bodyParser({ enableTypes: ['json'], ...(jsonLimit ? { jsonLimit } : {}) }));
  app.use(router.routes());
  return listen(t, app);
}
