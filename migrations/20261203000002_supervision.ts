import type { Knex } from 'knex';

/** Indexes of the supervision views: open tasks by warning level, by how late. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.index(['status', 'warning_level', 'promised_due_at'], 'department_tasks_supervision');
    t.index(['department', 'concluded_at'], 'department_tasks_on_time');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.dropIndex([], 'department_tasks_supervision');
    t.dropIndex([], 'department_tasks_on_time');
  });
}
