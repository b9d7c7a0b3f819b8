/**
 * Reliability: the worker dies with SIGKILL while a batch of cases is in flight, a new one takes
 * over, and the batch still ends as if nothing had happened. The worker runs as `onedoor worker`
 * in a process of its own (so the kill is a real crash: no shutdown, leases left open, activities
 * abandoned mid-call), the API in the test process over a fresh register.
 */
import { Client, Connection } from '@temporalio/client';
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startApi } from '../cli/api';
import { HallClient, HttpError } from '../cli/driver';
import { taskWorkflowId } from '../lib/case/model';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { openRuntime } from '../lib/runtime';
import { caseStatusQuery } from '../workflows/messages';
import { buildApplication } from './support/builders';
import { freshDatabase, TEST_TEMPORAL_ADDRESS } from './support/hall';

const ITEM = 'market-food-business-licence';
const CLERK = 'dev-clerk-market';
const OFFICER = 'dev-officer-market';
const BATCH = 30;
/** The worker is killed when this many cases are collected: the others are at every other step. */
const KILL_AFTER_COLLECTED = 3;
/** Cases arrive this far apart, as at a counter, so the kill finds them at different steps. */
const ARRIVAL_MS = 250;
/**
 * Long enough for what the kill costs: an activity abandoned on the dead worker is retried only
 * when its 30 s start-to-close timeout (workflows/activities.ts) runs out.
 */
const STEP_TIMEOUT_MS = 120_000;
/**
 * A case's workflow outlives its collection by its notices (workflows/notices.ts): one abandoned
 * on the dead worker is sent again only when its 90 s start-to-close timeout runs out, then
 * after a 10 s retry interval.
 */
const CLOSE_TIMEOUT_MS = 240_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type CaseBody = { case: { caseNumber: string; status: string } };
type DetailBody = CaseBody & { tasks: { status: string }[] };

/** A worker process: resolves once it polls, with a promise of how it ended. */
interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

function spawnWorker(env: NodeJS.ProcessEnv, live: Set<ChildProcess>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'onedoor.js'), 'worker'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const chunks: string[] = [];
  const output = () => chunks.join('').slice(-4000);
  const exited = once(child, 'exit').then(([code, signal]) => {
    live.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not polling after 120 s:\n${output()}`)),
      120_000,
    );
    const onData = (chunk: Buffer) => {
      chunks.push(chunk.toString());
      // runWorker logs this line (pino JSON) once its worker is created and about to poll.
      if (chunks.join('').includes('"msg":"worker polling"')) {
        clearTimeout(timer);
        resolve({ child, exited, output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before polling:\n${output()}`));
    });
  });
}

/**
 * Sends one step until it goes through. While no worker runs, a call may fail with a 5xx (a
 * query finds no one to answer it) or its connection may drop: it is sent again. A refusal after
 * such a retry may mean the first attempt did go through, so `reached` looks at the case.
 */
async function persist(
  send: () => Promise<unknown>,
  reached: () => Promise<boolean>,
  retries: { n: number },
): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      await send();
      return;
    } catch (err) {
      const transient = !(err instanceof HttpError) || err.status >= 500;
      if (!transient && attempt > 0 && (await reached())) return;
      if (!transient || Date.now() > deadline) throw err;
      retries.n++;
      await sleep(250);
    }
  }
}

