/**
 * Case bench: N food business licence cases through the hall's real REST API, C clients at a
 * time (submit, accept, approve, wait for the conclusion, collect), then N bare workflows of the
 * same shape straight through the Temporal client (bench/bareWorkflows.ts), on the same fresh
 * dev server. The ratio of the two is what the hall costs above Temporal itself.
 *
 * Usage: npm run bench -- [--cases N] [--concurrency C] [--temporal-port P] [--ui-port U]
 *        (N defaults to 500, C to 8, P/U to 7260/8260; or npx tsx bench/cases.ts ...)
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import Table from 'cli-table3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import knex from 'knex';
import { startApi } from '../cli/api';
import { HallClient } from '../cli/driver';
import { createHallWorker } from '../cli/worker';
import { taskWorkflowId } from '../lib/case/model';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { openRuntime } from '../lib/runtime';
import { buildApplication } from '../test/support/builders';
import {
  bareAcceptUpdate,
  bareCaseWorkflow,
  bareCollectUpdate,
  bareConcludeUpdate,
  bareRegisteredUpdate,
  bareStatusQuery,
  type BareActivities,
} from './bareWorkflows';

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
  const options: Options = { cases: 500, concurrency: 8, temporalPort: 7260, uiPort: 8260 };
  const flags: Record<string, keyof Options> = {
    '--cases': 'cases',
    '--concurrency': 'concurrency',
    '-c': 'concurrency',
    '--temporal-port': 'temporalPort',
    '--ui-port': 'uiPort',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const key = flags[flag];
    if (!key) continue; // another bench's option: bench/run.ts hands every bench the same argv
    const value = Number(inline ?? argv[++i]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} needs a positive integer`);
    options[key] = value;
  }
  return options;
}

/** What one case cost its client. */
interface CaseTiming {
  /** Submission and acceptance: what the applicant waits for at the counter. */
  intakeMs: number;
  /** Submission to collection. */
  caseMs: number;
  id: string;
}

