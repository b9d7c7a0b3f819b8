/**
 * Exchange bench: department messages per second read safely, validated by xmllint against the
 * XSD, verified (HMAC) and applied (dedupe, order, record, acknowledgement) with no-op hooks, on
 * a fresh database; one message per body, several bodies at once, and batches. Also the same
 * without the database (validated and verified only), to show where the time goes. Prints
 * figures; asserts nothing.
 *   npm run bench -- --only exchange [--exchange-single 300] [--exchange-batches 10x200]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import knex from 'knex';
import { migrateLatest } from '../lib/db';
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
    process.stdout.write(
      "  (caseAccepted to receipt ready: needs the hall's startSupervision hook, not wired here)\n",
    );
  } finally {
    await db.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.destroy();
  }
}

if (require.main === module) void run(process.argv.slice(2));
