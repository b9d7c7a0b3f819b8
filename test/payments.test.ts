/**
 * Fees through the bank (issue 7): notices, signed callbacks, the status query, reconciliation
 * and refunds, against the bank emulator. The case workflow does not wait for payment yet, so
 * the signal to it is a recording stub given to the router in place of the Temporal client.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createPaymentActivities, PaymentLedger, type SignalPayment } from '../activities/payments';
import { createApp } from '../api/app';
import { devTokenAuthenticator } from '../api/auth';
import { paymentRoutes } from '../api/payments/router';
import {
  BankClient,
  DEV_MERCHANT_ID,
  isValidNoticeNumber,
  mod97CheckDigits,
  noticeNumberOf,
  signatureHeaders,
  type BankOrderStatus,
} from '../lib/bank/client';
import { dateInZone } from '../lib/calendar';
import { migrationConfig } from '../lib/db';
import { startBankEmulator, type BankEmulator } from '../emulators/bank';
import type { PaymentConfirmation } from '../workflows/paymentMessages';
import { buildPerson } from './support/builders';
import { listen } from './support/api';
import { startTestHall, type TestHall } from './support/hall';

const PASSPORT_FEE = 'passport-production-fee';
const PASSPORT_FEE_FEN = 12_000;

/** A hall with the bank's routes mounted, a bank emulator, and one passport case. */
interface PaymentsHall {
  hall: TestHall;
  bank: BankEmulator;
  /** Base URL of the API that carries the bank's routes. */
  api: string;
  caseNumber: string;
  /** Every signal the router sent, in order. */
  signals: { workflowId: string; payment: PaymentConfirmation }[];
  activities: ReturnType<typeof wrapActivities>;
  secret: string;
  count: (table: string, where?: Record<string, unknown>) => Promise<number>;
  /** Issues the passport fee notice of the case; answers it with its bank order id. */
  issue: (eventKey?: string) => Promise<{ noticeNumber: string; orderId: string }>;
  post: (path: string, body: string, headers?: Record<string, string>) => Promise<Response>;
  /** Calls the API that carries the bank's routes with a dev token. */
  get: (path: string, token: string) => Promise<{ status: number; body: any }>;
  today: string;
}

// Activities run in Temporal's mock activity context, as a worker would run them.
function wrapActivities(raw: ReturnType<typeof createPaymentActivities>) {
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const inContext =
    <A, R>(fn: (req: A) => Promise<R>) =>
    (req: A): Promise<R> =>
      env.run(fn, req) as Promise<R>;
  return {
    issuePaymentNotice: inContext(raw.issuePaymentNotice),
    checkPayment: inContext(raw.checkPayment),
    expirePaymentNotice: inContext(raw.expirePaymentNotice),
    startRefund: inContext(raw.startRefund),
  };
}

