/**
 * Joint case bench: N private-hospital cases (six department tasks, five of them opened at
 * acceptance, the practice registration after the establishment approval) through the hall's
 * REST API, C clients at a time, then N bare joint workflows of the same shape
 * (bench/bareWorkflows.ts: a parent and six bare task children with no-op activities) on the
 * same fresh dev server. It reports the fan-out latency — from the clerk's acceptance until
 * every department whose prerequisites are met has its task, i.e. a taskOpened row in the
 * register (the hall inbox; no department runs its own system here, so no webhook is waited
 * for) — and joint cases per second against the bare floor (goal: at least 80 %).
 *
 * Usage: npm run bench -- --only joint [--joint-cases N] [--joint-concurrency C]
 *        [--joint-temporal-port P] (N defaults to 100, C to 8, P to 7320, its UI on P + 1000)
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
import knex, { type Knex } from 'knex';
import { startApi } from '../cli/api';
import { HallClient } from '../cli/driver';
import { createHallWorker } from '../cli/worker';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { openRuntime } from '../lib/runtime';
import { buildCompany } from '../test/support/builders';
import {
  bareAcceptUpdate,
  bareCollectUpdate,
  bareConcludeUpdate,
  bareJointCaseWorkflow,
  bareRegisteredUpdate,
  bareStatusQuery,
  type BareActivities,
  type BareTaskPlan,
} from './bareWorkflows';

const ITEM = 'joint-open-private-hospital';
const CLERK = 'dev-clerk-health';
const POLL_MS = 10;
const CASE_TIMEOUT_MS = 180_000;
/** The goal of issue 4: the hall does at least this share of the bare floor's joint cases. */
const GOAL = 0.8;

