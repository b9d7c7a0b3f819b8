import type { Knex } from 'knex';

/** How each department task reached its department, and when it was acknowledged. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.text('delivery_channel');
    t.timestamp('delivered_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('department_tasks', (t) => {
    t.dropColumn('delivery_channel');
    t.dropColumn('delivered_at');
  });
}
