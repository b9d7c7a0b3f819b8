import type { Knex } from 'knex';

/**
 * Who an open department task waits for: 'applicant' while its department has asked for more
 * materials (its clock stopped until they are handed in), null otherwise. Supervisors read it
 * to tell a task the department holds up from one the applicant does.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.text('awaiting');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.dropColumn('awaiting');
  });
}