// At most four halls of this file at once: each runs a worker, and the suite shares two cores.
const hallSlots = (() => {
  let free = 4;
  const waiting: (() => void)[] = [];
  return {
    acquire: async (): Promise<void> => {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: (): void => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
})();

async function startPaymentsHall(
  t: ExecutionContext,
  opts: { signalPayment?: SignalPayment } = {},
): Promise<PaymentsHall> {
  await hallSlots.acquire();
  // Registered first, so it runs last: after the hall's own teardown.
  t.teardown(() => hallSlots.release());
  const hall = await startTestHall(t);
  const { runtime, config } = hall;
  const secret = `test-bank-${randomBytes(8).toString('hex')}`;
  const bank = await startBankEmulator({
    port: 0,
    secret,
    timeZone: config.HALL_TIME_ZONE,
    callbackRetry: { attempts: 3, delayMs: 20 },
  });
  t.teardown(() => bank.close());
  const client = new BankClient({ baseUrl: bank.url, merchantId: DEV_MERCHANT_ID, secret });

  const signals: PaymentsHall['signals'] = [];
  const record: SignalPayment = async (workflowId, payment) => {
    signals.push({ workflowId, payment });
  };
  const signalPayment: SignalPayment = opts.signalPayment
    ? async (id, p) => {
        await opts.signalPayment!(id, p);
        await record(id, p);
      }
    : record;
  const log = pino({ level: 'silent' });
  const app = createApp({
    catalog: runtime.catalog,
    store: runtime.store,
    temporal: hall.client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    timeZone: config.HALL_TIME_ZONE,
    caseNumberPrefix: config.CASE_NUMBER_PREFIX!,
    reminderDays: config.REMINDER_WORKING_DAYS,
    payByDays: config.PAY_BY_DAYS,
    auth: devTokenAuthenticator(runtime.catalog),
    log,
    extraRoutes: paymentRoutes({
      db: runtime.db,
      bank: client,
      bankSecret: secret,
      toleranceSeconds: 300,
      timeZone: config.HALL_TIME_ZONE,
      signalPayment,
      log,
    }),
  });
  const api = await listen(t, app);

  const activities = wrapActivities(
    createPaymentActivities({
      db: runtime.db,
      catalog: runtime.catalog,
      bank: client,
      notifyUrl: `${api}/bank/callbacks`,
      timeZone: config.HALL_TIME_ZONE,
    }),
  );

  const created = await hall.call('POST', '/cases', 'dev-clerk-exit-entry', {
    item: 'exit-entry-ordinary-passport',
    applicant: buildPerson(),
    channels: ['sms'],
    materials: ['resident-id-card', 'household-register', 'photo', 'purpose-documents'],
  });
  if (created.status !== 201) throw new Error(`submission failed: ${JSON.stringify(created)}`);
  const caseNumber: string = created.body.case.caseNumber;

  return {
    hall,
    bank,
    api,
    caseNumber,
    signals,
    activities,
    secret,
    today: dateInZone(new Date(), config.HALL_TIME_ZONE),
    count: async (table, where = {}) => {
      const [{ n }] = await runtime.db(table).where(where).count({ n: '*' });
      return Number(n);
    },
    issue: async (eventKey = `${caseNumber}#accepted`) => {
      const notice = await activities.issuePaymentNotice({
        caseNumber,
        feeCodes: [PASSPORT_FEE],
        eventKey,
        payByDays: 15,
      });
      return { noticeNumber: notice.noticeNumber, orderId: notice.bankOrderId };
    },
    get: async (path, token) => {
      const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() };
    },
    post: (path, body, headers = {}) =>
      fetch(`${api}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      }),
  };
}

/** The one payment signal the case workflow gets for what the bank paid against the notice. */
const paymentSignal = (p: PaymentsHall, noticeNumber: string, paid: BankOrderStatus) => ({
  workflowId: p.caseNumber,
  payment: {
    noticeNumber,
    transactionId: paid.transactionId!,
    amountFen: PASSPORT_FEE_FEN,
    paidAt: paid.paidAt!,
  },
});

const statusOfNotice = async (p: PaymentsHall, noticeNumber: string) =>
  ((await p.hall.runtime.db('payment_notices').where({ notice_number: noticeNumber }).first())
    ?.status as string) ?? 'none';

const importStatement = (p: PaymentsHall, csv: string) =>
  fetch(`${p.api}/bank/statements?date=${p.today}`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-admin', 'content-type': 'text/csv' },
    body: csv,
  });

// ---------------------------------------------------------------------------------------------

test('a notice number carries ISO 7064 MOD 97-10 check digits that catch a mistyped digit', (t) => {
  t.is(mod97CheckDigits('794'), '44');
  const number = noticeNumberOf('20261203', 42);
  t.regex(number, /^202612030000000042\d{2}$/);
  t.true(isValidNoticeNumber(number));
  for (let i = 0; i < number.length; i++) {
    const digit = Number(number[i]);
    const changed = `${number.slice(0, i)}${(digit + 1) % 10}${number.slice(i + 1)}`;
    t.false(isValidNoticeNumber(changed), `digit ${i} changed`);
    if (i + 1 < number.length && number[i] !== number[i + 1]) {
      const swapped = `${number.slice(0, i)}${number[i + 1]}${number[i]}${number.slice(i + 2)}`;
      t.false(isValidNoticeNumber(swapped), `digits ${i} and ${i + 1} swapped`);
    }
  }
});

test('a notice takes its lines and amount from the catalog; one event, one notice', async (t) => {
  const p = await startPaymentsHall(t);
  const req = {
    caseNumber: p.caseNumber,
    feeCodes: [PASSPORT_FEE],
    eventKey: `${p.caseNumber}#accepted`,
    payByDays: 15,
  };
  const first = await p.activities.issuePaymentNotice(req);
  const again = await p.activities.issuePaymentNotice(req);

  t.true(isValidNoticeNumber(first.noticeNumber));
  t.is(first.amountFen, PASSPORT_FEE_FEN);
  t.like(first.lines[0], {
    code: PASSPORT_FEE,
    name: '普通护照工本费',
    quantity: 1,
    amountFen: PASSPORT_FEE_FEN,
    legalBasis: 'PASSPORT 第二十二条; PASSPORT-FEE',
  });
  t.true(Date.parse(first.payBy) > Date.now() + 14 * 86_400_000);
  t.deepEqual(again, first);
  t.is(await p.count('payment_notices'), 1);
  t.like(p.bank.orderOf(first.noticeNumber), { orderId: first.bankOrderId, amountFen: 12_000 });
  // No document service is given here: test/paymentNotice.test.ts prints the notice.
  t.is(first.documentNumber, null);
});

test('a fee code not in the item’s catalog entry is refused and nothing is issued', async (t) => {
  const p = await startPaymentsHall(t);
  const err = await t.throwsAsync(
    p.activities.issuePaymentNotice({
      caseNumber: p.caseNumber,
      feeCodes: [PASSPORT_FEE, 'reg-fee-residential'],
      eventKey: `${p.caseNumber}#accepted`,
      payByDays: 15,
    }),
    { instanceOf: ApplicationFailure },
  );
  t.is(err?.type, 'fee_not_in_catalog');
  t.true(err?.nonRetryable);
  t.regex(err!.message, /reg-fee-residential/);
  t.is(await p.count('payment_notices'), 0);
  t.deepEqual(p.bank.orders(), []);
});

test('a forged or unsigned callback is refused with 401, records nothing, is logged', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  // The payer really paid, but the bank's own callback is lost: only the forgeries arrive.
  const paid = p.bank.pay(orderId, { callback: { mode: 'none' } });
  const body = JSON.stringify({
    orderId,
    noticeNumber,
    transactionId: paid.transactionId,
    amountFen: PASSPORT_FEE_FEN,
    paidAt: paid.paidAt,
    status: 'paid',
  });
  const forgedHeaders = signatureHeaders('not-the-bank-key', {
    method: 'POST',
    path: '/bank/callbacks',
    body,
  });

  const forged = await p.post('/bank/callbacks', body, forgedHeaders);
  const unsigned = await p.post('/bank/callbacks', body);

  t.is(forged.status, 401);
  t.is(unsigned.status, 401);
  t.is(((await forged.json()) as any).error.code, 'unauthenticated');
  t.is(await p.count('payments'), 0);
  t.is(await statusOfNotice(p, noticeNumber), 'issued');
  t.deepEqual(p.signals, []);
  const logged = await p.hall.runtime.db('bank_callbacks_log').orderBy('id');
  t.deepEqual(
    logged.map((r) => [r.signature_valid, r.outcome, r.reason, r.http_status]),
    [
      [false, 'refused', 'signature:badSignature', 401],
      [false, 'refused', 'signature:unsigned', 401],
    ],
  );
  // Nothing an unverified body says is taken into the columns.
  t.is(logged[0].notice_number, null);
});