interface Options {
  cases: number;
  concurrency: number;
  temporalPort: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { cases: 100, concurrency: 8, temporalPort: 7320 };
  const flags: Record<string, keyof Options> = {
    '--joint-cases': 'cases',
    '--joint-concurrency': 'concurrency',
    '--joint-temporal-port': 'temporalPort',
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

/** What one joint case cost its client. */
interface Timing {
  /** Acceptance until every task whose prerequisites are met is open. */
  fanOutMs: number;
  /** Submission to collection. */
  caseMs: number;
}

interface Phase {
  timings: Timing[];
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

async function drive(n: number, concurrency: number, play: () => Promise<Timing>) {
  const phase: Phase = { timings: [], failures: [], wallMs: 0 };
  let next = 0;
  const started = performance.now();
  const client = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      try {
        phase.timings.push(await play());
      } catch (err) {
        phase.failures.push(`case ${i}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, client));
  phase.wallMs = performance.now() - started;
  return phase;
}

/** Nearest-rank percentile, as the other benches. */
function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Undo steps, last in first out, each run even when an earlier one fails. */
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

/** A dev server of this bench's own, on a throwaway SQLite file. */
async function startTemporal(port: number, cleanup: Cleanup, runId: string): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'temporal-dev.sh');
  const db = path.join(REPO_ROOT, '.data', 'temporal', `joint-bench-${runId}.db`);
  const env = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  const name = 'joint-bench';
  cleanup.add('removing the dev server db', () =>
    Promise.all(['', '-wal', '-shm', '-journal'].map((s) => rm(`${db}${s}`, { force: true }))),
  );
  cleanup.add('stopping the dev server', () =>
    exec('bash', [script, 'stop', '--name', name], { env }),
  );
  const args = ['--port', String(port), '--ui-port', String(port + 1000), '--db', db];
  try {
    await exec('bash', [script, 'start', ...args, '--name', name], { env });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`the joint bench dev server did not start:\n${stderr.trim()}`);
  }
  return `127.0.0.1:${port}`;
}

async function freshRegister(cleanup: Cleanup, runId: string): Promise<string> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';
  const name = `onedoor_joint_bench_${runId}`;
  const admin = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  cleanup.add('closing the admin connection', () => admin.destroy());
  await admin.raw(`CREATE DATABASE ${name}`);
  cleanup.add(`dropping ${name}`, () => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The hospital's tasks as the catalog plans them: who decides, and what each waits for. */
function planOf(): (BareTaskPlan & { department: string })[] {
  const item = loadCatalog(path.join(REPO_ROOT, 'data')).items.get(ITEM);
  if (!item) throw new Error(`no item ${ITEM} in the catalog`);
  return item.tasks.map((t) => ({
    code: t.code,
    department: t.department,
    dependsOn: t.dependsOn,
  }));
}

/** Concludes the tasks in the order their prerequisites allow, each wave in parallel. */
async function concludeInWaves(
  plan: BareTaskPlan[],
  conclude: (task: BareTaskPlan) => Promise<void>,
  opened: (code: string) => Promise<boolean>,
): Promise<void> {
  const done = new Set<string>();
  while (done.size < plan.length) {
    const wave = plan.filter((t) => !done.has(t.code) && t.dependsOn.every((d) => done.has(d)));
    await Promise.all(
      wave.map(async (task) => {
        await until(() => opened(task.code), `${task.code} open`);
        await conclude(task);
        done.add(task.code);
      }),
    );
  }
}

async function openedCodes(db: Knex, caseNumber: string): Promise<Set<string>> {
  const rows = (await db('audit_trail')
    .where({ case_number: caseNumber, action: 'taskOpened' })
    .select('task_code')) as { task_code: string }[];
  return new Set(rows.map((r) => r.task_code));
}

async function benchHall(options: Options, temporalAddress: string, databaseUrl: string) {
  const cleanup = new Cleanup();
  try {
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: `joint-bench-${randomBytes(3).toString('hex')}`,
      CASE_NUMBER_PREFIX: 'JBENCH',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      DOCUMENTS_PDF: 'off',
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
    const plan = planOf();
    const item = runtime.catalog.items.get(ITEM)!;
    const application = {
      item: ITEM,
      applicant: buildCompany(),
      materials: item.materials.map((m) => m.code),
    };
    const atOnce = plan.filter((t) => t.dependsOn.length === 0).map((t) => t.code);

    type CaseBody = { case: { caseNumber: string; status: string } };
    const play = async (): Promise<Timing> => {
      const t0 = performance.now();
      const created = await api.call<CaseBody>('POST', '/cases', CLERK, application);
      const id = created.case.caseNumber;
      const at = `/cases/${encodeURIComponent(id)}`;
      const accepting = performance.now();
      await api.call('POST', `${at}/intake`, CLERK, { decision: 'accept' });
      await until(async () => {
        const opened = await openedCodes(runtime.db, id);
        return atOnce.every((code) => opened.has(code));
      }, `${id} fanned out`);
      const fanOutMs = performance.now() - accepting;
      await concludeInWaves(
        plan,
        async (task) => {
          const officer = `dev-officer-${plan.find((p) => p.code === task.code)!.department}`;
          await api.call('POST', `${at}/conclusion`, officer, {
            task: task.code,
            decision: 'approve',
          });
        },
        async (code) => (await openedCodes(runtime.db, id)).has(code),
      );
      await until(async () => {
        const detail = await api.call<CaseBody>('GET', at, CLERK);
        return detail.case.status === 'concluded';
      }, `${id} concluded`);
      const collected = await api.call<CaseBody>('POST', `${at}/collection`, CLERK);
      if (collected.case.status !== 'collected') {
        throw new Error(`${id} is ${collected.case.status} after collection`);
      }
      return { fanOutMs, caseMs: performance.now() - t0 };
    };
    const warm = await drive(
      Math.min(options.concurrency, options.cases),
      options.concurrency,
      play,
    );
    if (warm.failures.length > 0) throw new Error(`hall warm-up failed: ${warm.failures[0]}`);
    return await drive(options.cases, options.concurrency, play);
  } finally {
    await cleanup.run();
  }
}

const bareActivities: BareActivities = {
  recordEvent: async () => true,
  computeClock: async () => '',
  computeDeadline: async () => '',
  notify: async () => '',
  deliverTask: async () => '',
  issueDocument: async () => '',
};

async function benchBare(options: Options, temporalAddress: string) {
  const cleanup = new Cleanup();
  try {
    const taskQueue = `joint-bare-${randomBytes(3).toString('hex')}`;
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
    const plan = planOf().map(({ code, dependsOn }) => ({ code, dependsOn }));
    const atOnce = plan.filter((t) => t.dependsOn.length === 0).map((t) => t.code);

    const prefix = `joint-bare-${randomBytes(3).toString('hex')}`;
    let serial = 0;
    const play = async (): Promise<Timing> => {
      const id = `${prefix}-${String(serial++).padStart(5, '0')}`;
      const t0 = performance.now();
      const handle = await client.workflow.start(bareJointCaseWorkflow, {
        workflowId: id,
        taskQueue,
        args: [plan],
      });
      await handle.executeUpdate(bareRegisteredUpdate);
      const accepting = performance.now();
      await handle.executeUpdate(bareAcceptUpdate);
      const isOpen = async (code: string) => {
        try {
          const state = await client.workflow.getHandle(`${id}/${code}`).query(bareStatusQuery);
          return state !== 'opening';
        } catch {
          return false; // not started yet
        }
      };
      await until(async () => (await Promise.all(atOnce.map(isOpen))).every(Boolean), id);
      const fanOutMs = performance.now() - accepting;
      await concludeInWaves(
        plan,
        async (task) => {
          await client.workflow.getHandle(`${id}/${task.code}`).executeUpdate(bareConcludeUpdate);
        },
        isOpen,
      );
      await until(async () => (await handle.query(bareStatusQuery)) === 'concluded', id);
      const status = await handle.executeUpdate(bareCollectUpdate);
      if (status !== 'collected') throw new Error(`${id} is ${status} after collection`);
      return { fanOutMs, caseMs: performance.now() - t0 };
    };
    const warm = await drive(
      Math.min(options.concurrency, options.cases),
      options.concurrency,
      play,
    );
    if (warm.failures.length > 0) throw new Error(`bare warm-up failed: ${warm.failures[0]}`);
    return await drive(options.cases, options.concurrency, play);
  } finally {
    await cleanup.run();
  }
}

function report(options: Options, hall: Phase, bare: Phase, loadBefore: number[]): void {
  const figures = (phase: Phase) => ({
    done: phase.timings.length,
    fanOutP50: percentile(
      phase.timings.map((t) => t.fanOutMs),
      50,
    ),
    fanOutP99: percentile(
      phase.timings.map((t) => t.fanOutMs),
      99,
    ),
    caseP50: percentile(
      phase.timings.map((t) => t.caseMs),
      50,
    ),
    perSecond: (phase.timings.length / phase.wallMs) * 1000,
  });
  const h = figures(hall);
  const b = figures(bare);
  const ms = (v: number) => v.toFixed(1);
  const ratio = h.perSecond / b.perSecond;
  const table = new Table({
    head: ['', 'hall (REST API)', 'bare Temporal', 'hall / bare'],
    colAligns: ['left', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  table.push(
    ['joint cases collected', `${h.done} of ${options.cases}`, `${b.done} of ${options.cases}`, ''],
    ['fan-out p50 (ms)', ms(h.fanOutP50), ms(b.fanOutP50), ''],
    ['fan-out p99 (ms)', ms(h.fanOutP99), ms(b.fanOutP99), ''],
    ['case p50 (ms)', ms(h.caseP50), ms(b.caseP50), ''],
    [
      'joint cases per second',
      h.perSecond.toFixed(2),
      b.perSecond.toFixed(2),
      `${(ratio * 100).toFixed(0)} %`,
    ],
  );
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(
    `\njoint bench: ${options.cases} cases of ${ITEM} (6 tasks, 5 at acceptance), ` +
      `${options.concurrency} concurrent clients`,
  );
  console.log(table.toString());
  console.log(
    [
      `goal: hall ≥ ${GOAL * 100} % of the bare floor's joint cases per second: ` +
        `${ratio >= GOAL ? 'met' : 'not met'}.`,
      'fan-out: from the accept call until every task with no prerequisite is open — a ' +
        'taskOpened row in the register (hall; the departments read the hall inbox, no ' +
        'webhook), a child answering its status query as open (bare).',
      `machine: ${os.cpus().length} cores; load average ${load(loadBefore)} at the start, ` +
        `${load(os.loadavg())} at the end (other work on the machine counts against these).`,
      'hall: API, worker and clients in this process, DOCUMENTS_PDF=off, no SMS or e-mail; ' +
        'bare: worker and clients, no-op activities; one dev server of its own for both.',
    ].join('\n'),
  );
  for (const [label, phase] of [
    ['hall', hall],
    ['bare', bare],
  ] as const) {
    if (phase.failures.length === 0) continue;
    process.exitCode = 1;
    console.log(`${label}: ${phase.failures.length} cases failed; first: ${phase.failures[0]}`);
  }
}

/** Runs the joint case bench (bench/run.ts calls it with the command line's arguments). */
export async function run(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const runId = randomBytes(4).toString('hex');
  const loadBefore = os.loadavg();
  const cleanup = new Cleanup();
  const interrupted = () => {
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    console.log(`joint bench: starting a dev server on ${options.temporalPort}`);
    const temporalAddress = await startTemporal(options.temporalPort, cleanup, runId);
    const databaseUrl = await freshRegister(cleanup, runId);
    console.log(`joint bench: hall phase (${options.cases} cases)`);
    const hall = await benchHall(options, temporalAddress, databaseUrl);
    console.log(`joint bench: bare phase (${options.cases} workflows)`);
    const bare = await benchBare(options, temporalAddress);
    report(options, hall, bare, loadBefore);
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
