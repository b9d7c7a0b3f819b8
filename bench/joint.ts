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
import type { Knex } from 'knex';
import os from 'node:os';
import path from 'node:path';
import { HallClient } from '../cli/driver';
import { loadCatalog } from '../lib/catalog/load';
import { REPO_ROOT } from '../lib/config';
import { buildCompany } from '../test/support/builders';
import {
  bareAcceptUpdate,
  bareCollectUpdate,
  bareConcludeUpdate,
  bareJointCaseWorkflow,
  bareRegisteredUpdate,
  bareStatusQuery,
  type BareTaskPlan,
} from './bareWorkflows';
import {
  type BenchSummary,
  type Cleanup,
  drive,
  figureTable,
  integerFlags,
  loadAverage,
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
  return {
    cases: 100,
    concurrency: 8,
    temporalPort: 7320,
    ...integerFlags(argv, {
      '--joint-cases': 'cases',
      '--joint-concurrency': 'concurrency',
      '--joint-temporal-port': 'temporalPort',
    }),
  };
}

/** What one joint case cost its client. */
interface Timing {
  /** Acceptance until every task whose prerequisites are met is open. */
  fanOutMs: number;
  /** Submission to collection. */
  caseMs: number;
}

const until = (probe: () => Promise<boolean>, what: string) =>
  poll(probe, what, { timeoutMs: CASE_TIMEOUT_MS, everyMs: POLL_MS });

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

async function benchHall(
  options: Options,
  temporalAddress: string,
  databaseUrl: string,
  parent: Cleanup,
): Promise<Phase<Timing>> {
  const cleanup = parent.nested('the hall phase');
  try {
    const config = benchConfig(databaseUrl, temporalAddress, 'joint-bench', {
      CASE_NUMBER_PREFIX: 'JBENCH',
    });
    const { runtime, apiUrl } = await startHall(cleanup, config);
    const api = new HallClient(apiUrl);
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
    await warmUp('hall', Math.min(options.concurrency, options.cases), options.concurrency, play);
    return await drive(options.cases, options.concurrency, play);
  } finally {
    await cleanup.run();
  }
}

async function benchBare(
  options: Options,
  temporalAddress: string,
  parent: Cleanup,
): Promise<Phase<Timing>> {
  const cleanup = parent.nested('the bare phase');
  try {
    const { taskQueue, client } = await startBareWorker(cleanup, temporalAddress, 'joint-bare');
    const plan = planOf().map(({ code, dependsOn }) => ({ code, dependsOn }));
    const atOnce = plan.filter((t) => t.dependsOn.length === 0).map((t) => t.code);

    const prefix = `joint-bare-${randomId(3)}`;
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
    await warmUp('bare', Math.min(options.concurrency, options.cases), options.concurrency, play);
    return await drive(options.cases, options.concurrency, play);
  } finally {
    await cleanup.run();
  }
}

function report(
  options: Options,
  hall: Phase<Timing>,
  bare: Phase<Timing>,
  loadBefore: string,
): BenchSummary {
  const figures = (phase: Phase<Timing>) => ({
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
  const table = figureTable(['', 'hall (REST API)', 'bare Temporal', 'hall / bare']);
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
      `machine: ${os.cpus().length} cores; load average ${loadBefore} at the start, ` +
        `${loadAverage()} at the end (other work on the machine counts against these).`,
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
  return {
    figures: [
      `hall ${h.perSecond.toFixed(2)} joint cases/s, bare ${b.perSecond.toFixed(2)} ` +
        `(${(ratio * 100).toFixed(0)} %)`,
      `fan-out p50 ${ms(h.fanOutP50)} ms, p99 ${ms(h.fanOutP99)} ms`,
    ],
    goals: [
      { goal: `hall ≥ ${GOAL * 100} % of the bare floor's joint cases/s`, met: ratio >= GOAL },
    ],
  };
}

/** Runs the joint case bench (bench/run.ts calls it with the command line's arguments). */
export async function run(argv: string[]): Promise<BenchSummary> {
  const options = parseOptions(argv);
  const loadBefore = loadAverage();
  return withCleanup('joint bench', async (cleanup) => {
    console.log(`joint bench: starting a dev server on ${options.temporalPort}`);
    const server = await startDevServer(cleanup, {
      name: 'joint-bench',
      port: options.temporalPort,
    });
    const { url: databaseUrl } = await freshDatabase(cleanup, 'onedoor_joint_bench');
    console.log(`joint bench: hall phase (${options.cases} cases)`);
    const hall = await benchHall(options, server.address, databaseUrl, cleanup);
    console.log(`joint bench: bare phase (${options.cases} workflows)`);
    const bare = await benchBare(options, server.address, cleanup);
    return report(options, hall, bare, loadBefore);
  });
}

runIfMain(module, run);
