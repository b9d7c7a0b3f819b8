/**
 * Exchange bench: department messages per second read safely, validated by xmllint against the
 * XSD, verified (HMAC) and applied (dedupe, order, record, acknowledgement) with no-op hooks, on
 * a fresh database; one message per body, several bodies at once, and batches. Also the same
 * without the database (validated and verified only), to show where the time goes. Then the
 * whole hall (worker and API in this process, on a dev server of the bench's own on port 7330,
 * UI 8330): the latency from a department's caseAccepted pushed to the receipt being ready
 * (issued in the register), p50 and p99. Prints figures; asserts nothing.
 *   npm run bench -- --only exchange [--exchange-single 300] [--exchange-batches 10x200]
 *     [--exchange-receipts 100] [--exchange-concurrency 4] [--exchange-pdf on|off]
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import knex from 'knex';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import { startApi } from '../cli/api';
import { createHallWorker } from '../cli/worker';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { openRuntime } from '../lib/runtime';
import type { ExchangeHooks } from '../lib/exchange/apply';
import { composeBatch, composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { parseExchangeBody } from '../lib/exchange/parse';
import { receiveExchange, type ReceiveDeps } from '../lib/exchange/receive';
import { isValidSignature } from '../lib/exchange/sign';
import { ExchangeStore } from '../lib/exchange/store';
import type { CaseAcceptedMessage } from '../lib/exchange/types';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';
const SECRET = devExchangeSecret('market');
const noop: ExchangeHooks = {
  startSupervision: async () => ({}),
  signalStatus: async () => undefined,
  acknowledgeTask: async () => undefined,
};

let counter = 0;
/** A signed caseAccepted of a case of its own. */
function acceptance(run: string): string {
  counter++;
  const message: CaseAcceptedMessage = {
    type: 'caseAccepted',
    messageId: `market-${run}-${counter}`,
    department: 'market',
    sequence: counter,
    caseNumber: `SCJG-${run}-${counter}`,
    timestamp: new Date().toISOString(),
    itemCode: 'market-food-business-licence',
    acceptedAt: new Date().toISOString(),
    counter: 'W001',
    applicant: {
      type: 'company',
      name: '深圳市一门餐饮管理有限公司',
      creditCode: '91440300MA5G8K2X7Q',
    },
    materials: ['application-form', 'business-licence-copy', 'layout-and-process'],
    channels: ['sms'],
  };
  return composeMessage(message, SECRET);
}

const batchOf = (run: string, elements: string[]) =>
  composeBatch(
    {
      batchId: `market-${run}-b${counter}`,
      department: 'market',
      timestamp: new Date().toISOString(),
    },
    elements,
  );

