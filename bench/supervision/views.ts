/**
 * Part 1 of the supervision bench (bench/supervision.ts): the overdue views over a register of
 * a million cases, measured without the counts migration and then with it.
 */
import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../lib/config';
import { migrationConfig } from '../../lib/db';
import { type BenchSummary, type Cleanup, figureTable, type Goal, percentile } from '../harness';
import { connectClient, openRegister, startHallApi } from '../servers';
import { call, fmt, hallConfig, type Options, partDatabase, say, secs } from './common';
import { seedRegister, vacuumAnalyze, withoutSecondaryIndexes } from './seed';

/** The migration this bench measures the views without, then with. */
const INDEX_MIGRATION = '20261203000050_supervision_counts.ts';
/** Later migrations that rebuild its indexes, so they wait for it in the run without. */
const AFTER_INDEX_MIGRATION = ['20261203000080_task_awaiting_indexes.ts'];
/** The p99 target of the two list views and of the summary. */
const LIST_TARGET_MS = 10;

interface Probe {
  label: string;
  path: string;
  /** A replica of the SQL the route runs, for EXPLAIN (the router stays the reference). */
  sql: string[];
  list: boolean;
  /** One of the views the p99 target is set for (the others show the remaining list shapes). */
  target: boolean;
  /**
   * Before INDEX_MIGRATION the route cannot run (it reads a table the migration creates): the
   * SQL it replaced is timed instead, through knex, one statement after the other.
   */
  sqlBefore?: string[];
}

const LIST_COLUMNS =
  't.case_number, t.task_code, t.department, t.item_code, t.warning_level, t.promised_due_at, ' +
  't.statutory_due_at, t.officer, c.item_code AS case_item, c.kind';

const PROBES: Probe[] = [
  {
    label: 'GET /supervision/cases?level=red',
    path: '/supervision/cases?level=red',
    sql: [
      `SELECT ${LIST_COLUMNS} FROM department_tasks t JOIN cases c ON c.case_number = t.case_number
       WHERE t.status = 'open' AND t.warning_level = 'red'
       ORDER BY t.statutory_due_at, t.case_number LIMIT 100`,
    ],
    list: true,
    target: true,
  },
  {
    label: 'GET /supervision/cases?level=yellow&department=market',
    path: '/supervision/cases?level=yellow&department=market',
    sql: [
      `SELECT ${LIST_COLUMNS} FROM department_tasks t JOIN cases c ON c.case_number = t.case_number
       WHERE t.status = 'open' AND t.warning_level = 'yellow' AND t.department = 'market'
       ORDER BY t.promised_due_at, t.case_number LIMIT 100`,
    ],
    list: true,
    target: true,
  },
  {
    label: 'GET /supervision/summary',
    path: '/supervision/summary',
    sql: [
      `SELECT department, status, warning_level, tasks, on_time FROM supervision_counts
       WHERE tasks > 0`,
    ],
    sqlBefore: [
      `SELECT department, warning_level, count(*) AS n FROM department_tasks
       WHERE status = 'open' GROUP BY department, warning_level`,
      `SELECT department, count(*) AS concluded,
              count(*) FILTER (WHERE concluded_at <= promised_due_at) AS on_time
       FROM department_tasks WHERE status = 'concluded' GROUP BY department`,
    ],
    list: false,
    target: true,
  },
  // Not in the target: the two other shapes of the list, for the indexes that serve them.
  {
    label: '(extra) GET /supervision/cases?level=yellow',
    path: '/supervision/cases?level=yellow',
    sql: [
      `SELECT ${LIST_COLUMNS} FROM department_tasks t JOIN cases c ON c.case_number = t.case_number
       WHERE t.status = 'open' AND t.warning_level = 'yellow'
       ORDER BY t.promised_due_at, t.case_number LIMIT 100`,
    ],
    list: true,
    target: false,
  },
  {
    label: '(extra) GET /supervision/cases?level=red&department=meteo',
    path: '/supervision/cases?level=red&department=meteo',
    sql: [
      `SELECT ${LIST_COLUMNS} FROM department_tasks t JOIN cases c ON c.case_number = t.case_number
       WHERE t.status = 'open' AND t.warning_level = 'red' AND t.department = 'meteo'
       ORDER BY t.statutory_due_at, t.case_number LIMIT 100`,
    ],
    list: true,
    target: false,
  },
];

interface Measured {
  label: string;
  p50: number;
  p99: number;
  max: number;
  min: number;
  rows: number;
  /** Per SQL statement: execution time in the server and the plan's scans. */
  plans: { ms: number; scans: string }[];
}

/** The scan nodes of a plan, as "Index Only Scan department_tasks_x" etc. */
function scansOf(node: any, out: string[] = []): string[] {
  const type: string = node['Node Type'];
  if (type.includes('Scan')) {
    const target = node['Index Name'] ?? node['Relation Name'] ?? '';
    out.push(`${type} ${target}`.trim());
  }
  for (const child of node.Plans ?? []) scansOf(child, out);
  return out;
}

