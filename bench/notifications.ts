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
import path from 'node:path';
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
import { type BenchSummary, inLanes, integerFlags, runIfMain, withCleanup } from './harness';
import { freshDatabase } from './servers';

const SECRET = 'bench-secret-of-the-gateway';

interface Options {
  notifications: number;
  concurrency: number;
}

function parseOptions(argv: string[]): Options {
  return {
    notifications: 500,
    concurrency: 8,
    ...integerFlags(argv, {
      '--notifications': 'notifications',
      '--concurrency': 'concurrency',
      '-c': 'concurrency',
    }),
  };
}

/** Runs the notification bench and prints its figures. */
export async function run(argv: string[] = []): Promise<BenchSummary> {
  const { notifications: n, concurrency } = parseOptions(argv);
  return withCleanup('notification bench', async (cleanup) => {
    const { url } = await freshDatabase(cleanup, 'onedoor_bench_notify');
    const db = openDatabase(url);
    cleanup.add('closing the register pool', () => db.destroy());
    const smtp = await startSmtpServer({ parse: false });
    cleanup.add('closing the SMTP server', () => smtp.close());
    const gateway = await startSmsGateway({ secret: SECRET, deliveryDelayMs: 5 });
    cleanup.add('closing the SMS gateway', () => gateway.close());
    const mailer = createSmtpMailer({
      url: smtp.url,
      from: '深圳市行政服务大厅 <notice@hall.onedoor.test>',
    });
    cleanup.add('closing the mailer', () => mailer.close());
    const sms = new HttpSmsGateway({ url: gateway.url, apiKey: 'bench', apiSecret: SECRET });

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
    await inLanes(concurrency, concurrency, notifyTo(emailOnly, 'warm-email'));
    await inLanes(concurrency, concurrency, notifyTo(smsOnly, 'warm-sms'));
    const text = '【深圳市行政服务大厅】您好，您申请的“食品经营许可”已受理。';

    const rows: [string, number][] = [
      [
        'e-mail, notifier (register + SMTP)',
        await inLanes(n, concurrency, notifyTo(emailOnly, 'email')),
      ],
      [
        'SMS, notifier (register + gateway)',
        await inLanes(n, concurrency, notifyTo(smsOnly, 'sms')),
      ],
      [
        'e-mail, bare SMTP mailer',
        await inLanes(n, concurrency, (i) =>
          mailer.send({ to: 'office@example.com', subject: 'bench', text, reference: `bare-${i}` }),
        ),
      ],
      [
        'SMS, bare gateway adapter',
        await inLanes(n, concurrency, (i) =>
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
        `gateway ${gateway.stats.sent} sent (expected ${expected}), ` +
        `${gateway.stats.duplicates} duplicates`,
    );
    const perSecond = (label: string, ms: number) => `${label} ${((n / ms) * 1000).toFixed(0)}/s`;
    return {
      figures: [
        `${perSecond('e-mail', rows[0][1])}, ${perSecond('SMS', rows[1][1])} through the notifier`,
        `bare: ${perSecond('SMTP', rows[2][1])}, ${perSecond('gateway', rows[3][1])}`,
      ],
    };
  });
}

runIfMain(module, run);
