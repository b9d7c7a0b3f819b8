import { loadConfig } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { componentLogger } from '../lib/log';
import { openRuntime } from '../lib/runtime';

/**
 * `onedoor seed`: migrates the register and loads the shipped catalog into it. Idempotent; a bad
 * catalog entry stops it with every problem listed (loadCatalog validates before anything is
 * written).
 */
export async function runSeed(_argv: string[]): Promise<number> {
  const log = componentLogger('seed');
  const config = loadConfig();
  const runtime = await openRuntime(config);
  try {
    const applied = await migrateLatest(runtime.db);
    const counts = await runtime.store.seedCatalog(runtime.catalog);
    log.info(
      { migrations: applied, ...counts, catalog: runtime.catalog.version },
      'register seeded',
    );
  } finally {
    await runtime.db.destroy();
  }
  return 0;
}