async function explain(db: Knex, sql: string): Promise<{ ms: number; scans: string }> {
  // Warm once, then the plan of a second run.
  await db.raw(sql);
  const result = await db.raw(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`);
  const plan = result.rows[0]['QUERY PLAN'][0];
  return { ms: plan['Execution Time'], scans: [...new Set(scansOf(plan.Plan))].join(', ') };
}

async function measureProbes(
  db: Knex,
  base: string,
  requests: number,
  warmup: number,
  before: boolean,
): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const probe of PROBES) {
    let rows = 0;
    const sqlOnly = before && probe.sqlBefore !== undefined;
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      if (sqlOnly) {
        for (const sql of probe.sqlBefore!) rows = (await db.raw(sql)).rows.length;
        return performance.now() - t0;
      }
      const res = await call(base, 'GET', probe.path, 'dev-supervisor');
      const ms = performance.now() - t0;
      if (res.status !== 200) {
        throw new Error(`${probe.path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      }
      rows = (probe.list ? res.body.tasks : res.body.departments).length;
      return ms;
    };
    for (let i = 0; i < warmup; i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < requests; i++) samples.push(await once());
    const plans = [];
    for (const sql of sqlOnly ? probe.sqlBefore! : probe.sql) plans.push(await explain(db, sql));
    out.push({
      label: sqlOnly ? `${probe.label} (its former GROUP BYs, SQL only)` : probe.label,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      max: Math.max(...samples),
      min: Math.min(...samples),
      rows,
      plans,
    });
  }
  return out;
}

/**
 * Applies the pending migrations but `skip` (all of them without `skip`), in order: the routes
 * read the columns of the later ones, so the schema "without" it has them.
 */
async function migrateAllBut(db: Knex, skip: string[]): Promise<string[]> {
  const applied: string[] = [];
  for (;;) {
    const [, pending] = (await db.migrate.list(migrationConfig)) as [unknown, { file: string }[]];
    const next = pending.find((m) => !skip.includes(m.file))?.file;
    if (!next) return applied;
    await db.migrate.up({ ...migrationConfig, name: next });
    applied.push(next);
  }
}

async function tableSizes(db: Knex): Promise<string> {
  const r = await db.raw(`
    SELECT relname, pg_size_pretty(pg_table_size(oid)) AS heap,
           pg_size_pretty(pg_indexes_size(oid)) AS idx
    FROM pg_class WHERE relname IN ('cases', 'department_tasks') ORDER BY relname`);
  return (r.rows as { relname: string; heap: string; idx: string }[])
    .map((x) => `${x.relname} ${x.heap} + indexes ${x.idx}`)
    .join('; ');
}

const INDEX_PREFIX = /^CREATE (UNIQUE )?INDEX \S+ ON \S+ USING /;

async function indexesOf(db: Knex, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const r = await db.raw(
    `SELECT indexname, indexdef, pg_size_pretty(pg_relation_size(indexname::regclass)) AS size
     FROM pg_indexes WHERE indexname = ANY(?) ORDER BY indexname`,
    [names],
  );
  return (r.rows as { indexname: string; indexdef: string; size: string }[]).map(
    (x) => `${x.indexdef.replace(INDEX_PREFIX, `${x.indexname}: `)} (${x.size})`,
  );
}

async function listIndexNames(db: Knex): Promise<Set<string>> {
  const r = await db.raw(
    "SELECT indexname FROM pg_indexes WHERE tablename IN ('cases', 'department_tasks')",
  );
  return new Set((r.rows as { indexname: string }[]).map((x) => x.indexname));
}

