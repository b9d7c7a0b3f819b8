/**
 * `onedoor outer-portal`: the outer network's side of the spool. It imports the bundles the
 * ferry brings from the hall (the public status of cases), answers each one by the same route,
 * and serves GET /portal/cases/:n?code= from what it imported — the same answer as the hall's
 * own lookup, with nothing personal, on a network that never reaches the hall.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Knex } from 'knex';
import type { Server } from 'node:http';
import { devTokenAuthenticator } from '../api/auth';
import { errorMiddleware } from '../api/errors';
import { outerPortalRoutes } from '../api/exchange/spool';
import { mount } from '../api/route';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig, type Config } from '../lib/config';
import { migrateLatest, openDatabase } from '../lib/db';
import { openConfiguredSpool, type Spool } from '../lib/exchange/spool';
import { startSpoolPasses } from '../lib/exchange/spoolPasses';
import { componentLogger } from '../lib/log';

/** The running outer side: its HTTP server, and how to stop it. */
export interface OuterPortal {
  server: Server;
  /** One pass over the spool now (the timer makes one every SPOOL_INTERVAL_SECONDS). */
  pass: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * Starts the outer side on its own database (DATABASE_URL) and spool (SPOOL_DIR, with
 * SPOOL_SIDE=outer and SPOOL_PEER=hall); resolves once it listens on API_PORT.
 */
export async function startOuterPortal(config: Config, db: Knex): Promise<OuterPortal> {
  const log = componentLogger('outer-portal');
  if (config.SPOOL_DIR === '') throw new Error('the outer portal needs SPOOL_DIR');
  const spool = (await openConfiguredSpool(config, db, {}, log)) as Spool;

  const passes = startSpoolPasses(
    async () => {
      const imported = await spool.importInbound();
      // The answers to what was imported go back to the hall by the same route.
      const answered = await spool.flush();
      return imported.length > 0 ? { imported: imported.length, answered } : undefined;
    },
    config.SPOOL_INTERVAL_SECONDS,
    log,
  );
  await passes.pass();

  const app = new Koa();
  const router = new Router();
  mount(router, outerPortalRoutes(db), devTokenAuthenticator(loadCatalog(config.DATA_PATH)));
  app.use(errorMiddleware(log));
  app.use(router.routes());
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.API_PORT, config.API_HOST, () => resolve(s));
    s.once('error', reject);
  });
  return {
    server,
    pass: passes.pass,
    stop: async () => {
      await passes.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `onedoor outer-portal`: runs the outer side until SIGINT/SIGTERM. */
export async function runOuterPortal(_argv: string[]): Promise<number> {
  const config = loadConfig();
  const db = openDatabase(config.DATABASE_URL);
  await migrateLatest(db);
  const portal = await startOuterPortal(config, db);
  componentLogger('outer-portal').info({ port: config.API_PORT }, 'outer portal listening');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await portal.stop();
  await db.destroy();
  return 0;
}
