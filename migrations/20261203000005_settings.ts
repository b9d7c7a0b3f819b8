import type { Knex } from 'knex';

/** Small durable facts of the hall, e.g. the calendar version every running clock was told of. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('hall_settings', (t) => {
    t.text('key').primary();
    t.text('value').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('hall_settings');
}
