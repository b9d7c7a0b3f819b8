/**
 * Fees and a crash (issue 7): the worker, a process of its own, is killed with SIGKILL while the
 * bank's callback of a payment is being handled; a new worker takes over. The case is then
 * denied, so the fee is refunded. Afterwards case, notice, payment and refund agree in the
 * register and at the bank, and the applicant was told of the notice exactly once.
 */
import { Client, Connection } from '@temporalio/client';
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startApi } from '../cli/api';
import { startBankEmulator } from '../emulators/bank';
import { startSmsGateway } from '../emulators/smsGateway';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { openRuntime } from '../lib/runtime';
import { buildPerson } from './support/builders';
import { eventually, freshDatabase, TEST_TEMPORAL_ADDRESS } from './support/hall';

const PASSPORT = 'exit-entry-ordinary-passport';
const FEE = 'passport-production-fee';
const FEE_FEN = 12_000;
/** An activity abandoned on the dead worker is retried once its 30 s timeout runs out. */
const SETTLE_MS = 180_000;

/** A free port on loopback: the worker prints the API's URL on the bank order before it runs. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Starts `onedoor worker` as its own process; resolves once it polls. */
async function spawnWorker(
  t: ExecutionContext,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'onedoor.js'), 'worker'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  // Killed at teardown whatever the assertions did.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not polling:\n${output}`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"worker polling"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`worker exited before polling:\n${output}`)));
  });
  return { child, exited };
}

test('a worker killed mid-callback leaves case, notice, payment and refund agreeing', async (t) => {
  t.timeout(420_000);
  const { url: databaseUrl, db } = await freshDatabase(t);
  await migrateLatest(db);
  const suffix = randomBytes(4).toString('hex');
  const bankSecret = `test-bank-${suffix}-secret`;
  const smsSecret = `test-sms-${suffix}-secret`;
  const bank = await startBankEmulator({ port: 0, secret: bankSecret, timeZone: 'Asia/Shanghai' });
  t.teardown(() => bank.close());
  const sms = await startSmsGateway({ port: 0, secret: smsSecret, apiKey: 'onedoor-dev' });
  t.teardown(() => sms.close());
  const apiPort = await freePort();

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `payment-crash-${suffix}`,
    CASE_NUMBER_PREFIX: `P${suffix.toUpperCase()}`,
    API_PORT: String(apiPort),
    PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    DOCUMENTS_PDF: 'off',
    BANK_URL: bank.url,
    BANK_SECRET: bankSecret,
    SMS_GATEWAY_URL: sms.url,
    SMS_API_KEY: 'onedoor-dev',
    SMS_API_SECRET: smsSecret,
    SMTP_URL: '',
    LOG_LEVEL: 'info',
  };
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
  const runtime = await openRuntime(config);
  t.teardown(() => runtime.db.destroy());
  await runtime.store.seedCatalog(runtime.catalog);

  const first = await spawnWorker(t, env);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  t.teardown(() => connection.close());
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const server: Server = await startApi(config, runtime, temporal);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const call = async (method: string, route: string, token: string, body?: unknown) => {
    const res = await fetch(`${config.PUBLIC_URL}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  // A passport case, accepted with its fee: the notice is issued and the applicant told by SMS.
  const created = await call('POST', '/cases', 'dev-clerk-exit-entry', {
    item: PASSPORT,
    applicant: buildPerson({ phone: '13800000017' }),
    channels: ['sms'],
    materials: ['resident-id-card', 'household-register', 'photo', 'purpose-documents'],
  });
  t.is(created.status, 201, JSON.stringify(created.body));
  const caseNumber: string = created.body.case.caseNumber;
  const accepted = await call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-exit-entry', {
    decision: 'accept',
    fees: [FEE],
  });
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  const notice = await eventually(
    () => db('payment_notices').where({ case_number: caseNumber }).first(),
    (row) => Boolean(row?.bank_order_id),
  );

  // The payer pays; the bank's callback is held, then sent while the worker is killed.
  bank.pay(notice.bank_order_id, { callback: { mode: 'hold' } });
  const delivered = bank.release();
  first.child.kill('SIGKILL');
  await first.exited;
  const deliveries = await delivered;
  t.true(
    deliveries.some((d) => d.httpStatus === 200),
    JSON.stringify(deliveries),
  );
  await spawnWorker(t, env);

  // The new worker takes over: the case has its payment; the department then denies.
  await eventually(
    () => db('audit_trail').where({ case_number: caseNumber, action: 'paymentConfirmed' }),
    (rows) => rows.length > 0,
    SETTLE_MS,
  );
  const task = await eventually(
    () => db('department_tasks').where({ case_number: caseNumber }).first(),
    (row) => row?.status === 'open',
    SETTLE_MS,
  );
  const denied = await call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-exit-entry', {
    task: task.task_code,
    decision: 'deny',
    reasons: '申请人未满足签发条件',
  });
  t.is(denied.status, 200, JSON.stringify(denied.body));
  await eventually(
    () => db('refunds').where({ case_number: caseNumber }),
    (rows) => rows.length > 0 && rows.every((r) => r.status === 'succeeded'),
    SETTLE_MS,
  );
  const closed = await temporal.workflow.getHandle(caseNumber).result();
  t.like(closed, { status: 'concluded', outcome: 'denied' });

  // The register: one notice refunded, one payment, one refund of the whole fee, all agreeing.
  const caseRow = await db('cases').where({ case_number: caseNumber }).first();
  t.like(caseRow, { status: 'concluded', outcome: 'denied' });
  const notices = await db('payment_notices').where({ case_number: caseNumber });
  t.is(notices.length, 1);
  t.like(notices[0], { status: 'refunded', amount_fen: FEE_FEN });
  const payments = await db('payments').where({ notice_number: notice.notice_number });
  t.is(payments.length, 1);
  t.like(payments[0], { amount_fen: FEE_FEN, bank_order_id: notice.bank_order_id });
  t.truthy(payments[0].announced_at, 'the case was told of the payment');
  const refunds = await db('refunds').where({ case_number: caseNumber });
  t.is(refunds.length, 1);
  t.like(refunds[0], { payment_id: payments[0].id, amount_fen: FEE_FEN, status: 'succeeded' });
  const confirmed = await db('audit_trail').where({
    case_number: caseNumber,
    action: 'paymentConfirmed',
  });
  t.is(confirmed.length, 1, 'the case recorded the payment once');
  // And the bank agrees: the order paid once, then refunded.
  t.like(bank.orderOf(notice.notice_number), { status: 'refunded', amountFen: FEE_FEN });

  // The applicant was told of the notice exactly once, by one SMS naming its number.
  const told = await db('notifications').where({ case_number: caseNumber, step: 'paymentNotice' });
  t.is(told.length, 1);
  t.not(told[0].status, 'pending');
  const texts = sms.messages.filter((m) => m.text.includes(notice.notice_number));
  t.is(texts.length, 1);
  t.true(texts[0].text.includes('120.00元'));
});
