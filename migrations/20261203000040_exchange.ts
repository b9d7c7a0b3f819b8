import type { Knex } from 'knex';

/**
 * The XML exchange with department systems (数据交换): every message applied, with the
 * acknowledgement it was answered with (a replay gets the same one back); the dead letters; the
 * last sequence applied per department and case (an older message never overwrites a newer
 * state); the hall's own outbound messages; and the cursors of polled outboxes. The unique
 * message id is what makes a message sent twice write nothing twice.
 */
export async function up(knex: Knex): Promise<void> {
  // The hall's own sequence numbers (acknowledgements, taskAssigned): never reused, gaps allowed.
  await knex.raw('CREATE SEQUENCE exchange_hall_sequence');

  await knex.schema.createTable('exchange_messages', (t) => {
    t.bigIncrements('id');
    t.text('message_id').notNullable().unique();
    t.text('department').notNullable();
    t.bigInteger('sequence').notNullable();
    t.text('case_number').notNullable();
    t.text('type').notNullable();
    // For an acknowledgement: the hall message it acknowledges.
    t.text('acknowledges');
    // sha256 of the message's fields: the same id with another hash is refused and flagged.
    t.text('content_sha256').notNullable();
    t.text('via').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The acknowledgement element answered, byte for byte, and its id.
    t.text('ack').notNullable();
    t.text('ack_message_id').notNullable();
    // What the hall's hook answered (hallCaseNumber, receiptNumber).
    t.jsonb('result').notNullable().defaultTo('{}');
    t.index(['department', 'case_number', 'sequence']);
    t.index(['department', 'acknowledges']);
  });
  await knex.raw(`
    ALTER TABLE exchange_messages
      ADD CONSTRAINT exchange_messages_type_check CHECK (type IN (
        'caseAccepted', 'statusChanged', 'suspended', 'resumed', 'caseConcluded',
        'acknowledgement')),
      ADD CONSTRAINT exchange_messages_via_check CHECK (via IN ('push', 'poll'))`);

  // Dead letters: every body or message refused, with the reason; shown to supervisors and to
  // the department it claims to come from.
  await knex.schema.createTable('exchange_rejections', (t) => {
    t.bigIncrements('id');
    t.text('reason').notNullable();
    t.text('detail').notNullable();
    t.boolean('flagged').notNullable();
    // As claimed by the body (unverified when the signature is what failed).
    t.text('department');
    t.text('message_id');
    t.text('message_type');
    t.text('case_number');
    t.bigInteger('sequence');
    t.text('via').notNullable();
    t.text('remote_address');
    t.text('body_sha256').notNullable();
    // The start of the body or of the message element, for inspection.
    t.text('excerpt').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['department', 'received_at']);
    t.index(['received_at']);
  });

  await knex.schema.createTable('department_sequences', (t) => {
    t.text('department').notNullable();
    t.text('case_number').notNullable();
    t.bigInteger('last_sequence').notNullable();
    t.text('last_message_id').notNullable();
    t.text('last_type').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['department', 'case_number']);
  });

  // What the hall sends (taskAssigned): built once per event, so a retry sends the same bytes.
  await knex.schema.createTable('exchange_outbound', (t) => {
    t.text('message_id').primary();
    t.text('event_key').notNullable().unique();
    t.text('recipient').notNullable();
    t.bigInteger('sequence').notNullable();
    t.text('case_number').notNullable();
    t.text('type').notNullable();
    t.text('xml').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('acknowledged_at', { useTz: true });
    t.text('ack_status');
    t.index(['recipient', 'acknowledged_at']);
  });

  await knex.schema.createTable('exchange_poll_cursors', (t) => {
    t.text('department').primary();
    // The highest sequence of the department's outbox fully dealt with.
    t.bigInteger('after').notNullable().defaultTo(0);
    t.timestamp('polled_at', { useTz: true });
    t.text('last_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'exchange_poll_cursors',
    'exchange_outbound',
    'department_sequences',
    'exchange_rejections',
    'exchange_messages',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('DROP SEQUENCE IF EXISTS exchange_hall_sequence');
}
