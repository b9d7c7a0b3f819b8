/**
 * The collecting bank, emulated for development and the tests: its own process on loopback with
 * its own merchant key. It takes the hall's payment orders, lets a payer pay one, sends the
 * signed callback (on time, late, twice, held back and released out of order, or never), answers
 * status queries, closes and refunds orders, and hands out the statement file of a day.
 *
 * Merchant endpoints (signed by the hall, answers signed by the bank, see lib/bank/client.ts):
 *   POST /orders, GET /orders/:id, POST /orders/:id/close, POST /orders/:id/refunds,
 *   GET /statements/:date (text/csv)
 * Payer and demo endpoints (loopback only, unsigned):
 *   POST /orders/:id/pay  { amountFen?, callback?: { mode, delayMs, copies, concurrent } }
 *   POST /control/release { reverse? }   sends the callbacks held back by mode 'hold'
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  DEV_BANK_SECRET,
  DEV_MERCHANT_ID,
  isValidNoticeNumber,
  RESPONSE_METHOD,
  SIGNATURE_HEADER,
  STATEMENT_COLUMNS,
  signatureHeaders,
  TIMESTAMP_HEADER,
  verifySignature,
  type BankOrderState,
  type BankOrderStatus,
} from '../lib/bank/client';
import { dateInZone } from '../lib/calendar';
import { componentLogger } from '../lib/log';

/** How the callback of a payment goes out. */
export interface CallbackPlan {
  /** now: sent after delayMs; none: never (a lost callback); hold: until release(). */
  mode?: 'now' | 'none' | 'hold';
  delayMs?: number;
  /** How many copies (a bank that announces twice). */
  copies?: number;
  /** Copies sent at the same moment rather than one after the other. */
  concurrent?: boolean;
  /** Announce this amount instead of the one paid (a faulty or tampered callback). */
  amountFen?: number;
}

/** One attempt to deliver a callback, and the hall's answer. */
export interface CallbackDelivery {
  orderId: string;
  transactionId: string;
  attempt: number;
  /** The hall's HTTP status, or 0 when it could not be reached. */
  httpStatus: number;
  at: string;
}

/** An order as the bank holds it. */
interface Order {
  orderId: string;
  noticeNumber: string;
  amountFen: number;
  payBy: string;
  description: string;
  notifyUrl: string;
  status: BankOrderState;
  paidAmountFen?: number;
  transactionId?: string;
  paidAt?: string;
  refunds: Map<string, { refundId: string; amountFen: number }>;
}

/** Options of an emulator. */
export interface BankEmulatorOptions {
  /** 0 picks a free port. */
  port: number;
  /** The merchant key it shares with the hall. */
  secret: string;
  /** Where callbacks go when an order names no notifyUrl of its own. */
  callbackUrl?: string;
  merchantId?: string;
  /** The bank's booking day of a payment, for statements. */
  timeZone?: string;
  /** Delivery of a callback the hall did not acknowledge: attempts and the pause between them. */
  callbackRetry?: { attempts: number; delayMs: number };
}

/** A running emulator, with the payer's and the test's controls. */
export interface BankEmulator {
  url: string;
  /** The payer pays an order (by default in full), and the callback goes out per the plan. */
  pay: (orderId: string, opts?: { amountFen?: number; callback?: CallbackPlan }) => BankOrderStatus;
  /** Sends the callback of a paid order again, per the plan; resolves when delivered. */
  sendCallback: (orderId: string, plan?: CallbackPlan) => Promise<CallbackDelivery[]>;
  /** Sends the held-back callbacks, in the order held or reversed; resolves when delivered. */
  release: (opts?: { reverse?: boolean }) => Promise<CallbackDelivery[]>;
  /** Every delivery attempt so far. */
  deliveries: CallbackDelivery[];
  /** The orders, as the status endpoint would answer them. */
  orders: () => BankOrderStatus[];
  /** The order of a notice, if the hall created one. */
  orderOf: (noticeNumber: string) => BankOrderStatus | undefined;
  /** The statement file of a day (YYYY-MM-DD in the bank's time zone). */
  statement: (date: string) => string;
  /** Waits for every callback in flight. */
  settle: () => Promise<void>;
  close: () => Promise<void>;
}

