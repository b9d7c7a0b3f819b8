import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import Koa from 'koa';
import type pino from 'pino';
import type { Catalog } from '../lib/catalog/types';
import type { RegisterStore } from '../lib/store';
import type { Authenticator } from './auth';
import { caseRoutes } from './cases/router';
import { clockRoutes } from './cases/clockRouter';
import { errorMiddleware } from './errors';
import { buildOpenApi, docsPage } from './openapi';
import { mount, type RouteSpec } from './route';
import { systemRoutes } from './system/router';

/** What the API process hands the app. */
export interface AppDeps {
  catalog: Catalog;
  store: RegisterStore;
  temporal: Client;
  taskQueue: string;
  timeZone: string;
  caseNumberPrefix: string;
  reminderDays: number;
  payByDays: number;
  auth: Authenticator;
  log: pino.Logger;
  /** Routes of other resources (calendar, supervision, documents) added by their modules. */
  extraRoutes?: RouteSpec<any, any, any>[];
}

/** Builds the Koa app: error mapping, JSON bodies, every resource's routes, and their OpenAPI. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const routes = [
    ...caseRoutes(deps),
    ...clockRoutes(deps.store, deps.temporal),
    ...(deps.extraRoutes ?? []),
  ];
  const openapi = buildOpenApi([
    ...routes,
    ...systemRoutes(
      () => openapi,
      () => docs,
    ),
  ]);
  const docs = docsPage(openapi);
  mount(
    router,
    [
      ...routes,
      ...systemRoutes(
        () => openapi,
        () => docs,
      ),
    ],
    deps.auth,
  );

  app.use(errorMiddleware(deps.log));
  // The bank's callbacks and the exchange's XML are read raw by their routes: a signature covers
  // the exact bytes, and a malformed body must still reach the route to be logged.
  app.use(async (ctx, next) => {
    if (ctx.path.startsWith('/bank/') || ctx.path.startsWith('/exchange/')) {
      ctx.disableBodyParser = true;
    }
    await next();
  });
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '1mb' }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
