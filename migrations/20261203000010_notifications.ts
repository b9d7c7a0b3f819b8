import type { Knex } from 'knex';

/**
 * Notifications to applicants (SMS and e-mail), one row per (case, event, channel, recipient):
 * the unique key is what makes a notification exactly-once whatever retries, crashes and replays
 * happen. client_reference is that key hashed; the provider gets it with every send, so a resend
 * after a crash is recognised there, and delivery reports find their row by it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.bigIncrements('id');
    t.text('case_number').notNullable();
    t.text('event_key').notNullable();
    t.text('step').notNullable();
    t.text('channel').notNullable();
    t.text('recipient').notNullable();
    t.text('client_reference').notNullable().unique();
    // The provider's own id of the message (the gateway's messageId, the e-mail's Message-ID).
    t.text('provider_reference');
    t.text('status').notNullable().defaultTo('pending');
    // SMS only: what the message costs, in UCS-2 segments.
    t.integer('segments');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['case_number', 'event_key', 'channel', 'recipient']);
    t.index(['status', 'created_at']);
    t.index(['case_number', 'created_at']);
  });
  await knex.raw(`ALTER TABLE notifications
    ADD CONSTRAINT notifications_channel CHECK (channel IN ('sms', 'email')),
    ADD CONSTRAINT notifications_status
      CHECK (status IN ('pending', 'accepted', 'delivered', 'failed'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('notifications');
}
