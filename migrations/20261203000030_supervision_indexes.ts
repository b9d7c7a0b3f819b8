import type { Knex } from 'knex';

/**
 * Indexes of the supervision views on a register of a million tasks (bench/supervision.ts).
 *
 * The lists (GET /supervision/cases) read the open tasks of one warning level, optionally of one
 * department, ordered by the due moment of that level (red: statutory, the others: promised) and
 * then the case number. Each shape has an index in that order, partial over the open tasks alone
 * (a few percent of the register, so they stay small): a page is the first rows of one index
 * range, never a sort of every red task. The shape "one level, promised date, any department"
 * is served well enough by department_tasks_supervision (20261203000002: an incremental sort of
 * the few tasks due the same moment), so it gets no index of its own.
 *
 * The summary (GET /supervision/summary) counts the open tasks by department and level (an
 * index-only scan of the department indexes) and the concluded ones by department with their
 * on-time share (an index-only scan of the covering one below). That still reads every concluded
 * task on each request: a low latency there needs counts kept by the projection.
 */
const INDEXES: [name: string, definition: string][] = [
  [
    'department_tasks_open_statutory',
    "(warning_level, statutory_due_at, case_number) WHERE status = 'open'",
  ],
  [
    'department_tasks_open_department_statutory',
    "(department, warning_level, statutory_due_at, case_number) WHERE status = 'open'",
  ],
  [
    'department_tasks_open_department_promised',
    "(department, warning_level, promised_due_at, case_number) WHERE status = 'open'",
  ],
  [
    'department_tasks_concluded_on_time',
    "(department) INCLUDE (concluded_at, promised_due_at) WHERE status = 'concluded'",
  ],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, definition] of INDEXES) {
    await knex.raw(`CREATE INDEX ${name} ON department_tasks ${definition}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of INDEXES) {
    await knex.raw(`DROP INDEX IF EXISTS ${name}`);
  }
}
