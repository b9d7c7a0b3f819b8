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
import knex from 'knex';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { migrateLatest } from '../lib/db';
import type { ExchangeHooks } from '../lib/exchange/apply';
import { composeBatch, composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { parseExchangeBody } from '../lib/exchange/parse';
import { receiveExchange, type ReceiveDeps } from '../lib/exchange/receive';
import { isValidSignature } from '../lib/exchange/sign';
import { ExchangeStore } from '../lib/exchange/store';
import type { CaseAcceptedMessage } from '../lib/exchange/types';
import {
  type BenchSummary,
  type Cleanup,
  inLanes,
  integerFlags,
  percentile,
  readFlags,
  runIfMain,
  sleep,
  withCleanup,
} from './harness';
import { benchConfig, freshDatabase, randomId, startDevServer, startHall } from './servers';

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

async function timed(n: number, work: () => Promise<unknown>): Promise<string> {
  const begin = performance.now();
  await work();
  const ms = performance.now() - begin;
  return `${Math.round((n * 1000) / ms)
    .toString()
    .padStart(6)} msg/s  (${n} in ${ms.toFixed(0)} ms)`;
}

/** Runs `work` over `items`, `concurrency` at a time. */
const inParallel = <T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) =>
  inLanes(items.length, concurrency, (i) => work(items[i]));

/** Runs the exchange bench and prints its figures. */
export async function run(argv: string[] = []): Promise<BenchSummary> {
  const counts = {
    single: 300,
    concurrency: 4,
    ...integerFlags(argv, {
      '--exchange-single': 'single',
      '--exchange-concurrency': 'concurrency',
    }),
  };
  const { receipts = 100 } = integerFlags(argv, { '--exchange-receipts': 'receipts' }, 0);
  const texts = readFlags(argv, { '--exchange-batches': 'batches', '--exchange-pdf': 'pdf' });
  const single = counts.single;
  const [batches, perBatch] = (texts.batches ?? '10x200').split('x').map(Number);
  const run = randomId(3);

  const figures = await withCleanup('exchange bench', async (cleanup) => {
    const { url } = await freshDatabase(cleanup, 'onedoor_bench_exchange');
    const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
    cleanup.add('closing the register pool', () => db.destroy());
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
    const serialApplied = await timed(single, async () => {
      for (const b of bodies) await apply(b);
    });
    lines.push(`  + applied,         1 per body, serial:   ${serialApplied}`);
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
    return [`applied, 1 per body, serial: ${serialApplied.trim().replace(/\s+/g, ' ')}`];
  });
  const latency = await withCleanup('exchange bench', (cleanup) =>
    receiptLatency(cleanup, {
      cases: receipts,
      concurrency: counts.concurrency,
      pdf: texts.pdf !== 'off',
    }),
  );
  return { figures: latency ? [...figures, latency] : figures };
}

/** The bench's own dev server, apart from the shared one and the hall's (its UI on 8330). */
const BENCH_TEMPORAL_PORT = 7330;
const SERVER_NAME = 'exchange-bench';

/**
 * caseAccepted to receipt: the market simulator pushes N acceptances, C at a time, to a whole
 * hall; each is timed from the push to its acknowledgement, and to the receipt (受理回执单) of
 * the hall's case being in the register's documents, read there.
 */
async function receiptLatency(
  cleanup: Cleanup,
  opts: { cases: number; concurrency: number; pdf: boolean },
): Promise<string | undefined> {
  if (opts.cases <= 0) return undefined;
  const run = randomId(3);
  const server = await startDevServer(cleanup, { name: SERVER_NAME, port: BENCH_TEMPORAL_PORT });
  const { url } = await freshDatabase(cleanup, 'onedoor_bench_receipts');
  const config = benchConfig(url, server.address, 'bench-exchange', {
    DOCUMENTS_PDF: opts.pdf ? 'on' : 'off',
    DEPARTMENT_ENDPOINTS: '{}',
    EXCHANGE_OUTBOXES: '{}',
  });
  const { runtime, apiUrl: hallUrl } = await startHall(cleanup, config);
  const market = await startDepartmentSimulator({ department: 'market', hallUrl });
  cleanup.add('closing the market simulator', () => market.close());

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
      await sleep(5);
    }
    ready.push(performance.now() - t0);
  };
  // A few first cases warm the bundle, the renderer and the pools up; they are not counted.
  const warmup = Math.min(3, opts.cases);
  for (let i = 0; i < warmup; i++) await one(-i - 1);
  acked.length = 0;
  ready.length = 0;
  const begin = performance.now();
  await inLanes(opts.cases, opts.concurrency, one);
  const seconds = (performance.now() - begin) / 1000;

  const line = (what: string, samples: number[]) => {
    const p50 = percentile(samples, 50).toFixed(0);
    const p99 = percentile(samples, 99).toFixed(0);
    return `  ${what} p50 ${p50.padStart(5)} ms  p99 ${p99.padStart(5)} ms`;
  };
  process.stdout.write(
    `caseAccepted to receipt ready (whole hall, PDF ${opts.pdf ? 'on' : 'off'}, ` +
      `${opts.cases} cases, ${opts.concurrency} at once, ${warmup} warm-up; ` +
      `${(opts.cases / seconds).toFixed(1)} cases/s):\n` +
      `${line('acknowledged:         ', acked)}\n` +
      `${line('receipt in register:  ', ready)}\n`,
  );
  return (
    `caseAccepted to receipt p50 ${percentile(ready, 50).toFixed(0)} ms, ` +
    `p99 ${percentile(ready, 99).toFixed(0)} ms`
  );
}

runIfMain(module, run);
