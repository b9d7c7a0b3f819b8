import knex, { type Knex } from 'knex';
import path from 'node:path';
import { REPO_ROOT } from './config';

/** Opens a knex pool on the register's PostgreSQL database. */
export function openDatabase(url: string, pool = { min: 0, max: 10 }): Knex {
  return knex({ client: 'pg', connection: url, pool });
}

/** Migration settings: TypeScript files in migrations/, loaded through tsx. */
export const migrationConfig: Knex.MigratorConfig = {
  directory: path.join(REPO_ROOT, 'migrations'),
  loadExtensions: ['.ts'],
  tableName: 'knex_migrations',
};

/** Brings the schema to the latest migration; returns the names applied now. */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
  return applied;
}
