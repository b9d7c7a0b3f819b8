import type { Knex } from 'knex';

/**
 * Fees through the bank (LLA art. 58–59: only fees a law sets, at its rate, all to the treasury).
 * A payment notice (缴款通知书) per case event; the payments the bank confirmed, one row per bank
 * transaction; refunds; every callback attempt, accepted or not; alerts for supervisors; and the
 * imported bank statements with their matched lines. The unique keys are what make retries,
 * duplicated callbacks and a statement imported twice write nothing new.
 */
export async function up(knex: Knex): Promise<void> {
  // Notice numbers come from their own sequence: never reused, gaps allowed.
  await knex.raw('CREATE SEQUENCE payment_notice_numbers');

  await knex.schema.createTable('payment_notices', (t) => {
    t.text('notice_number').primary();
    t.text('case_number').notNullable();
    t.text('item_code').notNullable();
    // The case event that asked for the notice: asking again returns this row.
    t.text('event_key').notNullable().unique();
    // [{ code, name, per, quantity, unitFen, amountFen, legalBasis }], copied from the catalog.
    t.jsonb('lines').notNullable();
    t.integer('amount_fen').notNullable();
    t.timestamp('pay_by', { useTz: true }).notNullable();
    t.text('status').notNullable().defaultTo('issued');
    t.text('bank_order_id').unique();
    t.text('document_number');
    t.timestamp('issued_at', { useTz: true }).notNullable();
    t.timestamp('paid_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['case_number']);
    t.index(['status', 'pay_by']);
  });
  await knex.raw(`
    ALTER TABLE payment_notices
      ADD CONSTRAINT payment_notices_number_check
        CHECK (notice_number ~ '^[0-9]{20}$' AND mod(notice_number::numeric, 97) = 1),
      ADD CONSTRAINT payment_notices_amount_check CHECK (amount_fen > 0),
      ADD CONSTRAINT payment_notices_status_check
        CHECK (status IN ('issued', 'paid', 'expired', 'refunding', 'refunded'))`);

  await knex.schema.createTable('payments', (t) => {
    t.bigIncrements('id');
    t.text('notice_number').notNullable().references('payment_notices.notice_number');
    // One bank transaction is one payment, however often and by whichever path it is announced.
    t.text('bank_transaction_id').notNullable().unique();
    t.text('bank_order_id').notNullable();
    t.integer('amount_fen').notNullable();
    t.timestamp('paid_at', { useTz: true }).notNullable();
    t.text('source').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The case workflow was told (signal, or the answer of its own status query).
    t.timestamp('announced_at', { useTz: true });
    // A lease on telling it, so two concurrent announcements send one signal.
    t.timestamp('announce_claimed_at', { useTz: true });
    t.index(['notice_number']);
    t.index(['paid_at']);
  });
  await knex.raw(`
    ALTER TABLE payments
      ADD CONSTRAINT payments_amount_check CHECK (amount_fen > 0),
      ADD CONSTRAINT payments_source_check
        CHECK (source IN ('callback', 'statusQuery', 'reconciliation'))`);

  await knex.schema.createTable('refunds', (t) => {
    t.bigIncrements('id');
    // A payment is refunded once, in full.
    t.bigInteger('payment_id').notNullable().unique().references('payments.id');
    t.text('notice_number').notNullable().references('payment_notices.notice_number');
    t.text('case_number').notNullable();
    t.text('event_key').notNullable();
    t.integer('amount_fen').notNullable();
    t.text('reason').notNullable();
    t.text('status').notNullable().defaultTo('requested');
    t.text('bank_refund_id');
    t.timestamp('requested_at', { useTz: true }).notNullable();
    t.timestamp('completed_at', { useTz: true });
    t.index(['case_number']);
  });
  await knex.raw(`
    ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
      CHECK (status IN ('requested', 'succeeded', 'pending'))`);

  // Every callback attempt, forged ones included: the body is kept (truncated) for inspection.
  await knex.schema.createTable('bank_callbacks_log', (t) => {
    t.bigIncrements('id');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('remote_address');
    t.boolean('signature_valid').notNullable();
    t.text('outcome').notNullable();
    t.text('reason');
    t.integer('http_status').notNullable();
    t.text('notice_number');
    t.text('bank_order_id');
    t.text('bank_transaction_id');
    t.integer('amount_fen');
    t.text('body_sha256').notNullable();
    t.text('body').notNullable();
    t.index(['received_at']);
    t.index(['notice_number']);
  });
  await knex.raw(`
    ALTER TABLE bank_callbacks_log ADD CONSTRAINT bank_callbacks_log_outcome_check
      CHECK (outcome IN ('accepted', 'duplicate', 'refused', 'failed'))`);

  // What supervisors must look at: a wrong amount, a double payment, a statement mismatch.
  await knex.schema.createTable('payment_alerts', (t) => {
    t.bigIncrements('id');
    // The same finding raised again (a retried callback, a re-run) is one alert.
    t.text('alert_key').notNullable().unique();
    t.text('kind').notNullable();
    t.text('notice_number');
    t.text('case_number');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.timestamp('raised_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    t.text('resolved_by');
    t.index(['case_number']);
    t.index(['resolved_at', 'raised_at']);
  });

  await knex.schema.createTable('reconciliation_runs', (t) => {
    t.bigIncrements('id');
    // The same file imported twice is found here and changes nothing.
    t.text('file_sha256').notNullable().unique();
    t.text('statement_date').notNullable();
    t.text('imported_by').notNullable();
    t.timestamp('imported_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('lines').notNullable().defaultTo(0);
    t.integer('matched').notNullable().defaultTo(0);
    t.integer('missing_at_hall').notNullable().defaultTo(0);
    t.integer('missing_at_bank').notNullable().defaultTo(0);
    t.integer('mismatched').notNullable().defaultTo(0);
    t.integer('bad_lines').notNullable().defaultTo(0);
    t.jsonb('report').notNullable().defaultTo('{}');
    t.index(['statement_date']);
  });

  await knex.schema.createTable('reconciliation_lines', (t) => {
    t.bigIncrements('id');
    t.bigInteger('run_id').notNullable().references('reconciliation_runs.id').onDelete('CASCADE');
    // The line of the file (1 is the header); null for a hall payment the file lacks.
    t.integer('line_number');
    t.text('status').notNullable();
    t.text('bank_transaction_id');
    t.text('notice_number');
    t.integer('amount_fen');
    t.integer('hall_amount_fen');
    t.text('problem');
    t.text('raw');
    t.unique(['run_id', 'line_number']);
    t.index(['bank_transaction_id']);
  });
  await knex.raw(`
    ALTER TABLE reconciliation_lines ADD CONSTRAINT reconciliation_lines_status_check
      CHECK (status IN ('matched', 'missingAtHall', 'missingAtBank', 'mismatchedAmount', 'badLine'))`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'reconciliation_lines',
    'reconciliation_runs',
    'payment_alerts',
    'bank_callbacks_log',
    'refunds',
    'payments',
    'payment_notices',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('DROP SEQUENCE IF EXISTS payment_notice_numbers');
}
