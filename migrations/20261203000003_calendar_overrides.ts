import type { Knex } from 'knex';

/**
 * The hall's own calendar entries: closures (a typhoon day) and corrections of the State
 * Council data, each with its reason and author. A later entry for a date replaces an earlier one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('calendar_overrides', (t) => {
    t.bigIncrements('id');
    t.text('date').notNullable();
    t.text('kind').notNullable();
    t.text('reason').notNullable();
    t.text('author').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('calendar_overrides');
}
