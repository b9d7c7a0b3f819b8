/**
 * The supervision counts (supervision_counts, kept by the register's projection) against the
 * department tasks themselves: after every kind of task event, under concurrent writes, and
 * after the migration that creates and back-fills them is rolled back and applied again.
 * GET /supervision/summary is called through its route handler; the expected answer is a
 * GROUP BY over department_tasks, written here apart from the store. GET /supervision/cases is
 * read back the same way for the tasks that wait for the applicant (awaiting).
 */
import test from 'ava';
import type { Knex } from 'knex';
import { SnapshotCalendar } from '../activities/calendarService';
import { supervisionRoutes } from '../api/supervision/router';
import type { CaseInput, RegisterEvent, TaskChanges } from '../lib/case/model';
import { migrateLatest, migrationConfig } from '../lib/db';
import { RegisterStore } from '../lib/store';
import { freshDatabase } from './support/hall';

const MIGRATION = '20261203000050_supervision_counts.ts';
const endOf = (date: string) => `${date}T15:59:59.999Z`;

interface Fixture {
  db: Knex;
  store: RegisterStore;
  summary: () => Promise<DepartmentSummary[]>;
  /** GET /supervision/cases with the query given (as strings, validated by its schema). */
  list: (query: Record<string, string>) => Promise<ListedTask[]>;
  /** Records a new case, as its workflow's first event. */
  submit: (caseNumber: string, department: string) => Promise<boolean>;
  /** Records one event of a task's stream, or of the case's (its own counter, as a workflow's). */
  record: (
    caseNumber: string,
    action: string,
    task?: TaskChanges,
    tasks?: TaskChanges[],
  ) => Promise<boolean>;
}

/** The fields of a listed task this file reads back. */
interface ListedTask {
  caseNumber: string;
  task: string;
  level: string;
  awaiting: string | null;
}

interface DepartmentSummary {
  department: string;
  open: number;
  none: number;
  reminder: number;
  yellow: number;
  red: number;
  concluded: number;
  onTime: number;
  onTimeRate: number | null;
}

async function setUp(t: import('ava').ExecutionContext): Promise<Fixture> {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const store = new RegisterStore(db);
  const routes = supervisionRoutes(store, new SnapshotCalendar(), 'Asia/Shanghai');
  const route = routes.find((r) => r.path === '/supervision/summary')!;
  const listRoute = routes.find((r) => r.path === '/supervision/cases')!;
  const seqs = new Map<string, number>();
  const next = (stream: string) => {
    const seq = (seqs.get(stream) ?? 0) + 1;
    seqs.set(stream, seq);
    return seq;
  };
  return {
    db,
    store,
    submit: (caseNumber, department) =>
      store.applyEvent(newCase(caseNumber, department, next(caseNumber))),
    summary: async () =>
      ((await route.handler({} as never)).body as { departments: DepartmentSummary[] }).departments,
    list: async (query) => {
      const input = { query: listRoute.query!.parse(query) } as never;
      return ((await listRoute.handler(input)).body as { tasks: ListedTask[] }).tasks;
    },
    record: (caseNumber, action, task, tasks) => {
      const stream = task ? `${caseNumber}/${task.taskCode}` : caseNumber;
      return store.applyEvent(
        buildEvent(caseNumber, stream, next(stream), action, { task, tasks }),
      );
    },
  };
}

function buildEvent(
  caseNumber: string,
  stream: string,
  seq: number,
  action: string,
  extra: Partial<RegisterEvent>,
): RegisterEvent {
  return {
    caseNumber,
    stream,
    seq,
    at: '2026-10-01T02:00:00.000Z',
    actor: { id: 'onedoor', role: 'system' },
    action,
    ...extra,
  };
}

/** A case row for the tasks to hang on (department_tasks references cases). */
function newCase(caseNumber: string, department: string, seq: number): RegisterEvent {
  const input = {
    caseNumber,
    item: { code: `${department}-item`, department, kind: 'promised' },
    applicant: { type: 'company', name: '测试企业有限公司' },
    channels: ['sms'],
    materials: ['application-form'],
    submittedBy: { id: 'clerk-1', role: 'clerk', counter: 'C01' },
    receivedAt: '2026-09-28T02:00:00.000Z',
    source: 'counter',
  } as unknown as CaseInput;
  return buildEvent(caseNumber, caseNumber, seq, 'submitted', { newCase: input });
}

/** A task opened on 09-28 with a promised end of 10-16 and a statutory end of 10-30. */
function opened(taskCode: string, department: string): TaskChanges {
  return {
    taskCode,
    department,
    itemCode: `${department}-item`,
    role: 'lead',
    title: taskCode,
    status: 'open',
    openedAt: '2026-09-28T02:00:00.000Z',
    promisedDueAt: endOf('2026-10-16'),
    statutoryDueAt: endOf('2026-10-30'),
    warningLevel: 'none',
  };
}

