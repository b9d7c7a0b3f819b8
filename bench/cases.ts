/**
 * Case bench: N food business licence cases through the hall's real REST API, C clients at a
 * time (submit, accept, approve, wait for the conclusion, collect), then N bare workflows of the
 * same shape straight through the Temporal client (bench/bareWorkflows.ts), on the same fresh
 * dev server. The ratio of the two is what the hall costs above Temporal itself.
 *
 * Usage: npm run bench -- [--cases N] [--concurrency C] [--temporal-port P] [--ui-port U]
 *        (N defaults to 500, C to 8, P/U to 7260/8260; or npx tsx bench/cases.ts ...)
 */
import type { Client } from '@temporalio/client';
import { HallClient } from '../cli/driver';
import { taskWorkflowId } from '../lib/case/model';
import { buildApplication } from '../test/support/builders';
import {
  bareAcceptUpdate,
  bareCaseWorkflow,
  bareCollectUpdate,
  bareConcludeUpdate,
  bareRegisteredUpdate,
  bareStatusQuery,
} from './bareWorkflows';
import {
  type BenchSummary,
  type Cleanup,
  drive,
  figureTable,
  integerFlags,
  loadAverage,
  machine,
  percentile,
  type Phase,
  runIfMain,
  until as poll,
  warmUp,
  withCleanup,
} from './harness';
import {
  benchConfig,
  freshDatabase,
  randomId,
  startBareWorker,
  startDevServer,
  startHall,
} from './servers';

const ITEM = 'market-food-business-licence';
const CLERK = 'dev-clerk-market';
const OFFICER = 'dev-officer-market';
/** How often a client looks whether the conclusion has been joined (both phases alike). */
const POLL_MS = 20;
/** A case not collected within this is counted as failed. */
const CASE_TIMEOUT_MS = 120_000;

/** Options of one run. */
interface Options {
  cases: number;
  concurrency: number;
  temporalPort: number;
  uiPort: number;
}

function parseOptions(argv: string[]): Options {
  return {
    cases: 500,
    concurrency: 8,
    temporalPort: 7260,
    uiPort: 8260,
    ...integerFlags(argv, {
      '--cases': 'cases',
      '--concurrency': 'concurrency',
      '-c': 'concurrency',
      '--temporal-port': 'temporalPort',
      '--ui-port': 'uiPort',
    }),
  };
}

/** What one case cost its client. */
interface CaseTiming {
  /** Submission and acceptance: what the applicant waits for at the counter. */
  intakeMs: number;
  /** Submission to collection. */
  caseMs: number;
  id: string;
}

const until = (probe: () => Promise<boolean>, what: string) =>
  poll(probe, what, { timeoutMs: CASE_TIMEOUT_MS, everyMs: POLL_MS });

/** Cases whose histories are read to count their activity calls, spread over the phase. */
const SAMPLED_CASES = 20;

/**
 * Activity calls per case by type, the mean over a sample of cases (a case and its task's
 * histories): a task's delivery races its conclusion, so one case is not the whole story.
 */
async function countActivities(
  client: Client,
  timings: CaseTiming[],
  workflowIdsOf: (id: string) => string[],
): Promise<Map<string, number>> {
  const step = Math.max(1, Math.floor(timings.length / SAMPLED_CASES));
  const sample = timings.filter((_, i) => i % step === 0).slice(0, SAMPLED_CASES);
  const counts = new Map<string, number>();
  for (const { id } of sample) {
    for (const workflowId of workflowIdsOf(id)) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      for (const event of history.events ?? []) {
        const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
        if (name) counts.set(name, (counts.get(name) ?? 0) + 1 / sample.length);
      }
    }
  }
  return counts;
}

const total = (counts: Map<string, number>): number =>
  [...counts.values()].reduce((a, b) => a + b, 0);