const statusOf = (o: Order): BankOrderStatus => ({
  orderId: o.orderId,
  noticeNumber: o.noticeNumber,
  status: o.status,
  amountFen: o.paidAmountFen ?? o.amountFen,
  transactionId: o.transactionId ?? null,
  paidAt: o.paidAt ?? null,
});

const newId = (prefix: string): string =>
  `${prefix}${Date.now().toString(36).toUpperCase()}${randomBytes(4).toString('hex').toUpperCase()}`;

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the emulator on 127.0.0.1. */
export async function startBankEmulator(options: BankEmulatorOptions): Promise<BankEmulator> {
  const merchantId = options.merchantId ?? DEV_MERCHANT_ID;
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  const retry = options.callbackRetry ?? { attempts: 5, delayMs: 1000 };
  const orders = new Map<string, Order>();
  const byNotice = new Map<string, string>();
  const held: { order: Order; plan: CallbackPlan }[] = [];
  const deliveries: CallbackDelivery[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Posts one signed callback, retried while the hall does not answer 2xx or 4xx. */
  async function deliverOnce(order: Order, amountFen?: number): Promise<CallbackDelivery> {
    const body = JSON.stringify({
      merchantId,
      orderId: order.orderId,
      noticeNumber: order.noticeNumber,
      transactionId: order.transactionId,
      amountFen: amountFen ?? order.paidAmountFen,
      paidAt: order.paidAt,
      status: 'paid',
    });
    const url = new URL(order.notifyUrl);
    let last: CallbackDelivery | undefined;
    for (let attempt = 1; attempt <= retry.attempts && !closing; attempt++) {
      let httpStatus = 0;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...signatureHeaders(options.secret, {
              method: 'POST',
              path: `${url.pathname}${url.search}`,
              body,
            }),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        httpStatus = res.status;
        await res.arrayBuffer();
      } catch {
        httpStatus = 0;
      }
      last = {
        orderId: order.orderId,
        transactionId: order.transactionId!,
        attempt,
        httpStatus,
        at: new Date().toISOString(),
      };
      deliveries.push(last);
      // 2xx is an acknowledgement, 4xx a refusal: asking again would get the same answer.
      if (httpStatus >= 200 && httpStatus < 500 && httpStatus !== 429) break;
      await sleep(retry.delayMs * attempt);
    }
    return last!;
  }

  async function deliver(order: Order, plan: CallbackPlan): Promise<CallbackDelivery[]> {
    if (plan.delayMs) await sleep(plan.delayMs);
    const copies = Math.max(1, plan.copies ?? 1);
    if (plan.concurrent) {
      return Promise.all(Array.from({ length: copies }, () => deliverOnce(order, plan.amountFen)));
    }
    const out: CallbackDelivery[] = [];
    for (let i = 0; i < copies; i++) out.push(await deliverOnce(order, plan.amountFen));
    return out;
  }

  function dispatch(order: Order, plan: CallbackPlan): void {
    const mode = plan.mode ?? 'now';
    if (mode === 'none') return;
    if (mode === 'hold') held.push({ order, plan });
    else void track(deliver(order, plan));
  }

  function orderById(id: string): Order {
    const order = orders.get(id);
    if (!order) throw new HttpFailure(404, 'order_not_found', `no order ${id}`);
    return order;
  }

  function pay(orderId: string, opts: { amountFen?: number; callback?: CallbackPlan } = {}) {
    const order = orderById(orderId);
    if (order.status !== 'created') {
      throw new HttpFailure(409, 'order_not_payable', `order ${orderId} is ${order.status}`);
    }
    const amount = opts.amountFen ?? order.amountFen;
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      throw new HttpFailure(422, 'bad_amount', 'amountFen is a positive integer');
    }
    Object.assign(order, {
      status: 'paid',
      paidAmountFen: amount,
      transactionId: newId('TX'),
      paidAt: new Date().toISOString(),
    });
    dispatch(order, opts.callback ?? {});
    return statusOf(order);
  }

  function createOrder(body: Record<string, unknown>): BankOrderStatus {
    const { noticeNumber, amountFen, payBy, description, notifyUrl } = body as {
      noticeNumber?: string;
      amountFen?: number;
      payBy?: string;
      description?: string;
      notifyUrl?: string;
    };
    if (!noticeNumber || !isValidNoticeNumber(noticeNumber)) {
      throw new HttpFailure(422, 'bad_notice_number', 'noticeNumber fails its check digits');
    }
    if (!Number.isSafeInteger(amountFen) || (amountFen as number) <= 0) {
      throw new HttpFailure(422, 'bad_amount', 'amountFen is a positive integer');
    }
    const existing = byNotice.get(noticeNumber);
    if (existing) {
      const order = orders.get(existing)!;
      if (order.amountFen !== amountFen) {
        throw new HttpFailure(409, 'order_conflict', 'the notice has an order of another amount');
      }
      return statusOf(order);
    }
    const order: Order = {
      orderId: newId('BO'),
      noticeNumber,
      amountFen: amountFen as number,
      payBy: String(payBy ?? ''),
      description: String(description ?? ''),
      notifyUrl: notifyUrl ?? options.callbackUrl ?? '',
      status: 'created',
      refunds: new Map(),
    };
    if (!order.notifyUrl) throw new HttpFailure(422, 'no_notify_url', 'name a notifyUrl');
    orders.set(order.orderId, order);
    byNotice.set(noticeNumber, order.orderId);
    return statusOf(order);
  }

  function refund(order: Order, body: Record<string, unknown>) {
    const requestId = String(body.refundRequestId ?? '');
    const amount = Number(body.amountFen);
    if (!requestId) throw new HttpFailure(422, 'bad_request', 'name a refundRequestId');
    const done = order.refunds.get(requestId);
    if (done) return { refundId: done.refundId, status: 'succeeded' };
    if (order.status !== 'paid') {
      throw new HttpFailure(
        409,
        'order_not_refundable',
        `order ${order.orderId} is ${order.status}`,
      );
    }
    if (body.transactionId !== order.transactionId || amount !== order.paidAmountFen) {
      throw new HttpFailure(422, 'refund_mismatch', 'a refund is of the whole transaction');
    }
    const refundId = newId('RF');
    order.refunds.set(requestId, { refundId, amountFen: amount });
    order.status = 'refunded';
    return { refundId, status: 'succeeded' };
  }

  function statement(date: string): string {
    const lines = [...orders.values()]
      .filter((o) => o.paidAt && dateInZone(new Date(o.paidAt), timeZone) === date)
      .sort((a, b) => a.paidAt!.localeCompare(b.paidAt!))
      .map((o) =>
        [o.transactionId, o.orderId, o.noticeNumber, o.paidAmountFen, o.paidAt].join(','),
      );
    return [STATEMENT_COLUMNS.join(','), ...lines].join('\n') + '\n';
  }

  async function release(opts: { reverse?: boolean } = {}): Promise<CallbackDelivery[]> {
    const batch = held.splice(0, held.length);
    if (opts.reverse) batch.reverse();
    const out: CallbackDelivery[] = [];
    for (const { order, plan } of batch) out.push(...(await track(deliver(order, plan))));
    return out;
  }

  /** The merchant API: the hall's signed requests, answered signed. */
  function merchant(method: string, path: string, body: Record<string, unknown>): unknown {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/orders') return createOrder(body);
    if (method === 'GET' && (m = /^\/orders\/([^/]+)$/.exec(path))) {
      return statusOf(orderById(decodeURIComponent(m[1])));
    }
    if (method === 'POST' && (m = /^\/orders\/([^/]+)\/close$/.exec(path))) {
      const order = orderById(decodeURIComponent(m[1]));
      if (order.status === 'created') order.status = 'closed';
      return statusOf(order);
    }
    if (method === 'POST' && (m = /^\/orders\/([^/]+)\/refunds$/.exec(path))) {
      return refund(orderById(decodeURIComponent(m[1])), body);
    }
    if (method === 'GET' && (m = /^\/statements\/(\d{4}-\d{2}-\d{2})$/.exec(path))) {
      return { csv: statement(m[1]) };
    }
    throw new HttpFailure(404, 'not_found', `no ${method} ${path}`);
  }

  function answer(res: http.ServerResponse, path: string, status: number, payload: unknown) {
    const csv = (payload as { csv?: string } | undefined)?.csv;
    const text = csv ?? JSON.stringify(payload);
    res.statusCode = status;
    res.setHeader('content-type', csv ? 'text/csv; charset=utf-8' : 'application/json');
    const signed = signatureHeaders(options.secret, { method: RESPONSE_METHOD, path, body: text });
    for (const [name, value] of Object.entries(signed)) res.setHeader(name, value);
    res.end(text);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const raw = Buffer.concat(chunks).toString('utf8');
      const method = (req.method ?? 'GET').toUpperCase();
      try {
        const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        let m: RegExpExecArray | null;
        if (method === 'POST' && (m = /^\/orders\/([^/]+)\/pay$/.exec(path))) {
          const opts = body as { amountFen?: number; callback?: CallbackPlan };
          return answer(res, path, 200, pay(decodeURIComponent(m[1]), opts));
        }
        if (method === 'POST' && path === '/control/release') {
          void track(release({ reverse: Boolean(body.reverse) }));
          return answer(res, path, 202, { releasing: held.length });
        }
        const problem = verifySignature(
          options.secret,
          { method, path, body: raw, timestamp: req.headers[TIMESTAMP_HEADER] as string },
          req.headers[SIGNATURE_HEADER] as string | undefined,
          { toleranceSeconds: 300 },
        );
        if (problem || req.headers['x-merchant-id'] !== merchantId) {
          throw new HttpFailure(401, 'unauthenticated', `request not signed: ${problem}`);
        }
        return answer(res, path, method === 'POST' && path === '/orders' ? 201 : 200, {
          ...(merchant(method, path, body) as object),
        });
      } catch (err) {
        const failure =
          err instanceof HttpFailure
            ? err
            : new HttpFailure(400, 'bad_request', (err as Error).message);
        return answer(res, path, failure.status, { code: failure.code, message: failure.message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    pay,
    sendCallback: (orderId, plan = {}) => {
      const order = orderById(orderId);
      if (!order.transactionId) throw new Error(`order ${orderId} is not paid`);
      return track(deliver(order, plan));
    },
    release,
    deliveries,
    orders: () => [...orders.values()].map(statusOf),
    orderOf: (noticeNumber) => {
      const id = byNotice.get(noticeNumber);
      return id ? statusOf(orders.get(id)!) : undefined;
    },
    statement,
    settle: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close: async () => {
      closing = true;
      await Promise.allSettled([...inFlight]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * `onedoor bank [--port 8130] [--secret KEY] [--callback-url URL] [--merchant ID]`: runs the
 * emulator until SIGINT/SIGTERM. The defaults match the hall's development settings.
 */
export async function runBank(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8130' },
      secret: { type: 'string', default: DEV_BANK_SECRET },
      'callback-url': { type: 'string', default: 'http://127.0.0.1:3000/bank/callbacks' },
      merchant: { type: 'string', default: DEV_MERCHANT_ID },
    },
  });
  const log = componentLogger('bank');
  const bank = await startBankEmulator({
    port: Number(values.port),
    secret: values.secret!,
    callbackUrl: values['callback-url'],
    merchantId: values.merchant,
  });
  log.info({ url: bank.url, merchantId: values.merchant }, 'bank emulator listening');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await bank.close();
  return 0;
}