/** The summary worked out from department_tasks by GROUP BY, apart from the counts. */
async function summaryFromTasks(db: Knex): Promise<DepartmentSummary[]> {
  const open = (
    await db.raw(`SELECT department, warning_level, count(*)::int AS n FROM department_tasks
                  WHERE status = 'open' GROUP BY department, warning_level`)
  ).rows as { department: string; warning_level: string; n: number }[];
  const done = (
    await db.raw(`SELECT department, count(*)::int AS concluded,
                    count(*) FILTER (WHERE concluded_at <= promised_due_at)::int AS on_time
                  FROM department_tasks WHERE status = 'concluded' GROUP BY department`)
  ).rows as { department: string; concluded: number; on_time: number }[];
  const byDepartment = new Map<string, DepartmentSummary>();
  const row = (department: string) => {
    const blank = { department, open: 0, none: 0, reminder: 0, yellow: 0, red: 0 };
    const r = byDepartment.get(department) ?? {
      ...blank,
      concluded: 0,
      onTime: 0,
      onTimeRate: null,
    };
    byDepartment.set(department, r);
    return r;
  };
  for (const o of open) {
    const r = row(o.department);
    r[o.warning_level as 'none' | 'reminder' | 'yellow' | 'red'] = o.n;
    r.open += o.n;
  }
  for (const d of done) {
    Object.assign(row(d.department), {
      concluded: d.concluded,
      onTime: d.on_time,
      onTimeRate: d.on_time / d.concluded,
    });
  }
  return [...byDepartment.values()].sort((a, b) => a.department.localeCompare(b.department));
}

/**
 * Six market tasks and two health tasks through every kind of event: M1 stays open; M2 warns
 * reminder, yellow, red; M3 concludes on time (10-15, before its promised end of 10-16); M4
 * concludes late (10-20); M5 is cancelled; M6 warns and then concludes on its statutory day.
 * H1 and H2 open together (one event, as a joint case's plan) and H1 goes yellow.
 */
async function playMix(f: Fixture): Promise<void> {
  const market = ['M1', 'M2', 'M3', 'M4', 'M5', 'M6'];
  for (const code of market) {
    await f.submit(`C-${code}`, 'market');
    await f.record(`C-${code}`, 'taskOpened', opened(code, 'market'));
  }
  await f.submit('C-H', 'health');
  await f.record('C-H', 'accepted', undefined, [opened('H1', 'health'), opened('H2', 'health')]);

  for (const level of ['reminder', 'yellow', 'red']) {
    await f.record('C-M2', 'warningRaised', { taskCode: 'M2', warningLevel: level });
  }
  const conclude = (code: string, concludedAt: string): TaskChanges => ({
    taskCode: code,
    status: 'concluded',
    decision: 'approve',
    officer: 'officer-market-1',
    concludedAt,
  });
  await f.record('C-M3', 'taskConcluded', conclude('M3', '2026-10-15T03:00:00.000Z'));
  await f.record('C-M4', 'warningRaised', { taskCode: 'M4', warningLevel: 'yellow' });
  await f.record('C-M4', 'taskConcluded', conclude('M4', '2026-10-20T03:00:00.000Z'));
  await f.record('C-M5', 'taskCancelled', {
    taskCode: 'M5',
    status: 'cancelled',
    cancelledAt: '2026-10-02T03:00:00.000Z',
    cancelReason: 'the applicant withdrew the application',
  });
  await f.record('C-M6', 'warningRaised', { taskCode: 'M6', warningLevel: 'yellow' });
  await f.record('C-M6', 'taskConcluded', conclude('M6', '2026-10-30T03:00:00.000Z'));
  await f.record('C-H', 'warningRaised', { taskCode: 'H1', warningLevel: 'yellow' });
}

test('the summary equals a GROUP BY of the tasks after every kind of task event', async (t) => {
  const f = await setUp(t);
  await playMix(f);

  const summary = await f.summary();
  t.deepEqual(summary, await summaryFromTasks(f.db));
  // Counted by hand from playMix: market has M1 open (none) and M2 red; M3, M4 and M6
  // concluded, of which only M3 by 10-16; health has H1 yellow and H2 none, nothing concluded.
  t.deepEqual(summary, [
    {
      department: 'health',
      ...{ open: 2, none: 1, reminder: 0, yellow: 1, red: 0 },
      ...{ concluded: 0, onTime: 0, onTimeRate: null },
    },
    {
      department: 'market',
      ...{ open: 2, none: 1, reminder: 0, yellow: 0, red: 1 },
      ...{ concluded: 3, onTime: 1, onTimeRate: 1 / 3 },
    },
  ]);
});

test('an event replayed into the register changes no count', async (t) => {
  const f = await setUp(t);
  await f.submit('C-1', 'fire');
  const event = buildEvent('C-1', 'C-1/F1', 1, 'taskOpened', { task: opened('F1', 'fire') });
  t.true(await f.store.applyEvent(event));
  t.false(await f.store.applyEvent(event));
  const [fire] = await f.summary();
  t.like(fire, { department: 'fire', open: 1, none: 1 });
});

