import type { Knex } from 'knex';

/**
 * The spool across the isolated networks (lib/exchange/spool.ts): per route (sender → receiver)
 * the last bundle number sent and received and the duplicates seen; every bundle sent (its bytes
 * kept, so a resend is the same file, and its acknowledgement) and received (its outcome and the
 * answer given, repeated for a duplicate); the events supervisors look at (gaps, duplicates,
 * refusals, acknowledgements of unknown bundles). On the hall's side, what public status was last
 * exported per case; on the outer side, the public status the outer portal reads.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('spool_routes', (t) => {
    t.text('sender').notNullable();
    t.text('receiver').notNullable();
    t.bigInteger('last_sent').notNullable().defaultTo(0);
    t.bigInteger('last_received').notNullable().defaultTo(0);
    t.bigInteger('duplicates').notNullable().defaultTo(0);
    // Public status export: the changes up to here (less a margin) went out.
    t.timestamp('status_cursor', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['sender', 'receiver']);
  });

  await knex.schema.createTable('spool_bundles', (t) => {
    t.bigIncrements('id');
    t.text('direction').notNullable();
    t.text('sender').notNullable();
    t.text('receiver').notNullable();
    t.bigInteger('number').notNullable();
    t.text('kind').notNullable();
    t.integer('count').notNullable();
    t.text('content_sha256').notNullable();
    t.text('file_name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Outbound: the file's bytes, and when they were written to the outbound directory.
    t.text('bytes');
    t.timestamp('written_at', { useTz: true });
    // Outbound: the receiver's answer.
    t.text('ack_outcome');
    t.text('ack_reason');
    t.text('ack_detail');
    t.timestamp('acked_at', { useTz: true });
    // Inbound: imported or refused (by the exchange's rules), and the answer's content.
    t.text('outcome');
    t.text('answer');
    t.jsonb('result').notNullable().defaultTo('{}');
    t.unique(['direction', 'sender', 'receiver', 'number']);
  });
  await knex.raw(`
    ALTER TABLE spool_bundles
      ADD CONSTRAINT spool_bundles_direction_check CHECK (direction IN ('out', 'in')),
      ADD CONSTRAINT spool_bundles_kind_check
        CHECK (kind IN ('messages', 'publicStatus', 'acknowledgement'))`);

  await knex.schema.createTable('spool_events', (t) => {
    t.bigIncrements('id');
    t.text('kind').notNullable();
    // The route concerned, as far as it is known (a file refused unread has none).
    t.text('sender');
    t.text('receiver');
    t.bigInteger('number');
    // A gap: the numbers missing when a later bundle arrived.
    t.bigInteger('first_missing');
    t.bigInteger('last_missing');
    t.text('reason');
    t.text('detail').notNullable();
    t.text('file_name');
    t.boolean('flagged').notNullable().defaultTo(false);
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['sender', 'receiver', 'at']);
  });
  await knex.raw(`
    ALTER TABLE spool_events ADD CONSTRAINT spool_events_kind_check
      CHECK (kind IN ('gap', 'duplicate', 'refused', 'unknown_ack', 'ack_mismatch'))`);

  await knex.schema.createTable('spool_status_exports', (t) => {
    t.text('receiver').notNullable();
    t.text('case_number').notNullable();
    t.text('sha256').notNullable();
    t.bigInteger('bundle_number').notNullable();
    t.timestamp('exported_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['receiver', 'case_number']);
  });

  await knex.schema.createTable('portal_case_status', (t) => {
    t.text('case_number').primary();
    t.text('sender').notNullable();
    // A later bundle of the route holds a later state: an older one never overwrites it.
    t.bigInteger('bundle_number').notNullable();
    t.jsonb('status').notNullable();
    t.jsonb('code_digests').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Messages that came through the spool are recorded like pushed and polled ones.
  await knex.raw(`
    ALTER TABLE exchange_messages DROP CONSTRAINT exchange_messages_via_check,
      ADD CONSTRAINT exchange_messages_via_check CHECK (via IN ('push', 'poll', 'spool'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex('exchange_messages').where({ via: 'spool' }).update({ via: 'push' });
  await knex.raw(`
    ALTER TABLE exchange_messages DROP CONSTRAINT exchange_messages_via_check,
      ADD CONSTRAINT exchange_messages_via_check CHECK (via IN ('push', 'poll'))`);
  for (const table of [
    'portal_case_status',
    'spool_status_exports',
    'spool_events',
    'spool_bundles',
    'spool_routes',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