async function timed(n: number, work: () => Promise<void>): Promise<string> {
  const begin = performance.now();
  await work();
  const ms = performance.now() - begin;
  return `${Math.round((n * 1000) / ms)
    .toString()
    .padStart(6)} msg/s  (${n} in ${ms.toFixed(0)} ms)`;
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Runs the exchange bench and prints its figures. */
export async function run(argv: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      'exchange-single': { type: 'string', default: '300' },
      'exchange-batches': { type: 'string', default: '10x200' },
      'exchange-receipts': { type: 'string', default: '100' },
      'exchange-concurrency': { type: 'string', default: '4' },
      'exchange-pdf': { type: 'string', default: 'on' },
    },
  });
  const single = Number(values['exchange-single']);
  const [batches, perBatch] = String(values['exchange-batches']).split('x').map(Number);
  const run = randomBytes(3).toString('hex');

  const name = `onedoor_bench_exchange_${run}`;
  const admin = knex({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = knex({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 10 } });
  try {
    await migrateLatest(db);
    const deps: ReceiveDeps = {
      store: new ExchangeStore(db),
      hooks: noop,
      secrets: { market: SECRET },
    };
    const lines: string[] = [];

    const verifyOnly = async (body: Buffer) => {
      const parsed = await parseExchangeBody(body);
      for (const m of parsed.messages) {
        if (!isValidSignature(SECRET, m.canonical, m.signature)) throw new Error('bad signature');
      }
    };
    const apply = async (body: Buffer) => {
      const result = await receiveExchange(body, deps);
      if (result.outcomes.some((o) => o.outcome !== 'applied')) throw new Error('not applied');
    };

    const singles = (n: number) =>
      Array.from({ length: n }, () => Buffer.from(xmlDocument(acceptance(run))));
    const batched = () =>
      Array.from({ length: batches }, () =>
        Buffer.from(
          batchOf(
            run,
            Array.from({ length: perBatch }, () => acceptance(run)),
          ),
        ),
      );

    let bodies = singles(single);
    lines.push(
      `validated+verified, 1 per body, serial:   ${await timed(single, async () => {
        for (const b of bodies) await verifyOnly(b);
      })}`,
    );
    bodies = singles(single);
    lines.push(
      `  + applied,         1 per body, serial:   ${await timed(single, async () => {
        for (const b of bodies) await apply(b);
      })}`,
    );
    bodies = singles(single);
    lines.push(
      `  + applied,         1 per body, 4 at once: ${await timed(single, () =>
        inParallel(bodies, 4, apply),
      )}`,
    );
    bodies = singles(single);
    lines.push(
      `  + applied,         1 per body, 16 at once: ${await timed(single, () =>
        inParallel(bodies, 16, apply),
      )}`,
    );
    let batchBodies = batched();
    lines.push(
      `validated+verified, ${perBatch} per batch:        ${await timed(
        batches * perBatch,
        async () => {
          for (const b of batchBodies) await verifyOnly(b);
        },
      )}`,
    );
    batchBodies = batched();
    lines.push(
      `  + applied,         ${perBatch} per batch:        ${await timed(
        batches * perBatch,
        async () => {
          for (const b of batchBodies) await apply(b);
        },
      )}`,
    );

    process.stdout.write(`exchange (caseAccepted, no-op hooks, fresh database):\n`);
    for (const line of lines) process.stdout.write(`  ${line}\n`);
  } finally {
    await db.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.destroy();
  }
  await receiptLatency({
    cases: Number(values['exchange-receipts']),
    concurrency: Number(values['exchange-concurrency']),
    pdf: values['exchange-pdf'] !== 'off',
  });
}

/** The value below which `q` of the sorted samples fall (nearest rank). */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const exec = promisify(execFile);
/** The bench's own dev server, apart from the shared one and the hall's. */
const BENCH_TEMPORAL_PORT = 7330;
const BENCH_UI_PORT = 8330;
const SERVER_NAME = 'exchange-bench';

/**
 * caseAccepted to receipt: the market simulator pushes N acceptances, C at a time, to a whole
 * hall; each is timed from the push to its acknowledgement, and to the receipt (受理回执单) of
 * the hall's case being in the register's documents, read there.
 */