/** The promise, or a rejection once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('a worker killed mid-batch loses or doubles no case; Temporal matches register', async (t) => {
  t.timeout(480_000);
  const { url: databaseUrl, db } = await freshDatabase(t);
  await migrateLatest(db);
  const suffix = randomBytes(4).toString('hex');
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `reliability-${suffix}`,
    CASE_NUMBER_PREFIX: `R${suffix.toUpperCase()}`,
    API_PORT: '0',
    DOCUMENTS_PDF: 'off',
    LOG_LEVEL: 'silent',
  });
  const runtime = await openRuntime(config);
  t.teardown(() => runtime.db.destroy());
  await runtime.store.seedCatalog(runtime.catalog);

  // Every worker process started is killed at teardown, whatever happened to the assertions.
  const live = new Set<ChildProcess>();
  t.teardown(async () => {
    await Promise.all(
      [...live].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = once(child, 'exit');
        child.kill('SIGKILL');
        await gone;
      }),
    );
  });
  const workerEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    DOCUMENTS_PDF: 'off',
    // No mail server or SMS gateway runs for the test: a notice retried against one that is not
    // there would keep its case's workflow open for days.
    SMTP_URL: '',
    SMS_GATEWAY_URL: '',
    LOG_LEVEL: 'info',
  };
  const first = await spawnWorker(workerEnv, live);

  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  t.teardown(() => connection.close());
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const server: Server = await startApi(config, runtime, temporal);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const api = new HallClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);

  // The batch: cases arriving one after another, each driven from submission to collection
  // while the others are, the worker killed and replaced once the first few are collected.
  const submitted: string[] = [];
  const progress = { submitted: 0, accepted: 0, collected: 0 };
  const retries = { n: 0 };
  let crash: Promise<{ at: typeof progress; signal: string | null; downMs: number }> | undefined;
  const killAndReplace = async () => {
    const at = { ...progress };
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    const { signal } = await first.exited;
    await spawnWorker(workerEnv, live);
    return { at, signal, downMs: Date.now() - killedAt };
  };

  const playCase = async (i: number): Promise<void> => {
    await sleep(i * ARRIVAL_MS);
    // Submission is not retried: a retry could make a second case, and the count below would
    // not tell a lost case from a duplicate one.
    const created = await api.call<CaseBody>(
      'POST',
      '/cases',
      CLERK,
      buildApplication({ item: ITEM }),
    );
    const caseNumber = created.case.caseNumber;
    submitted.push(caseNumber);
    progress.submitted++;
    const at = `/cases/${encodeURIComponent(caseNumber)}`;
    const detail = () => api.call<DetailBody>('GET', at, CLERK);
    const statusIn =
      (...wanted: string[]) =>
      async () =>
        wanted.includes((await detail()).case.status);

    await persist(
      () => api.call('POST', `${at}/intake`, CLERK, { decision: 'accept' }),
      statusIn('accepted', 'concluded', 'collected'),
      retries,
    );
    progress.accepted++;

    await persist(
      () => api.call('POST', `${at}/conclusion`, OFFICER, { decision: 'approve' }),
      async () => {
        const { tasks } = await detail();
        return tasks.length > 0 && tasks.every((task) => task.status === 'concluded');
      },
      retries,
    );
    // The case joins the conclusion asynchronously.
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!(await statusIn('concluded', 'collected')())) {
      if (Date.now() > deadline) throw new Error(`${caseNumber} not concluded in time`);
      await sleep(100);
    }
    await persist(
      () => api.call('POST', `${at}/collection`, CLERK),
      statusIn('collected'),
      retries,
    );
    if (++progress.collected === KILL_AFTER_COLLECTED) {
      crash = killAndReplace();
      // Awaited after the batch; until then a failed restart must not count as unhandled.
      crash.catch(() => undefined);
    }
  };

  const started = Date.now();
  const outcomes = await Promise.allSettled(Array.from({ length: BATCH }, (_, i) => playCase(i)));
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
  if (!crash) return t.fail(`the worker was never killed: ${progress.collected} cases collected`);
  const killed = await crash;
  t.log(
    `${BATCH} cases in ${((Date.now() - started) / 1000).toFixed(1)} s; worker killed at ` +
      `${killed.at.submitted} submitted / ${killed.at.accepted} accepted / ` +
      `${killed.at.collected} collected, replaced in ` +
      `${killed.downMs} ms; ${retries.n} calls retried`,
  );

  // The kill really was a crash in the middle of the batch.
  t.is(killed.signal, 'SIGKILL');
  t.true(killed.at.collected < BATCH, 'every case was already collected when the worker died');

  // Every case closed.
  t.deepEqual(failures, [], 'cases whose driving failed');
  t.is(submitted.length, BATCH, 'cases the API took in');
  const register = (await db('cases').select('case_number', 'status')) as {
    case_number: string;
    status: string;
  }[];
  t.deepEqual(
    register.filter((r) => r.status !== 'collected'),
    [],
    'cases of the register not collected',
  );

  // None lost: the register holds exactly the cases the API answered for.
  t.is(register.length, submitted.length, 'register count against submitted count');
  t.deepEqual(register.map((r) => r.case_number).sort(), [...submitted].sort());

  // None twice: one conclusion and one collection per case, each event written once, none
  // skipped (every stream's seq runs 1..n), and one receipt and one approval notice per case.
  const decisive = (await db('audit_trail')
    .whereIn('action', ['concluded', 'collected'])
    .select('case_number', 'action')
    .count({ n: '*' })
    .groupBy('case_number', 'action')) as { case_number: string; action: string; n: string }[];
  for (const caseNumber of submitted) {
    for (const action of ['concluded', 'collected']) {
      const row = decisive.find((r) => r.case_number === caseNumber && r.action === action);
      t.is(Number(row?.n ?? 0), 1, `${action} events of ${caseNumber}`);
    }
  }
  const twice = await db('audit_trail')
    .select('stream', 'seq')
    .count({ n: '*' })
    .groupBy('stream', 'seq')
    .havingRaw('count(*) > 1');
  t.deepEqual(twice, [], 'audit (stream, seq) written twice');
  const streams = (await db('audit_trail')
    .select('stream')
    .count({ n: '*' })
    .max({ last: 'seq' })
    .groupBy('stream')) as { stream: string; n: string; last: number }[];
  t.is(streams.length, BATCH * 2, 'audit streams: a case and its task per case');
  t.deepEqual(
    streams.filter((s) => Number(s.n) !== s.last),
    [],
    'audit streams with a gap in their seq',
  );
  const documents = (await db('documents').select('case_number', 'kind').orderBy('id')) as {
    case_number: string;
    kind: string;
  }[];
  for (const caseNumber of submitted) {
    const kinds = documents.filter((d) => d.case_number === caseNumber).map((d) => d.kind);
    t.deepEqual(kinds, ['receipt', 'approvalNotice'], `documents of ${caseNumber}`);
  }

  // Register and Temporal agree: each case and its task completed, the case's own view of
  // itself (answered by the new worker from history) is the register's. Closing follows
  // collection by the notices still being sent: each workflow is given until CLOSE_TIMEOUT_MS.
  const closing = Date.now();
  await Promise.allSettled(
    register.map(({ case_number: caseNumber }) =>
      within(temporal.workflow.getHandle(caseNumber).result(), CLOSE_TIMEOUT_MS),
    ),
  );
  t.log(
    `workflows closed ${((Date.now() - closing) / 1000).toFixed(1)} s after the last collection`,
  );
  for (const { case_number: caseNumber, status } of register) {
    const handle = temporal.workflow.getHandle(caseNumber);
    const [described, task, view] = await Promise.all([
      handle.describe(),
      temporal.workflow.getHandle(taskWorkflowId(caseNumber, ITEM)).describe(),
      handle.query(caseStatusQuery),
    ]);
    t.is(described.status.name, 'COMPLETED', `workflow of ${caseNumber}`);
    t.is(task.status.name, 'COMPLETED', `task workflow of ${caseNumber}`);
    t.is(view.status as string, status, `workflow and register status of ${caseNumber}`);
  }
});