export async function benchLists(
  options: Options,
  temporalAddress: string,
  parent: Cleanup,
): Promise<BenchSummary> {
  // Undone at the end of the part; on an interruption, by the parent's cleanup.
  const cleanup = parent.nested('the list part');
  try {
    const databaseUrl = await partDatabase(cleanup, 'list');
    const config = hallConfig(databaseUrl, temporalAddress);
    const runtime = await openRegister(cleanup, config, { migrate: false, seed: false });
    const db = runtime.db;
    const haveIndexMigration = existsSync(path.join(REPO_ROOT, 'migrations', INDEX_MIGRATION));
    await migrateAllBut(db, haveIndexMigration ? [INDEX_MIGRATION, ...AFTER_INDEX_MIGRATION] : []);
    await runtime.store.seedCatalog(runtime.catalog);

    say(`seeding ${fmt(options.register)} cases and their tasks by SQL`);
    const seeded = await withoutSecondaryIndexes(db, ['cases', 'department_tasks'], () =>
      seedRegister(db, runtime.catalog, options.register),
    );
    const t1 = performance.now();
    await vacuumAnalyze(db);
    const vacuumMs = performance.now() - t1;
    const mix = (
      await db.raw(`
      SELECT status, warning_level, count(*)::int AS n FROM department_tasks
      GROUP BY status, warning_level ORDER BY status, warning_level`)
    ).rows as {
      status: string;
      warning_level: string;
      n: number;
    }[];
    const depts = (
      await db.raw(`
      SELECT department, count(*)::int AS n FROM department_tasks
      GROUP BY department ORDER BY n DESC`)
    ).rows as { department: string; n: number }[];
    say(
      `seeded in ${secs(seeded.loadMs)} (INSERT ... SELECT), secondary indexes built in ` +
        `${secs(seeded.indexMs)}, VACUUM ANALYZE ${secs(vacuumMs)}; ${await tableSizes(db)}`,
    );

    const temporal = await connectClient(cleanup, temporalAddress, config.TEMPORAL_NAMESPACE);
    const base = await startHallApi(cleanup, config, runtime, temporal);

    const warmup = Math.max(20, Math.round(options.requests / 10));
    const before = await listIndexNames(db);
    say(
      haveIndexMigration
        ? `measuring without ${INDEX_MIGRATION}`
        : 'measuring on the schema as migrated',
    );
    const baseline = await measureProbes(db, base, options.requests, warmup, haveIndexMigration);

    let withIndexes: Measured[] | undefined;
    let added: string[] = [];
    let buildMs = 0;
    if (haveIndexMigration) {
      const t2 = performance.now();
      await db.migrate.latest(migrationConfig);
      await db.raw('ANALYZE department_tasks');
      buildMs = performance.now() - t2;
      const after = await listIndexNames(db);
      added = [...after].filter((n) => !before.has(n));
      say(`applied ${INDEX_MIGRATION} in ${secs(buildMs)}; measuring again`);
      withIndexes = await measureProbes(db, base, options.requests, warmup, false);
    }

    // Report.
    const ms = (v: number) => v.toFixed(2);
    const head = [
      'query',
      'rows',
      'min (ms)',
      'p50 (ms)',
      'p99 (ms)',
      'max (ms)',
      'SQL in server (ms)',
    ];
    const table = withIndexes
      ? figureTable(
          ['', ...head],
          ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
        )
      : figureTable(head);
    const rowsOf = (m: Measured[], tag?: string) =>
      m.map((x) => {
        const cells = [
          x.label,
          String(x.rows),
          ms(x.min),
          ms(x.p50),
          ms(x.p99),
          ms(x.max),
          x.plans.map((p) => ms(p.ms)).join(' + '),
        ];
        return tag === undefined ? cells : [tag, ...cells];
      });
    table.push(...rowsOf(baseline, withIndexes ? 'before' : undefined));
    if (withIndexes) table.push(...rowsOf(withIndexes, 'after'));

    const final = withIndexes ?? baseline;
    console.log(
      `\nsupervision views over ${fmt(options.register)} cases, ${options.requests} sequential ` +
        `requests each after ${warmup} warm-up, over HTTP (keep-alive) to the real Koa app:`,
    );
    console.log(table.toString());
    const open = mix.filter((m) => m.status === 'open');
    const lines = [
      `register: ${mix.map((m) => `${m.status}/${m.warning_level} ${fmt(m.n)}`).join(', ')}.`,
      `departments: ${depts.map((d) => `${d.department} ${fmt(d.n)}`).join(', ')}.`,
      `open tasks: ${fmt(open.reduce((a, m) => a + m.n, 0))} of ${fmt(options.register)}.`,
    ];
    for (const [tag, m] of [
      ['before', baseline],
      ['after', withIndexes],
    ] as const) {
      if (!m) continue;
      for (const x of m) {
        lines.push(
          `plan ${withIndexes ? `${tag} ` : ''}${x.label}: ` +
            x.plans.map((p) => p.scans).join(' | '),
        );
      }
    }
    if (haveIndexMigration) {
      lines.push(`${INDEX_MIGRATION}: built in ${secs(buildMs)} on the seeded register; adds:`);
      for (const line of await indexesOf(db, added)) lines.push(`  ${line}`);
    } else {
      lines.push(`no ${INDEX_MIGRATION}: measured on the indexes of the shipped migrations.`);
    }
    const goals: Goal[] = [];
    for (const x of final.filter((f) => PROBES.find((p) => p.label === f.label)!.target)) {
      const met = x.p99 <= LIST_TARGET_MS;
      lines.push(
        `target p99 <= ${LIST_TARGET_MS} ms: ${x.label}: ${ms(x.p99)} ms, ` +
          (met ? 'met' : 'MISSED'),
      );
      goals.push({ goal: `${x.label} p99 ≤ ${LIST_TARGET_MS} ms (${ms(x.p99)} ms)`, met });
    }
    const [{ n: countRows }] = (await db.raw('SELECT count(*)::int AS n FROM supervision_counts'))
      .rows as { n: number }[];
    lines.push(
      `summary: read from supervision_counts (${countRows} rows, back-filled by ` +
        `${INDEX_MIGRATION}, kept by the projection) instead of grouping every task.`,
    );
    console.log(lines.join('\n'));
    return { figures: [`overdue views over ${fmt(options.register)} cases`], goals };
  } finally {
    await cleanup.run();
  }
}
