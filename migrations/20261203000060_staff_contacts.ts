import type { Knex } from 'knex';

const OLD_KEY = ['case_number', 'event_key', 'channel', 'recipient'];
const NEW_KEY = ['case_number', 'event_key', 'channel', 'recipient_party', 'recipient'];

/**
 * Notifications to staff beside those to applicants: each row says which party it went to
 * (`applicant`, `department:<code>`, `supervisor:<id>`, `leadership:<id>`), and that party is
 * part of the unique key. Two staff contacts that share a mailbox are still two notifications;
 * a party the hall has no contact for gets a row with an empty recipient, failed as unaddressed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.text('recipient_party').notNullable().defaultTo('applicant');
    t.dropUnique(OLD_KEY);
    t.unique(NEW_KEY);
    t.index(['recipient_party', 'status']);
  });
}

/** Staff notifications do not fit the old key: they are dropped with the column. */
export async function down(knex: Knex): Promise<void> {
  await knex('notifications').whereNot({ recipient_party: 'applicant' }).delete();
  await knex.schema.alterTable('notifications', (t) => {
    t.dropIndex(['recipient_party', 'status']);
    t.dropUnique(NEW_KEY);
    t.unique(OLD_KEY);
    t.dropColumn('recipient_party');
  });
}
