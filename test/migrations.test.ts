import test from 'ava';
import { migrationConfig } from '../lib/db';
import { freshDatabase } from './support/hall';

const TABLES = ['cases', 'department_tasks', 'audit_trail', 'documents', 'calendar_overrides'];

async function tablesOf(db: import('knex').Knex): Promise<string[]> {
  const rows = (await db('information_schema.tables')
    .where({ table_schema: 'public' })
    .select('table_name')) as { table_name: string }[];
  return rows.map((r) => r.table_name);
}

test('the migrations go up and all the way down, and up again', async (t) => {
  const { db } = await freshDatabase(t);
  await db.migrate.latest(migrationConfig);
  const up = await tablesOf(db);
  for (const table of TABLES) t.true(up.includes(table), table);

  await db.migrate.rollback(migrationConfig, true);
  const down = await tablesOf(db);
  for (const table of TABLES) t.false(down.includes(table), table);
  const sequences = await db.raw("SELECT 1 FROM pg_class WHERE relname = 'document_numbers'");
  t.is(sequences.rows.length, 0);

  await db.migrate.latest(migrationConfig);
  t.true((await tablesOf(db)).includes('cases'));
});