test('concurrent writes to one department lose no count and do not deadlock', async (t) => {
  const f = await setUp(t);
  const codes = Array.from({ length: 24 }, (_, i) => `T${String(i).padStart(2, '0')}`);
  for (const code of codes) await f.submit(`C-${code}`, 'market');
  // Every step of the 24 tasks at once (the pool holds 10 connections): open, warn, then half
  // conclude while the other half go red; the joint events touch market and health in opposite
  // orders, the shape that deadlocks when counter rows are locked in event order.
  await Promise.all(codes.map((c) => f.record(`C-${c}`, 'taskOpened', opened(c, 'market'))));
  await Promise.all(
    codes.map((c) => f.record(`C-${c}`, 'warningRaised', { taskCode: c, warningLevel: 'yellow' })),
  );
  await Promise.all(
    codes.map((c, i) =>
      i % 2 === 0
        ? f.record(`C-${c}`, 'taskConcluded', {
            taskCode: c,
            status: 'concluded',
            decision: 'approve',
            concludedAt: '2026-10-16T01:00:00.000Z',
          })
        : f.record(`C-${c}`, 'warningRaised', { taskCode: c, warningLevel: 'red' }),
    ),
  );
  for (let i = 0; i < 8; i++) await f.submit(`J-${i}`, 'market');
  await Promise.all(
    Array.from({ length: 8 }, (_, i) => {
      const pair = [opened(`JM${i}`, 'market'), opened(`JH${i}`, 'health')];
      return f.record(`J-${i}`, 'accepted', undefined, i % 2 === 0 ? pair : pair.reverse());
    }),
  );

  const summary = await f.summary();
  t.deepEqual(summary, await summaryFromTasks(f.db));
  // 12 red and 8 joint tasks open (none) in market, 12 concluded on time; 8 open in health.
  t.like(
    summary.find((d) => d.department === 'market'),
    {
      open: 20,
      none: 8,
      red: 12,
      concluded: 12,
      onTime: 12,
    },
  );
  t.like(
    summary.find((d) => d.department === 'health'),
    { open: 8, none: 8 },
  );
});

test('the migration back-fills the counts from the tasks after a rollback and again', async (t) => {
  const f = await setUp(t);
  await playMix(f);

  await f.db.migrate.down({ ...migrationConfig, name: MIGRATION });
  t.false(await f.db.schema.hasTable('supervision_counts'));
  // Changed while the counts are gone (as an older version of the hall would): M1 concludes on
  // time, by SQL, outside the store.
  await f
    .db('department_tasks')
    .where({ case_number: 'C-M1', task_code: 'M1' })
    .update({ status: 'concluded', concluded_at: '2026-10-10T03:00:00.000Z' });
  await f.db.migrate.up({ ...migrationConfig, name: MIGRATION });

  const summary = await f.summary();
  t.deepEqual(summary, await summaryFromTasks(f.db));
  t.like(
    summary.find((d) => d.department === 'market'),
    {
      open: 1,
      red: 1,
      concluded: 4,
      onTime: 2,
      onTimeRate: 0.5,
    },
  );
  // The store keeps counting from the back-filled rows.
  await f.record('C-M2', 'taskConcluded', {
    taskCode: 'M2',
    status: 'concluded',
    decision: 'deny',
    concludedAt: '2026-11-02T03:00:00.000Z',
  });
  t.deepEqual(await f.summary(), await summaryFromTasks(f.db));
});

test('the supervision list shows and filters the tasks waiting for the applicant', async (t) => {
  const f = await setUp(t);
  // A1 asked for materials (its clock stopped, no warning); A2 asked and went yellow; A3 asked
  // and got them; A4 went yellow waiting for nobody.
  for (const code of ['A1', 'A2', 'A3', 'A4']) {
    await f.submit(`C-${code}`, 'market');
    await f.record(`C-${code}`, 'taskOpened', opened(code, 'market'));
  }
  for (const code of ['A1', 'A2', 'A3']) {
    await f.record(`C-${code}`, 'materialsRequested', { taskCode: code, awaiting: 'applicant' });
  }
  await f.record('C-A3', 'resumed', { taskCode: 'A3', awaiting: null });
  for (const code of ['A2', 'A4']) {
    await f.record(`C-${code}`, 'warningRaised', { taskCode: code, warningLevel: 'yellow' });
  }

  const awaiting = await f.list({ awaiting: 'applicant' });
  // Whatever their level, none included: A1 and A2, in case-number order (same promised date).
  t.deepEqual(
    awaiting.map((r) => [r.task, r.level, r.awaiting]),
    [
      ['A1', 'none', 'applicant'],
      ['A2', 'yellow', 'applicant'],
    ],
  );
  const yellow = await f.list({ level: 'yellow', department: 'market' });
  t.deepEqual(
    yellow.map((r) => [r.task, r.awaiting]),
    [
      ['A2', 'applicant'],
      ['A4', null],
    ],
  );
  t.deepEqual(
    (await f.list({ level: 'yellow', awaiting: 'applicant' })).map((r) => r.task),
    ['A2'],
  );
  // Only the applicant can be waited for: another value fails the query's schema (a 422).
  const schema = supervisionRoutes(f.store, new SnapshotCalendar(), 'Asia/Shanghai').find(
    (r) => r.path === '/supervision/cases',
  )!.query!;
  t.false(schema.safeParse({ awaiting: 'department' }).success);
});
