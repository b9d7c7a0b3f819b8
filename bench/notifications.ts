/**
 * Notification bench: N notifications through the notifier activity (register row, lock, send,
 * answer recorded) to the loopback SMTP server and to the SMS gateway emulator, C at a time, on
 * a fresh database; then the same count through the bare adapters, to show what the register's
 * exactly-once bookkeeping costs. Prints figures; asserts nothing.
 *
 * Usage: npm run bench -- --only notifications [--notifications N] [--concurrency C]
 *        (N defaults to 500, C to 8; or npx tsx bench/notifications.ts ...)
 */
import Table from 'cli-table3';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import knex from 'knex';
import pino from 'pino';
import { createNotifierActivities, type NotifierDeps } from '../activities/notifier';
import { snapshotItem } from '../api/cases/submit';
import { startSmsGateway } from '../emulators/smsGateway';
import { startSmtpServer } from '../emulators/smtp';
import { loadCatalog } from '../lib/catalog/load';
import { REPO_ROOT } from '../lib/config';
import { migrateLatest, openDatabase } from '../lib/db';
import { createSmtpMailer } from '../lib/notify/mailer';
import { HttpSmsGateway } from '../lib/notify/smsGateway';
import { RegisterStore } from '../lib/store';
import { buildCompany } from '../test/support/builders';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';
const SECRET = 'bench-secret-of-the-gateway';

interface Options {
  notifications: number;
  concurrency: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { notifications: 500, concurrency: 8 };
  const flags: Record<string, keyof Options> = {
    '--notifications': 'notifications',
    '--concurrency': 'concurrency',
    '-c': 'concurrency',
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

/** Runs `job(i)` for i in 0..n-1, `concurrency` at a time; answers the wall time in ms. */
async function timed(
  n: number,
  concurrency: number,
  job: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - started;
}

/** Runs the notification bench and prints its figures. */
export async function run(argv: string[] = []): Promise<void> {
  const { notifications: n, concurrency } = parseOptions(argv);
  const name = `onedoor_bench_notify_${randomBytes(4).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = openDatabase(url.toString());
  const smtp = await startSmtpServer({ parse: false });
  const gateway = await startSmsGateway({ secret: SECRET, deliveryDelayMs: 5 });
  const mailer = createSmtpMailer({
    url: smtp.url,
    from: '深圳市行政服务大厅 <notice@hall.onedoor.test>',
  });
  const sms = new HttpSmsGateway({ url: gateway.url, apiKey: 'bench', apiSecret: SECRET });

  try {
    await migrateLatest(db);
    const store = new RegisterStore(db);
    const catalog = loadCatalog(path.join(REPO_ROOT, 'data'));
    await store.seedCatalog(catalog);
    const caseNumber = 'BENCH-20261203-00001';
    const actor = { id: 'clerk-c01', role: 'clerk', counter: 'C01' };
    await store.applyEvent({
      caseNumber,
      stream: caseNumber,
      seq: 1,
      at: new Date().toISOString(),
      actor,
      action: 'submitted',
      newCase: {
        caseNumber,
        item: snapshotItem(catalog.items.get('market-food-business-licence')!),
        applicant: buildCompany(),
        channels: ['sms', 'email'],
        materials: ['application-form'],
        receivedAt: new Date().toISOString(),
        source: 'counter',
        submittedBy: actor,
      },
    });

    const base: Omit<NotifierDeps, 'mailer' | 'sms'> = {
      db,
      store,
      log: pino({ level: 'silent' }),
    };
    const emailOnly = createNotifierActivities({ ...base, mailer, sms: null });
    const smsOnly = createNotifierActivities({ ...base, mailer: null, sms });
    const notifyTo = (notifier: typeof emailOnly, channel: string) => (i: number) =>
      notifier.notify({ caseNumber, step: 'accepted', eventKey: `${channel}/${i}` });

    // Warm-up: connections to the database, the SMTP server and the gateway.
    await timed(concurrency, concurrency, notifyTo(emailOnly, 'warm-email'));
    await timed(concurrency, concurrency, notifyTo(smsOnly, 'warm-sms'));
    const text = '【深圳市行政服务大厅】您好，您申请的“食品经营许可”已受理。';

    const rows: [string, number][] = [
      [
        'e-mail, notifier (register + SMTP)',
        await timed(n, concurrency, notifyTo(emailOnly, 'email')),
      ],
      ['SMS, notifier (register + gateway)', await timed(n, concurrency, notifyTo(smsOnly, 'sms'))],
      [
        'e-mail, bare SMTP mailer',
        await timed(n, concurrency, (i) =>
          mailer.send({ to: 'office@example.com', subject: 'bench', text, reference: `bare-${i}` }),
        ),
      ],
      [
        'SMS, bare gateway adapter',
        await timed(n, concurrency, (i) =>
          sms.send({ to: '+8613800000002', text, clientReference: `bare-${i}` }),
        ),
      ],
    ];

    const table = new Table({ head: ['path', 'notifications', 'seconds', 'per second'] });
    for (const [label, ms] of rows) {
      table.push([label, n, (ms / 1000).toFixed(2), ((n / ms) * 1000).toFixed(0)]);
    }
    console.log(`notifications: ${n} per path, ${concurrency} at a time`);
    console.log(table.toString());
    const expected = 2 * n + concurrency;
    console.log(
      `received: SMTP ${smtp.received.length} (expected ${expected}), ` +
        `gateway ${gateway.stats.sent} sent (expected ${expected}), ${gateway.stats.duplicates} duplicates`,
    );
  } finally {
    await mailer.close();
    await gateway.close();
    await smtp.close();
    await db.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.destroy();
  }
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