test('the same callback twice is one payment and one signal to the case workflow', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  const paid = p.bank.pay(orderId, { callback: { copies: 2 } });
  await p.bank.settle();

  t.deepEqual(
    p.bank.deliveries.map((d) => d.httpStatus),
    [200, 200],
  );
  t.is(await p.count('payments'), 1);
  t.is(await statusOfNotice(p, noticeNumber), 'paid');
  t.deepEqual(p.signals, [paymentSignal(p, noticeNumber, paid)]);
  const outcomes = await p.hall.runtime.db('bank_callbacks_log').orderBy('id').pluck('outcome');
  t.deepEqual(outcomes, ['accepted', 'duplicate']);
});

test('the same callback arriving three times at once is one payment and one signal', async (t) => {
  const p = await startPaymentsHall(t);
  const { orderId } = await p.issue();
  p.bank.pay(orderId, { callback: { copies: 3, concurrent: true } });
  await p.bank.settle();

  t.true(p.bank.deliveries.every((d) => d.httpStatus === 200));
  t.is(await p.count('payments'), 1);
  t.is(p.signals.length, 1);
  t.is(await p.count('bank_callbacks_log'), 3);
});

test('callbacks held back and released out of order each find their own case', async (t) => {
  const p = await startPaymentsHall(t);
  const first = await p.issue(`${p.caseNumber}#accepted`);
  const second = await p.issue(`${p.caseNumber}#approved`);
  p.bank.pay(first.orderId, { callback: { mode: 'hold' } });
  p.bank.pay(second.orderId, { callback: { mode: 'hold', copies: 2 } });
  await p.bank.release({ reverse: true });

  t.deepEqual(
    p.signals.map((s) => s.payment.noticeNumber),
    [second.noticeNumber, first.noticeNumber],
  );
  t.is(await p.count('payments'), 2);
});

