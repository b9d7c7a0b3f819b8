import type { Knex } from 'knex';

/**
 * Counts of the department tasks for GET /supervision/summary, kept exact by the register's
 * projection (lib/store.ts, RegisterStore.applyEvent) in the transaction that writes the task
 * rows: one row per department, task status and warning level, with how many of those tasks
 * were concluded by their promised moment. The summary then reads a few hundred rows instead of
 * grouping a million tasks on every request.
 *
 * The back-fill counts the tasks already in the register under a SHARE lock of
 * department_tasks, so a projection write of a process still on the previous code waits for
 * the migration's commit instead of slipping between the count and the new table.
 *
 * Also two partial indexes that let a calendar re-arm (workflows/calendarRearm.ts) page through
 * the running clocks in key order without reading the concluded tasks, and a covering one in
 * place of department_tasks_open_department_promised (20261203000030): GET
 * /supervision/cases?level=yellow&department=… then reads its page from the index alone (an
 * index-only scan: a few pages instead of one heap page per task), then joins the cases.
 */
const INDEXES: [name: string, table: string, definition: string][] = [
  [
    'department_tasks_open_clocks',
    'department_tasks',
    "(case_number, task_code) WHERE status = 'open'",
  ],
  ['cases_running_joint', 'cases', "(case_number) WHERE status = 'accepted' AND kind = 'joint'"],
  [
    'department_tasks_open_department_promised_covering',
    'department_tasks',
    '(department, warning_level, promised_due_at, case_number) ' +
      'INCLUDE (task_code, item_code, statutory_due_at, officer, delivery_channel, delivered_at) ' +
      "WHERE status = 'open'",
  ],
];

/** The index of 20261203000030 that the covering one replaces (put back by down). */
const REPLACED = [
  'department_tasks_open_department_promised',
  'ON department_tasks (department, warning_level, promised_due_at, case_number) ' +
    "WHERE status = 'open'",
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('supervision_counts', (t) => {
    t.text('department').notNullable();
    t.text('status').notNullable();
    t.text('warning_level').notNullable();
    t.bigInteger('tasks').notNullable();
    // Concluded no later than the promised moment (the summary's on-time rate).
    t.bigInteger('on_time').notNullable();
    t.primary(['department', 'status', 'warning_level']);
  });
  await knex.raw('LOCK TABLE department_tasks IN SHARE MODE');
  await knex.raw(`
    INSERT INTO supervision_counts (department, status, warning_level, tasks, on_time)
    SELECT department, status, warning_level, count(*),
           count(*) FILTER (WHERE status = 'concluded' AND concluded_at <= promised_due_at)
    FROM department_tasks
    GROUP BY department, status, warning_level`);
  for (const [name, table, definition] of INDEXES) {
    await knex.raw(`CREATE INDEX ${name} ON ${table} ${definition}`);
  }
  await knex.raw(`DROP INDEX IF EXISTS ${REPLACED[0]}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS ${REPLACED[0]} ${REPLACED[1]}`);
  for (const [name] of INDEXES) await knex.raw(`DROP INDEX IF EXISTS ${name}`);
  await knex.schema.dropTableIfExists('supervision_counts');
}
