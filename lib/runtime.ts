import type { Knex } from 'knex';
import { loadCatalog } from './catalog/load';
import type { Catalog } from './catalog/types';
import type { Config } from './config';
import { migrateLatest, openDatabase } from './db';
import { RegisterStore } from './store';

/** What every hall process shares: the register and the catalog. */
export interface Runtime {
  db: Knex;
  store: RegisterStore;
  catalog: Catalog;
}

/** Opens the register and loads the catalog; `migrate` brings the schema up first. */
export async function openRuntime(
  config: Config,
  opts: { migrate?: boolean } = {},
): Promise<Runtime> {
  const catalog = loadCatalog(config.DATA_PATH);
  const db = openDatabase(config.DATABASE_URL);
  if (opts.migrate) await migrateLatest(db);
  return { db, store: new RegisterStore(db), catalog };
}