/** `computeClock 2, deliverTask 0.4, …`: by name, so two counts read side by side. */
const describe = (counts: Map<string, number>): string =>
  [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${Number(n.toFixed(1))}`)
    .join(', ');

/** Activity types whose mean calls per case differ by three quarters of a call or more. */
function parting(hall: Map<string, number>, bare: Map<string, number>): string[] {
  const names = new Set([...hall.keys(), ...bare.keys()]);
  return [...names].filter((n) => Math.abs((hall.get(n) ?? 0) - (bare.get(n) ?? 0)) >= 0.75);
}

type HallBody = { case: { caseNumber: string; status: string } };

/** The hall phase: worker and API in this process, its clients calling the API over HTTP. */
async function benchHall(
  options: Options,
  temporalAddress: string,
  databaseUrl: string,
  warmup: number,
  parent: Cleanup,
) {
  const cleanup = parent.nested('the hall phase');
  try {
    const config = benchConfig(databaseUrl, temporalAddress, 'bench-hall', {
      CASE_NUMBER_PREFIX: 'BENCH',
    });
    const { runtime, temporal, apiUrl } = await startHall(cleanup, config);
    const api = new HallClient(apiUrl);

    const play = async (): Promise<CaseTiming> => {
      const t0 = performance.now();
      const created = await api.call<HallBody>(
        'POST',
        '/cases',
        CLERK,
        buildApplication({ item: ITEM }),
      );
      const id = created.case.caseNumber;
      const at = `/cases/${encodeURIComponent(id)}`;
      await api.call('POST', `${at}/intake`, CLERK, { decision: 'accept' });
      const intakeMs = performance.now() - t0;
      await api.call('POST', `${at}/conclusion`, OFFICER, { decision: 'approve' });
      await until(async () => {
        const detail = await api.call<HallBody>('GET', at, CLERK);
        return detail.case.status === 'concluded';
      }, `${id} concluded`);
      const collected = await api.call<HallBody>('POST', `${at}/collection`, CLERK);
      if (collected.case.status !== 'collected') {
        throw new Error(`${id} is ${collected.case.status} after collection`);
      }
      return { intakeMs, caseMs: performance.now() - t0, id };
    };

    await warmUp('hall', warmup, options.concurrency, play);
    const phase = await drive(options.cases, options.concurrency, play);

    const activities = await countActivities(temporal, phase.timings, (id) => [
      id,
      taskWorkflowId(id, ITEM),
    ]);
    const register = (await runtime
      .db('cases')
      .select('status')
      .count({ n: '*' })
      .groupBy('status')) as {
      status: string;
      n: string;
    }[];
    return { phase, activities, register };
  } finally {
    await cleanup.run();
  }
}

/** The bare phase: the same shape of workflows, driven through the Temporal client directly. */
async function benchBare(
  options: Options,
  temporalAddress: string,
  warmup: number,
  parent: Cleanup,
) {
  const cleanup = parent.nested('the bare phase');
  try {
    const { taskQueue, client } = await startBareWorker(cleanup, temporalAddress, 'bench-bare');

    const prefix = `bare-${randomId(3)}`;
    let serial = 0;
    const play = async (): Promise<CaseTiming> => {
      const id = `${prefix}-${String(serial++).padStart(5, '0')}`;
      const t0 = performance.now();
      const handle = await client.workflow.start(bareCaseWorkflow, { workflowId: id, taskQueue });
      await handle.executeUpdate(bareRegisteredUpdate);
      await handle.executeUpdate(bareAcceptUpdate);
      const intakeMs = performance.now() - t0;
      await client.workflow.getHandle(`${id}/task`).executeUpdate(bareConcludeUpdate);
      await until(
        async () => (await handle.query(bareStatusQuery)) === 'concluded',
        `${id} concluded`,
      );
      const status = await handle.executeUpdate(bareCollectUpdate);
      if (status !== 'collected') throw new Error(`${id} is ${status} after collection`);
      return { intakeMs, caseMs: performance.now() - t0, id };
    };

    await warmUp('bare', warmup, options.concurrency, play);
    const phase = await drive(options.cases, options.concurrency, play);
    const activities = await countActivities(client, phase.timings, (id) => [id, `${id}/task`]);
    return { phase, activities };
  } finally {
    await cleanup.run();
  }
}

function report(
  options: Options,
  warmup: number,
  temporalAddress: string,
  hall: Awaited<ReturnType<typeof benchHall>>,
  bare: Awaited<ReturnType<typeof benchBare>>,
  loadBefore: string,
): BenchSummary {
  const figures = (phase: Phase<CaseTiming>) => {
    const intake = phase.timings.map((t) => t.intakeMs);
    const whole = phase.timings.map((t) => t.caseMs);
    return {
      done: phase.timings.length,
      intakeP50: percentile(intake, 50),
      intakeP99: percentile(intake, 99),
      caseP50: percentile(whole, 50),
      caseP99: percentile(whole, 99),
      perSecond: (phase.timings.length / phase.wallMs) * 1000,
      wallS: phase.wallMs / 1000,
    };
  };
  const h = figures(hall.phase);
  const b = figures(bare.phase);
  const ms = (v: number) => v.toFixed(1);
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;

  const table = figureTable(['', 'hall (REST API)', 'bare Temporal', 'hall / bare']);
  table.push(
    ['cases collected', `${h.done} of ${options.cases}`, `${b.done} of ${options.cases}`, ''],
    ['intake p50 (ms)', ms(h.intakeP50), ms(b.intakeP50), ratio(h.intakeP50, b.intakeP50)],
    ['intake p99 (ms)', ms(h.intakeP99), ms(b.intakeP99), ratio(h.intakeP99, b.intakeP99)],
    ['case p50 (ms)', ms(h.caseP50), ms(b.caseP50), ratio(h.caseP50, b.caseP50)],
    ['case p99 (ms)', ms(h.caseP99), ms(b.caseP99), ratio(h.caseP99, b.caseP99)],
    [
      'cases per second',
      h.perSecond.toFixed(2),
      b.perSecond.toFixed(2),
      ratio(h.perSecond, b.perSecond),
    ],
    ['wall time (s)', h.wallS.toFixed(1), b.wallS.toFixed(1), ratio(h.wallS, b.wallS)],
    [
      'activities per case',
      total(hall.activities).toFixed(1),
      total(bare.activities).toFixed(1),
      '',
    ],
  );

  console.log(
    `\ncase bench: ${options.cases} cases of ${ITEM}, ${options.concurrency} concurrent clients`,
  );
  console.log(table.toString());
  console.log(
    [
      `machine: ${machine()}; the dev server, ` +
        `PostgreSQL and this process share them; load average ${loadBefore} at the ` +
        `start, ${loadAverage()} at the end (1, 5, 15 min: any other work on the ` +
        `machine counts against these figures).`,
      `servers: Temporal dev server (start-dev, SQLite) of its own at ${temporalAddress}; ` +
        `PostgreSQL 15 (synchronous_commit=off), fresh database.`,
      'documents: DOCUMENTS_PDF=off — receipts and approval notices are rendered to HTML and ' +
        'stored, not printed to PDF; PDF rendering is measured by bench/documents.ts.',
      'intake: POST /cases + POST /cases/:n/intake accept (bare: start + registered update + ' +
        'accept update).',
      'case: submission → accept → approve → concluded → collected, a client asking every ' +
        `${POLL_MS} ms whether the conclusion has been joined ` +
        '(hall: GET /cases/:n; bare: a query).',
      'hall: API, worker and clients in this process; bare: worker and clients, no-op ' +
        'activities. ' +
        `${warmup} warm-up cases per phase, not counted.`,
      `activities per case (mean of ${SAMPLED_CASES} sampled): ` +
        `hall ${describe(hall.activities)}; ` +
        `bare ${describe(bare.activities)}.`,
      'notifications: SMTP_URL and SMS_GATEWAY_URL empty (no mail server or gateway runs): the ' +
        'notify activities run, no message leaves.',
      `register: ${hall.register.map((r) => `${r.n} ${r.status}`).join(', ')} (warm-up included).`,
    ].join('\n'),
  );

  // The case workflows change; the comparison means something only while the shapes match.
  const parted = parting(hall.activities, bare.activities);
  if (parted.length > 0) {
    console.log(
      `warning: hall and bare cases differ in ${parted.join(', ')} calls; ` +
        'bench/bareWorkflows.ts no longer mirrors the case workflows.',
    );
  }
  for (const [label, phase] of [
    ['hall', hall.phase],
    ['bare', bare.phase],
  ] as const) {
    if (phase.failures.length === 0) continue;
    process.exitCode = 1;
    console.log(
      `${label}: ${phase.failures.length} cases failed; ` +
        `first: ${phase.failures.slice(0, 3).join(' | ')}`,
    );
  }
  return {
    figures: [
      `hall ${h.perSecond.toFixed(2)} cases/s, bare ${b.perSecond.toFixed(2)} ` +
        `(${ratio(h.perSecond, b.perSecond)})`,
      `intake p50 ${ms(h.intakeP50)} ms (bare ${ms(b.intakeP50)})`,
      `case p50 ${ms(h.caseP50)} ms, p99 ${ms(h.caseP99)} ms`,
    ],
  };
}

/** Runs the case bench (bench/run.ts calls it with the command line's arguments). */
export async function run(argv: string[]): Promise<BenchSummary> {
  const options = parseOptions(argv);
  const warmup = Math.min(options.cases, Math.max(options.concurrency, 10));
  const loadBefore = loadAverage();
  return withCleanup('case bench', async (cleanup) => {
    console.log(
      `case bench: starting a dev server on ${options.temporalPort} and a fresh register`,
    );
    const server = await startDevServer(cleanup, {
      name: 'bench',
      port: options.temporalPort,
      uiPort: options.uiPort,
    });
    const { url: databaseUrl } = await freshDatabase(cleanup, 'onedoor_bench');
    console.log(`case bench: hall phase (${warmup} warm-up + ${options.cases} cases)`);
    const hall = await benchHall(options, server.address, databaseUrl, warmup, cleanup);
    console.log(`case bench: bare phase (${warmup} warm-up + ${options.cases} workflows)`);
    const bare = await benchBare(options, server.address, warmup, cleanup);
    return report(options, warmup, server.address, hall, bare, loadBefore);
  });
}

runIfMain(module, run);
