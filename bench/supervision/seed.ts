/**
 * The register of part 1 of the supervision bench (bench/supervision.ts): a million cases with
 * one department task each, seeded by SQL alone, as a city hall's year would leave them.
 */
import type { Knex } from 'knex';
import type { Catalog } from '../../lib/catalog/types';

/**
 * Relative intake volume of each item (a modelling choice: registrations, passports, real estate
 * and tax dominate a city hall; approvals of construction and environment are rare). Items not
 * listed weigh 5; joint items are left out (one task per case).
 */
const ITEM_WEIGHTS: Record<string, number> = {
  'market-enterprise-registration': 160,
  'market-food-business-licence': 60,
  'health-public-place-hygiene-licence': 20,
  'health-medical-institution-establishment': 4,
  'health-medical-institution-practice-registration': 6,
  'planning-land-use-planning-permit': 6,
  'planning-construction-project-planning-permit': 6,
  'planning-real-estate-registration': 90,
  'planning-mortgage-registration': 60,
  'housing-construction-permit': 10,
  'housing-fire-design-review': 6,
  'civil-air-defence-basement-approval': 4,
  'fire-public-assembly-check-commitment': 10,
  'fire-public-assembly-check-inspection': 6,
  'ecology-eia-report-approval': 3,
  'ecology-eia-form-approval': 8,
  'water-drainage-permit': 8,
  'water-abstraction-permit': 2,
  'water-abstraction-permit-basin-authority': 1,
  'transport-road-passenger-licence': 5,
  'hrss-labour-dispatch-licence': 8,
  'culture-entertainment-venue-licence': 8,
  'exit-entry-ordinary-passport': 150,
  'urban-outdoor-advertising-permit': 10,
  'urban-shop-sign-filing': 30,
  'meteo-lightning-protection-design-review': 5,
  'tax-registration': 120,
  'tax-invoice-issuance': 100,
};

/** Calendar days a limit spans, roughly (5 working days a week, a few holidays). */
const calendarDaysOf = (l: { days: number; unit: string }) =>
  l.unit === 'workingDays' ? Math.ceil(l.days * 1.45) : l.days;

/**
 * Seeds `n` cases with one department task each, by SQL alone. Tasks: ~94% concluded (about
 * three in four on time), 1% cancelled (withdrawn), 2% open without a warning and 3% open with
 * one (reminder 1.2%, yellow 1%, red 0.8%); acceptances spread over a year, red ones overdue by
 * up to a year. Due moments fall at the end of a hall day, as the calendar computes them.
 */