test('a callback for a wrong amount is refused and alerted; the notice stays unpaid', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  // The payer paid 1 yuan of the 120 due; the bank announces what was paid.
  p.bank.pay(orderId, { amountFen: 100 });
  await p.bank.settle();

  t.is(p.bank.deliveries.at(-1)?.httpStatus, 409);
  t.is(await p.count('payments'), 0);
  t.is(await statusOfNotice(p, noticeNumber), 'issued');
  t.deepEqual(p.signals, []);
  const view = await p.get(`/payments?caseNumber=${p.caseNumber}`, 'dev-supervisor');
  t.is(view.status, 200);
  t.like(view.body.notices[0], { noticeNumber, status: 'issued', payments: [] });
  t.deepEqual(
    view.body.alerts.map((a: { kind: string }) => a.kind),
    ['amountMismatch'],
  );
  t.like(view.body.alerts[0].details, {
    noticeAmountFen: PASSPORT_FEE_FEN,
    bank: { amountFen: 100 },
  });
});

test('a signed callback whose amount disagrees with the bank’s status is refused', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  p.bank.pay(orderId, { callback: { mode: 'none' } });
  await p.bank.sendCallback(orderId, { amountFen: 1 });

  t.is(p.bank.deliveries.at(-1)?.httpStatus, 409);
  t.is(await p.count('payments'), 0);
  t.is(await statusOfNotice(p, noticeNumber), 'issued');
  t.is(await p.count('payment_alerts', { kind: 'amountMismatch' }), 1);
});

test('the payment list of a case is for supervisors and admins', async (t) => {
  const p = await startPaymentsHall(t);
  const clerk = await p.get(`/payments?caseNumber=${p.caseNumber}`, 'dev-clerk');
  const unknown = await p.get('/payments?caseNumber=NO-SUCH', 'dev-admin');
  t.is(clerk.status, 403);
  t.is(unknown.status, 404);
});

test('a payment whose callback never came is found by checkPayment', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  const before = await p.activities.checkPayment({ noticeNumber });
  const paid = p.bank.pay(orderId, { callback: { mode: 'none' } });

  const found = await p.activities.checkPayment({ noticeNumber });
  t.false(before.paid);
  t.true(found.paid);
  t.like(found.payment, {
    transactionId: paid.transactionId!,
    amountFen: PASSPORT_FEE_FEN,
    source: 'statusQuery',
  });
  t.is(await statusOfNotice(p, noticeNumber), 'paid');

  // The workflow got the payment as the answer; the callback that comes late tells no one again.
  await p.bank.sendCallback(orderId);
  t.is(p.bank.deliveries.at(-1)?.httpStatus, 200);
  t.deepEqual(p.signals, []);
  t.is(await p.count('payments'), 1);
});