async function receiptLatency(opts: { cases: number; concurrency: number; pdf: boolean }) {
  if (opts.cases <= 0) return;
  const run = randomBytes(3).toString('hex');
  const undo: (() => Promise<unknown>)[] = [];
  const script = path.join(REPO_ROOT, 'scripts', 'temporal-dev.sh');
  const serverDb = path.join(REPO_ROOT, '.data', 'temporal', `${SERVER_NAME}-${run}.db`);
  const env = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  try {
    undo.push(() =>
      Promise.all(['', '-wal', '-shm'].map((x) => rm(`${serverDb}${x}`, { force: true }))),
    );
    undo.push(() => exec('bash', [script, 'stop', '--name', SERVER_NAME], { env }));
    await exec(
      'bash',
      [script, 'start', '--name', SERVER_NAME, '--db', serverDb].concat([
        '--port',
        String(BENCH_TEMPORAL_PORT),
        '--ui-port',
        String(BENCH_UI_PORT),
      ]),
      { env },
    );
    const address = `127.0.0.1:${BENCH_TEMPORAL_PORT}`;

    const name = `onedoor_bench_receipts_${run}`;
    const admin = knex({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
    undo.push(() => admin.destroy());
    await admin.raw(`CREATE DATABASE ${name}`);
    undo.push(() => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: url.toString(),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: `bench-exchange-${run}`,
      API_PORT: '0',
      DOCUMENTS_PDF: opts.pdf ? 'on' : 'off',
      SMTP_URL: '',
      SMS_GATEWAY_URL: '',
      DEPARTMENT_ENDPOINTS: '{}',
      EXCHANGE_OUTBOXES: '{}',
      DEV_TOKENS: 'on',
    });
    const runtime = await openRuntime(config, { migrate: true });
    undo.push(() => runtime.db.destroy());
    await runtime.store.seedCatalog(runtime.catalog);
    const workerConnection = await NativeConnection.connect({ address });
    undo.push(() => workerConnection.close());
    const { worker, close } = await createHallWorker(config, runtime, workerConnection);
    undo.push(close);
    const running = worker.run();
    undo.push(async () => {
      worker.shutdown();
      await running;
    });
    const connection = await Connection.connect({ address });
    undo.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const server = await startApi(config, runtime, temporal);
    undo.push(() => new Promise((resolve) => server.close(resolve)));
    const hallUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const market = await startDepartmentSimulator({ department: 'market', hallUrl });
    undo.push(() => market.close());

    const acked: number[] = [];
    const ready: number[] = [];
    const one = async (i: number) => {
      const departmentCase = `SCJG-${run}-${i}`;
      const message = market.caseAccepted({
        caseNumber: departmentCase,
        itemCode: 'market-food-business-licence',
        acceptedAt: new Date().toISOString(),
        counter: 'W001',
        applicant: { type: 'company', name: '深圳市一门餐饮管理有限公司' },
        materials: ['application-form', 'business-licence-copy', 'layout-and-process'],
        channels: [],
      });
      const t0 = performance.now();
      const answer = await market.send(message);
      if (answer.status !== 200 || !answer.body.includes('<status>accepted</status>')) {
        throw new Error(`caseAccepted ${i}: ${answer.status} ${answer.body.slice(0, 300)}`);
      }
      acked.push(performance.now() - t0);
      const caseNumber = hallCaseNumberOf('market', departmentCase);
      for (;;) {
        const receipt = await runtime
          .db('documents')
          .where({ case_number: caseNumber, kind: 'receipt' })
          .first('id');
        if (receipt) break;
        if (performance.now() - t0 > 120_000) throw new Error(`no receipt for ${caseNumber}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      ready.push(performance.now() - t0);
    };
    // A few first cases warm the bundle, the renderer and the pools up; they are not counted.
    const warmup = Math.min(3, opts.cases);
    for (let i = 0; i < warmup; i++) await one(-i - 1);
    acked.length = 0;
    ready.length = 0;
    const begin = performance.now();
    await inParallel(
      Array.from({ length: opts.cases }, (_, i) => i),
      opts.concurrency,
      one,
    );
    const seconds = (performance.now() - begin) / 1000;

    const line = (what: string, samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      const p50 = percentile(sorted, 0.5).toFixed(0);
      const p99 = percentile(sorted, 0.99).toFixed(0);
      return `  ${what} p50 ${p50.padStart(5)} ms  p99 ${p99.padStart(5)} ms`;
    };
    process.stdout.write(
      `caseAccepted to receipt ready (whole hall, PDF ${opts.pdf ? 'on' : 'off'}, ` +
        `${opts.cases} cases, ${opts.concurrency} at once, ${warmup} warm-up; ` +
        `${(opts.cases / seconds).toFixed(1)} cases/s):\n` +
        `${line('acknowledged:         ', acked)}\n` +
        `${line('receipt in register:  ', ready)}\n`,
    );
  } finally {
    for (const step of undo.reverse()) {
      await step().catch((err: unknown) => {
        process.stderr.write(`exchange bench cleanup: ${(err as Error).message}\n`);
      });
    }
  }
}

if (require.main === module) void run(process.argv.slice(2));
