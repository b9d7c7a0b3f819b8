import type { Knex } from 'knex';

/**
 * GET /supervision/cases returns each task's `awaiting` (20261203000075) and filters on it.
 * The covering index of 20261203000050 is rebuilt with `awaiting` included, so the list's page
 * stays an index-only scan; a small partial index serves ?awaiting=applicant (only the tasks
 * that wait for someone), which would otherwise read every open task's heap page.
 */
const COVERING = 'department_tasks_open_department_promised_covering';
const KEY = '(department, warning_level, promised_due_at, case_number)';
const INCLUDED = 'task_code, item_code, statutory_due_at, officer, delivery_channel, delivered_at';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX ${COVERING}_v2 ON department_tasks ${KEY} ` +
      `INCLUDE (${INCLUDED}, awaiting) WHERE status = 'open'`,
  );
  await knex.raw(`DROP INDEX ${COVERING}`);
  await knex.raw(`ALTER INDEX ${COVERING}_v2 RENAME TO ${COVERING}`);
  await knex.raw(
    'CREATE INDEX department_tasks_open_awaiting ON department_tasks ' +
      "(awaiting, promised_due_at, case_number) WHERE status = 'open' AND awaiting IS NOT NULL",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS department_tasks_open_awaiting');
  await knex.raw(
    `CREATE INDEX ${COVERING}_v1 ON department_tasks ${KEY} ` +
      `INCLUDE (${INCLUDED}) WHERE status = 'open'`,
  );
  await knex.raw(`DROP INDEX ${COVERING}`);
  await knex.raw(`ALTER INDEX ${COVERING}_v1 RENAME TO ${COVERING}`);
}