test('reconciliation finds a payment whose callback never came and tells its case', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  const paid = p.bank.pay(orderId, { callback: { mode: 'none' } });

  const res = await importStatement(p, p.bank.statement(p.today));
  const { report } = (await res.json()) as any;
  t.is(res.status, 201);
  t.like(report.totals, { lines: 1, matched: 0, missingAtHall: 1, badLines: 0 });
  t.like(report.missingAtHall[0], { noticeNumber, resolution: 'recorded' });
  t.like(await p.hall.runtime.db('payments').first(), {
    bank_transaction_id: paid.transactionId,
    source: 'reconciliation',
  });
  t.is(await statusOfNotice(p, noticeNumber), 'paid');
  t.deepEqual(p.signals, [paymentSignal(p, noticeNumber, paid)]);
});

test('the same statement imported twice changes nothing', async (t) => {
  const p = await startPaymentsHall(t);
  const { orderId } = await p.issue();
  p.bank.pay(orderId);
  await p.bank.settle();
  const csv = p.bank.statement(p.today);

  const first = await importStatement(p, csv);
  const counts = async () =>
    Promise.all(
      ['payments', 'payment_alerts', 'reconciliation_runs', 'reconciliation_lines'].map((n) =>
        p.count(n),
      ),
    );
  const after = await counts();
  const second = await importStatement(p, csv);

  t.is(first.status, 201);
  t.is(second.status, 200);
  const [a, b] = [((await first.json()) as any).report, ((await second.json()) as any).report];
  t.like(a.totals, { matched: 1, missingAtHall: 0, missingAtBank: 0, mismatchedAmount: 0 });
  t.false(a.alreadyImported);
  t.true(b.alreadyImported);
  t.deepEqual({ ...b, alreadyImported: false }, a);
  t.deepEqual(await counts(), after);
  t.deepEqual(after, [1, 0, 1, 1]);
  t.is(p.signals.length, 1);
});

test('a statement’s bad lines are reported, the rest reconciled, mismatches alerted', async (t) => {
  const p = await startPaymentsHall(t);
  const kept = await p.issue(`${p.caseNumber}#a`);
  const dropped = await p.issue(`${p.caseNumber}#b`);
  const altered = await p.issue(`${p.caseNumber}#c`);
  for (const o of [kept, dropped, altered]) p.bank.pay(o.orderId);
  await p.bank.settle();
  const [header, ...lines] = p.bank.statement(p.today).trim().split('\n');
  const line = (notice: string) => lines.find((l) => l.includes(notice))!;
  const csv = [
    header,
    line(kept.noticeNumber),
    'this is not a statement line',
    line(altered.noticeNumber).replace(',12000,', ',12500,'),
    line(kept.noticeNumber)
      .replace(/^TX\w+/, 'TXOTHER')
      .replace(/,\d{20},/, ',12345678901234567890,'),
    '',
  ].join('\r\n');

  // Uploaded as a form, the way the admin page sends a file.
  const form = new FormData();
  form.set('file', new Blob([csv], { type: 'text/csv' }), 'statement.csv');
  const res = await fetch(`${p.api}/bank/statements?date=${p.today}`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-admin' },
    body: form,
  });
  const { report } = (await res.json()) as any;

  t.is(res.status, 201);
  t.like(report.totals, {
    lines: 4,
    matched: 1,
    mismatchedAmount: 1,
    missingAtBank: 1,
    badLines: 2,
  });
  t.deepEqual(
    report.badLines.map((b: { line: number; problem: string }) => [b.line, b.problem]),
    [
      [3, 'expected 5 fields, found 1'],
      [5, 'notice_number fails its check digits'],
    ],
  );
  t.like(report.mismatchedAmount[0], {
    noticeNumber: altered.noticeNumber,
    amountFen: 12_500,
    hallAmountFen: 12_000,
  });
  t.is(report.missingAtBank[0].noticeNumber, dropped.noticeNumber);
  const alerts = await p.hall.runtime.db('payment_alerts').orderBy('kind').pluck('kind');
  t.deepEqual(alerts, ['mismatchedAmount', 'missingAtBank']);
  t.is(await p.count('reconciliation_lines', { status: 'badLine' }), 2);
});