export async function seedRegister(db: Knex, catalog: Catalog, n: number): Promise<void> {
  const items = [...catalog.items.values()].filter((i) => i.kind !== 'joint');
  let lo = 0;
  const rows = items.map((item) => {
    const weight = ITEM_WEIGHTS[item.code] ?? 5;
    const row = {
      lo,
      hi: lo + weight,
      code: item.code,
      department: item.department,
      kind: item.kind,
      name: item.name,
      stat_days: calendarDaysOf(item.statutoryLimit),
      prom_days: calendarDaysOf(item.promisedLimit),
    };
    lo += weight;
    return row;
  });
  const total = lo;
  await db.raw('DROP TABLE IF EXISTS bench_sup_items');
  await db.raw(
    'CREATE TABLE bench_sup_items (lo int, hi int, code text, department text, kind text, ' +
      'name text, stat_days int, prom_days int)',
  );
  await db('bench_sup_items').insert(rows);
  const hall = catalog.hall.code;

  // One statement per table: the planner joins a million generated rows to the 28 items.
  await db.raw(
    `
    INSERT INTO cases (case_number, item_code, department, kind, status, outcome, source,
      applicant_type, applicant_name, applicant, channels, materials, counter, clerk,
      received_at, accepted_at, clock_started_at, statutory_due_at, promised_due_at,
      concluded_at, closed_at, warning_level, created_at, updated_at)
    WITH s AS (
      SELECT g AS i, random() AS r_item, random() AS r_state, random() AS r_age,
             random() AS r_late, random() AS r_x
      FROM generate_series(1, ?::int) g
    ), p AS (
      SELECT s.*, b.code, b.department, b.kind, b.stat_days, b.prom_days,
        CASE WHEN r_state < 0.012 THEN 'reminder' WHEN r_state < 0.022 THEN 'yellow'
             WHEN r_state < 0.030 THEN 'red' WHEN r_state < 0.050 THEN 'open'
             WHEN r_state < 0.060 THEN 'withdrawn' ELSE 'concluded' END AS state
      FROM s JOIN bench_sup_items b ON s.r_item * ?::int >= b.lo AND s.r_item * ?::int < b.hi
    ), a AS (
      SELECT p.*,
        CASE state
          WHEN 'concluded' THEN now() - make_interval(days => prom_days * 2)
            - r_age * interval '365 days'
          WHEN 'withdrawn' THEN now() - r_age * interval '365 days'
          WHEN 'open' THEN now() - r_age * make_interval(days => greatest(prom_days - 1, 0))
          WHEN 'reminder' THEN now() + r_age * interval '20 hours'
            - make_interval(days => prom_days)
          WHEN 'yellow' THEN now() - make_interval(days => prom_days)
            - r_age * make_interval(days => greatest(stat_days - prom_days, 2))
          ELSE now() - make_interval(days => stat_days) - (r_age * r_age) * interval '365 days'
        END AS accepted_at
      FROM p
    ), d AS (
      SELECT a.*,
        (date_trunc('day',
            (accepted_at + make_interval(days => stat_days)) AT TIME ZONE 'Asia/Shanghai')
          + interval '1 day' - interval '1 millisecond') AT TIME ZONE 'Asia/Shanghai'
          AS statutory_due_at,
        (date_trunc('day',
            (accepted_at + make_interval(days => prom_days)) AT TIME ZONE 'Asia/Shanghai')
          + interval '1 day' - interval '1 millisecond') AT TIME ZONE 'Asia/Shanghai'
          AS promised_due_at,
        CASE state
          WHEN 'concluded'
            THEN accepted_at + r_late * 1.3 * make_interval(days => greatest(prom_days, 1))
          WHEN 'withdrawn' THEN accepted_at + r_late * make_interval(days => greatest(prom_days, 1))
        END AS ended_at
      FROM a
    )
    SELECT
      ?::text || '-' || to_char(accepted_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
        || lpad(i::text, 7, '0'),
      code, department, kind,
      CASE state WHEN 'concluded' THEN (CASE WHEN r_x < 0.80 THEN 'collected' ELSE 'concluded' END)
                 WHEN 'withdrawn' THEN 'withdrawn' ELSE 'accepted' END,
      CASE state WHEN 'concluded' THEN (CASE WHEN r_x < 0.92 THEN 'approved' ELSE 'denied' END)
                 WHEN 'withdrawn' THEN 'withdrawn' END,
      'counter',
      CASE WHEN r_x < 0.6 THEN 'company' ELSE 'person' END,
      CASE WHEN r_x < 0.6 THEN '深圳市测试企业' || i || '有限公司' ELSE '申请人' || i END,
      CASE WHEN r_x < 0.6
        THEN jsonb_build_object('type', 'company', 'name', '深圳市测试企业' || i || '有限公司')
        ELSE jsonb_build_object('type', 'person', 'name', '申请人' || i) END,
      '["sms"]'::jsonb, '["application-form"]'::jsonb,
      'W' || lpad((1 + (i % 20))::text, 3, '0'), 'clerk-' || department,
      accepted_at - r_x * interval '2 hours', accepted_at, accepted_at,
      statutory_due_at, promised_due_at,
      CASE WHEN state = 'concluded' THEN ended_at END,
      CASE WHEN state = 'withdrawn' OR (state = 'concluded' AND r_x >= 0.80) THEN ended_at END,
      CASE state
        WHEN 'reminder' THEN 'reminder' WHEN 'yellow' THEN 'yellow' WHEN 'red' THEN 'red'
        WHEN 'concluded' THEN (CASE WHEN ended_at > statutory_due_at THEN 'red'
                                    WHEN ended_at > promised_due_at THEN 'yellow'
                                    WHEN ended_at > promised_due_at - interval '1 day'
                                      THEN 'reminder'
                                    ELSE 'none' END)
        ELSE 'none' END,
      accepted_at - r_x * interval '2 hours',
      coalesce(ended_at, accepted_at)
    FROM d
    `,
    [n, total, total, hall],
  );
  await db.raw(`
    INSERT INTO department_tasks (case_number, task_code, department, item_code, role, title,
      status, decision, reasons, officer, opened_at, concluded_at, cancelled_at, cancel_reason,
      statutory_due_at, promised_due_at, warning_level, updated_at)
    SELECT c.case_number, c.item_code, c.department, c.item_code, 'lead', b.name,
      CASE c.status WHEN 'accepted' THEN 'open' WHEN 'withdrawn' THEN 'cancelled'
                    ELSE 'concluded' END,
      CASE WHEN c.concluded_at IS NOT NULL THEN
        (CASE c.outcome WHEN 'denied' THEN 'deny' ELSE 'approve' END) END,
      CASE WHEN c.outcome = 'denied' THEN '申请材料不符合法定条件' END,
      CASE WHEN c.concluded_at IS NOT NULL THEN 'officer-' || c.department END,
      c.accepted_at, c.concluded_at,
      CASE WHEN c.status = 'withdrawn' THEN c.closed_at END,
      CASE WHEN c.status = 'withdrawn' THEN 'the applicant withdrew the application' END,
      c.statutory_due_at, c.promised_due_at, c.warning_level, c.updated_at
    FROM cases c JOIN bench_sup_items b ON b.code = c.item_code
  `);
  await db.raw('DROP TABLE bench_sup_items');
}

/**
 * Runs a bulk load with the secondary indexes of `tables` dropped, and builds them again after
 * (as pg_restore does): the same schema, in a fraction of the time of a million index inserts.
 * Indexes that back a constraint (primary keys, uniques) stay.
 */
export async function withoutSecondaryIndexes(
  db: Knex,
  tables: string[],
  load: () => Promise<void>,
): Promise<{ loadMs: number; indexMs: number }> {
  const indexes = (
    await db.raw(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
       WHERE i.schemaname = current_schema() AND i.tablename = ANY(?)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                         WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
      [tables],
    )
  ).rows as { indexname: string; indexdef: string }[];
  for (const i of indexes) await db.raw(`DROP INDEX ${i.indexname}`);
  const t0 = performance.now();
  let loadMs = 0;
  try {
    await load();
    loadMs = performance.now() - t0;
  } finally {
    await db.transaction(async (trx) => {
      await trx.raw("SET LOCAL maintenance_work_mem = '256MB'");
      for (const i of indexes) await trx.raw(i.indexdef);
    });
  }
  return { loadMs, indexMs: performance.now() - t0 - loadMs };
}

/** The register as autovacuum would leave it: visibility map set, statistics fresh. */
export async function vacuumAnalyze(db: Knex): Promise<void> {
  await db.raw('VACUUM (ANALYZE) cases');
  await db.raw('VACUUM (ANALYZE) department_tasks');
}