/** The figures of one phase. */
interface Phase {
  timings: CaseTiming[];
  failures: string[];
  wallMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + CASE_TIMEOUT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${CASE_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Plays n cases with `concurrency` clients, each taking the next case when it is done. */
async function drive(
  n: number,
  concurrency: number,
  play: (i: number) => Promise<CaseTiming>,
): Promise<Phase> {
  const timings: CaseTiming[] = [];
  const failures: string[] = [];
  let next = 0;
  const started = performance.now();
  const client = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      try {
        timings.push(await play(i));
      } catch (err) {
        failures.push(`case ${i}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, client));
  return { timings, failures, wallMs: performance.now() - started };
}

/** Nearest-rank percentile (as bench/documents.ts): of 100 samples p99 is the 99th. */
function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

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

/** A stack of things to undo, run last-in first-out even when an earlier undo fails. */
class Cleanup {
  private readonly steps: { what: string; undo: () => Promise<unknown> }[] = [];

  add(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (err) {
        console.error(`cleanup: ${step.what} failed: ${(err as Error).message}`);
      }
    }
  }
}

const exec = promisify(execFile);

/** Starts a dev server of the bench's own on a throwaway SQLite file (scripts/temporal-dev.sh). */
async function startTemporal(options: Options, cleanup: Cleanup, runId: string): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'temporal-dev.sh');
  const db = path.join(REPO_ROOT, '.data', 'temporal', `bench-${runId}.db`);
  const name = 'bench';
  // The script does nothing when TEMPORAL_ADDRESS is set: this server must be the bench's own.
  const env = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  const args = ['--port', String(options.temporalPort), '--ui-port', String(options.uiPort)];
  cleanup.add('removing the bench dev server db', () =>
    Promise.all(['', '-wal', '-shm', '-journal'].map((s) => rm(`${db}${s}`, { force: true }))),
  );
  cleanup.add('stopping the bench dev server', () =>
    exec('bash', [script, 'stop', '--name', name], { env }),
  );
  try {
    await exec('bash', [script, 'start', ...args, '--db', db, '--name', name], { env });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`the bench dev server did not start:\n${stderr.trim()}`);
  }
  return `127.0.0.1:${options.temporalPort}`;
}

/** A fresh register database, migrated and seeded; dropped at cleanup. */
async function freshRegister(cleanup: Cleanup, runId: string): Promise<string> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';
  const name = `onedoor_bench_${runId}`;
  const admin = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  cleanup.add('closing the admin connection', () => admin.destroy());
  await admin.raw(`CREATE DATABASE ${name}`);
  cleanup.add(`dropping ${name}`, () => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The hall phase: worker and API in this process, its clients calling the API over HTTP. */
async function benchHall(
  options: Options,
  temporalAddress: string,
  databaseUrl: string,
  warmup: number,
) {
  const cleanup = new Cleanup();
  try {
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: `bench-hall-${randomBytes(3).toString('hex')}`,
      CASE_NUMBER_PREFIX: 'BENCH',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      DOCUMENTS_PDF: 'off',
      // No mail server or SMS gateway runs here: both channels off, as in the tests. The
      // notify activities still run (and record each notice as not sent by that channel).
      SMTP_URL: '',
      SMS_GATEWAY_URL: '',
      DEV_TOKENS: 'on',
    });
    const runtime = await openRuntime(config, { migrate: true });
    cleanup.add('closing the register pool', () => runtime.db.destroy());
    await runtime.store.seedCatalog(runtime.catalog);

    const workerConnection = await NativeConnection.connect({ address: temporalAddress });
    cleanup.add('closing the worker connection', () => workerConnection.close());
    const { worker, close } = await createHallWorker(config, runtime, workerConnection);
    cleanup.add('closing the document service', close);
    const running = worker.run();
    cleanup.add('stopping the hall worker', async () => {
      worker.shutdown();
      await running;
    });

    const connection = await Connection.connect({ address: temporalAddress });
    cleanup.add('closing the client connection', () => connection.close());
    const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const server: Server = await startApi(config, runtime, temporal);
    cleanup.add('closing the API', () => new Promise((resolve) => server.close(resolve)));
    const api = new HallClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);

    type CaseBody = { case: { caseNumber: string; status: string } };
    const play = async (): Promise<CaseTiming> => {
      const t0 = performance.now();
      const created = await api.call<CaseBody>(
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
        const detail = await api.call<CaseBody>('GET', at, CLERK);
        return detail.case.status === 'concluded';
      }, `${id} concluded`);
      const collected = await api.call<CaseBody>('POST', `${at}/collection`, CLERK);
      if (collected.case.status !== 'collected') {
        throw new Error(`${id} is ${collected.case.status} after collection`);
      }
      return { intakeMs, caseMs: performance.now() - t0, id };
    };

    const warm = await drive(warmup, options.concurrency, play);
    if (warm.failures.length > 0) throw new Error(`hall warm-up failed: ${warm.failures[0]}`);
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

/** No-op activities named after the hall's: the bare phase measures Temporal alone. */
const bareActivities: BareActivities = {
  recordEvent: async () => true,
  computeClock: async () => '',
  computeDeadline: async () => '',
  notify: async () => '',
  deliverTask: async () => '',
  issueDocument: async () => '',
};

/** The bare phase: the same shape of workflows, driven through the Temporal client directly. */
async function benchBare(options: Options, temporalAddress: string, warmup: number) {
  const cleanup = new Cleanup();
  try {
    const taskQueue = `bench-bare-${randomBytes(3).toString('hex')}`;
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./bareWorkflows'),
      logger: new DefaultLogger('WARN'),
    });
    const workerConnection = await NativeConnection.connect({ address: temporalAddress });
    cleanup.add('closing the worker connection', () => workerConnection.close());
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle,
      activities: bareActivities,
    });
    const running = worker.run();
    cleanup.add('stopping the bare worker', async () => {
      worker.shutdown();
      await running;
    });

    const connection = await Connection.connect({ address: temporalAddress });
    cleanup.add('closing the client connection', () => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    const prefix = `bare-${randomBytes(3).toString('hex')}`;
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

    const warm = await drive(warmup, options.concurrency, play);
    if (warm.failures.length > 0) throw new Error(`bare warm-up failed: ${warm.failures[0]}`);
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
  loadBefore: number[],
): void {
  const figures = (phase: Phase) => {
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

  const table = new Table({
    head: ['', 'hall (REST API)', 'bare Temporal', 'hall / bare'],
    colAligns: ['left', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
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

  const cpus = os.cpus();
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(
    `\ncase bench: ${options.cases} cases of ${ITEM}, ${options.concurrency} concurrent clients`,
  );
  console.log(table.toString());
  console.log(
    [
      `machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ` +
        `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; the dev server, ` +
        `PostgreSQL and this process share them; load average ${load(loadBefore)} at the ` +
        `start, ${load(os.loadavg())} at the end (1, 5, 15 min: any other work on the ` +
        `machine counts against these figures).`,
      `servers: Temporal dev server (start-dev, SQLite) of its own at ${temporalAddress}; ` +
        `PostgreSQL 15 (synchronous_commit=off), fresh database.`,
      'documents: DOCUMENTS_PDF=off — receipts and approval notices are rendered to HTML and ' +
        'stored, not printed to PDF; PDF rendering is measured by bench/documents.ts.',
      'intake: POST /cases + POST /cases/:n/intake accept (bare: start + registered update + ' +
        'accept update).',
      'case: submission → accept → approve → concluded → collected, a client asking every ' +
        `${POLL_MS} ms whether the conclusion has been joined (hall: GET /cases/:n; bare: a query).`,
      `hall: API, worker and clients in this process; bare: worker and clients, no-op activities. ` +
        `${warmup} warm-up cases per phase, not counted.`,
      `activities per case (mean of ${SAMPLED_CASES} sampled): hall ${describe(hall.activities)}; ` +
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
      `${label}: ${phase.failures.length} cases failed; first: ${phase.failures.slice(0, 3).join(' | ')}`,
    );
  }
}

/** Runs the case bench (bench/run.ts calls it with the command line's arguments). */
export async function run(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const warmup = Math.min(options.cases, Math.max(options.concurrency, 10));
  const runId = randomBytes(4).toString('hex');
  const loadBefore = os.loadavg();
  const cleanup = new Cleanup();
  const interrupted = () => {
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    console.log(
      `case bench: starting a dev server on ${options.temporalPort} and a fresh register`,
    );
    const temporalAddress = await startTemporal(options, cleanup, runId);
    const databaseUrl = await freshRegister(cleanup, runId);
    console.log(`case bench: hall phase (${warmup} warm-up + ${options.cases} cases)`);
    const hall = await benchHall(options, temporalAddress, databaseUrl, warmup);
    console.log(`case bench: bare phase (${warmup} warm-up + ${options.cases} workflows)`);
    const bare = await benchBare(options, temporalAddress, warmup);
    report(options, warmup, temporalAddress, hall, bare, loadBefore);
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