test('a signal that fails is sent on the bank’s retry, once', async (t) => {
  let failures = 1;
  const p = await startPaymentsHall(t, {
    signalPayment: async () => {
      if (failures-- > 0) throw new Error('temporal unavailable');
    },
  });
  const { orderId } = await p.issue();
  p.bank.pay(orderId);
  await p.bank.settle();

  t.deepEqual(
    p.bank.deliveries.map((d) => d.httpStatus),
    [503, 200],
  );
  t.is(await p.count('payments'), 1);
  t.is(p.signals.length, 1);
  t.truthy((await p.hall.runtime.db('payments').first()).announced_at);
});

test('the sweep signals a payment the API recorded but died before signalling', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  const paid = p.bank.pay(orderId, { callback: { mode: 'none' } });
  const ledger = new PaymentLedger(p.hall.runtime.db);
  const notice = (await ledger.notice(noticeNumber))!;
  await ledger.recordPayment({
    notice,
    transactionId: paid.transactionId!,
    orderId,
    amountFen: paid.amountFen,
    paidAt: paid.paidAt!,
    source: 'callback',
  });
  const signals: string[] = [];
  const signal: SignalPayment = async (id) => {
    signals.push(id);
  };

  t.is(await ledger.announcePending(signal), 1);
  t.is(await ledger.announcePending(signal), 0);
  t.deepEqual(signals, [p.caseNumber]);
});

test('a refund after payment gives back the whole fee, once', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();
  p.bank.pay(orderId);
  await p.bank.settle();

  const req = { caseNumber: p.caseNumber, eventKey: `${p.caseNumber}#withdrawn` };
  const refund = await p.activities.startRefund(req);
  const again = await p.activities.startRefund(req);

  t.is(refund.amountFen, PASSPORT_FEE_FEN);
  t.like(refund.refunds[0], { noticeNumber, status: 'succeeded' });
  t.deepEqual(again, refund);
  t.is(await p.count('refunds'), 1);
  t.is(await statusOfNotice(p, noticeNumber), 'refunded');
  t.is(p.bank.orderOf(noticeNumber)?.status, 'refunded');
});

test('an unpaid notice past its pay-by date is closed at the bank and unpayable', async (t) => {
  const p = await startPaymentsHall(t);
  const { noticeNumber, orderId } = await p.issue();

  const expired = await p.activities.expirePaymentNotice({ noticeNumber });

  t.false(expired.paid);
  t.is(expired.status, 'expired');
  t.is(p.bank.orderOf(noticeNumber)?.status, 'closed');
  t.throws(() => p.bank.pay(orderId), { message: /closed/ });
});

test('the payments migration goes down and up again', async (t) => {
  const hall = await startTestHall(t);
  const { db } = hall.runtime;
  const name = '20261203000020_payments.ts';
  await db.migrate.down({ ...migrationConfig, name });
  t.false(await db.schema.hasTable('payment_notices'));
  t.false(await db.schema.hasTable('reconciliation_lines'));
  await db.migrate.up({ ...migrationConfig, name });
  t.true(await db.schema.hasTable('payment_notices'));
  // The database refuses a notice number whose check digits are wrong.
  const good = noticeNumberOf('20261203', 42);
  const bad = db('payment_notices').insert({
    notice_number: `${good.slice(0, -1)}${(Number(good.at(-1)) + 1) % 10}`,
    case_number: 'X',
    item_code: 'x',
    event_key: 'x',
    lines: '[]',
    amount_fen: 1,
    pay_by: new Date().toISOString(),
    issued_at: new Date().toISOString(),
  });
  await t.throwsAsync(bad, { message: /payment_notices_number_check/ });
});
