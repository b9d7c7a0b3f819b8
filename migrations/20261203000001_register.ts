import type { Knex } from 'knex';

/**
 * The register (办件登记簿): the catalog, a projection of every case and department task, and
 * the audit trail. Rows are written only by activities; every write is keyed by the event that
 * caused it (the audit trail's unique stream + seq), so a retried activity writes nothing twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('departments', (t) => {
    t.text('code').primary();
    t.text('name').notNullable();
    t.text('name_en').notNullable();
    t.boolean('has_own_system').notNullable();
  });

  await knex.schema.createTable('items', (t) => {
    t.text('code').primary();
    t.text('department').notNullable().references('departments.code');
    t.text('kind').notNullable();
    t.text('name').notNullable();
    t.integer('statutory_days').notNullable();
    t.text('statutory_unit').notNullable();
    t.integer('promised_days').notNullable();
    t.text('promised_unit').notNullable();
    t.jsonb('entry').notNullable();
    t.text('catalog_version').notNullable();
  });

  // Daily sequence per hall: the row lock of UPDATE ... RETURNING makes numbers atomic under
  // concurrent intake, and a number is never handed out twice, even if its case fails to start.
  await knex.schema.createTable('case_number_counters', (t) => {
    t.text('hall').notNullable();
    t.text('day').notNullable();
    t.integer('last').notNullable();
    t.primary(['hall', 'day']);
  });

  await knex.schema.createTable('cases', (t) => {
    t.text('case_number').primary();
    t.text('item_code').notNullable();
    t.text('department').notNullable();
    t.text('kind').notNullable();
    t.text('status').notNullable();
    t.text('outcome');
    t.text('source').notNullable();
    t.text('applicant_type').notNullable();
    t.text('applicant_name').notNullable();
    t.jsonb('applicant').notNullable();
    t.jsonb('channels').notNullable();
    t.jsonb('materials').notNullable();
    t.jsonb('missing_materials');
    t.text('counter');
    t.text('clerk');
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('accepted_at', { useTz: true });
    t.timestamp('clock_started_at', { useTz: true });
    t.timestamp('statutory_due_at', { useTz: true });
    t.timestamp('promised_due_at', { useTz: true });
    t.boolean('due_provisional').notNullable().defaultTo(false);
    t.timestamp('concluded_at', { useTz: true });
    t.timestamp('closed_at', { useTz: true });
    t.text('reason_code');
    t.text('reasons');
    t.text('competent_organ');
    t.text('warning_level').notNullable().defaultTo('none');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'department']);
    t.index(['item_code']);
    t.index(['department', 'created_at']);
  });

  await knex.schema.createTable('department_tasks', (t) => {
    t.text('case_number').notNullable().references('cases.case_number');
    t.text('task_code').notNullable();
    t.text('department').notNullable();
    t.text('item_code').notNullable();
    t.text('role').notNullable();
    t.text('title').notNullable();
    t.text('status').notNullable();
    t.text('decision');
    t.text('reasons');
    t.text('officer');
    t.timestamp('opened_at', { useTz: true });
    t.timestamp('concluded_at', { useTz: true });
    t.timestamp('cancelled_at', { useTz: true });
    t.text('cancel_reason');
    t.timestamp('statutory_due_at', { useTz: true });
    t.timestamp('promised_due_at', { useTz: true });
    t.boolean('due_provisional').notNullable().defaultTo(false);
    t.text('warning_level').notNullable().defaultTo('none');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['case_number', 'task_code']);
    t.index(['department', 'status']);
  });

  await knex.schema.createTable('audit_trail', (t) => {
    t.bigIncrements('id');
    t.text('case_number').notNullable();
    // The workflow that caused the event (case or department task) and its own event counter.
    t.text('stream').notNullable();
    t.integer('seq').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.text('actor').notNullable();
    t.text('actor_role').notNullable();
    t.text('action').notNullable();
    t.text('task_code');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.unique(['stream', 'seq']);
    t.index(['case_number', 'at']);
  });

  // Document numbers come from their own sequence: never reused, gaps allowed.
  await knex.raw('CREATE SEQUENCE document_numbers');
  await knex.schema.createTable('documents', (t) => {
    t.bigIncrements('id');
    t.text('document_number').notNullable().unique();
    t.text('case_number').notNullable();
    t.text('kind').notNullable();
    // (case, event, kind): asking again for the document of the same event returns this row.
    t.text('event_key').notNullable().unique();
    t.text('media_type').notNullable();
    t.binary('content').notNullable();
    t.text('sha256').notNullable();
    t.text('verification_code').notNullable();
    t.timestamp('issued_at', { useTz: true }).notNullable();
    t.index(['case_number']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'documents',
    'audit_trail',
    'department_tasks',
    'cases',
    'case_number_counters',
    'items',
    'departments',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('DROP SEQUENCE IF EXISTS document_numbers');
}
