/**
 * An SMS gateway, emulated for the demo and the tests as its own process on loopback. It speaks
 * the provider side of lib/notify/smsGateway.ts: it takes signed sends, keeps one message per
 * client reference (a resend is answered with the same message id and counted as a duplicate,
 * never delivered twice), and posts signed delivery reports to the hall.
 *
 * Failure rules: a number ending 0000 is invalid (422, permanent); one ending 4444 is accepted
 * and then reported failed (unreachable); failNext(k) or POST /admin/fail-next {count} makes the
 * next k sends answer 503 (transient).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  DEV_SMS_API_KEY,
  DEV_SMS_API_SECRET,
  isValidSignature,
  segmentsOf,
  signedHeaders,
  SMS_HEADERS,
  type DeliveryReport,
  type SmsStatus,
} from '../lib/notify/smsGateway';

/** One message as the gateway keeps it. */
export interface EmulatedSms {
  messageId: string;
  to: string;
  text: string;
  clientReference: string;
  segments: number;
  status: SmsStatus;
  acceptedAt: string;
  /** Sends received with this client reference, the first included. */
  sends: number;
}

/** What the gateway counted. */
export interface SmsGatewayStats {
  /** Messages taken and sent to a handset: one per client reference. */
  sent: number;
  /** Resends of a client reference already taken. */
  duplicates: number;
  delivered: number;
  failed: number;
  /** Refused as invalid numbers. */
  rejected: number;
  /** Answered 503 on purpose. */
  unavailable: number;
  /** Refused for a bad key or signature. */
  unauthorized: number;
  reportsPosted: number;
  reportsFailed: number;
}

/** A running emulator. */
export interface SmsGatewayEmulator {
  /** Base URL, for SMS_GATEWAY_URL. */
  url: string;
  messages: EmulatedSms[];
  stats: SmsGatewayStats;
  /** Answers 503 to the next `count` sends. */
  failNext: (count: number) => void;
  /** Resolves once every delivery report due so far has been posted (or given up). */
  settled: () => Promise<void>;
  close: () => Promise<void>;
}

/** Settings of one emulator. */
export interface SmsGatewayEmulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  /** The secret both sides sign with (the hall's SMS_API_SECRET). */
  secret: string;
  /** The key a send must carry; any key when absent. */
  apiKey?: string;
  /** Where delivery reports go; none are sent when absent. */
  callbackUrl?: string;
  /** Time from acceptance to the handset's delivery report. */
  deliveryDelayMs?: number;
}

const REPORT_ATTEMPTS = 5;
const MAX_BODY = 64 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

/** Starts the emulator on 127.0.0.1. */
export async function startSmsGateway(
  options: SmsGatewayEmulatorOptions,
): Promise<SmsGatewayEmulator> {
  const messages: EmulatedSms[] = [];
  const byReference = new Map<string, EmulatedSms>();
  const stats: SmsGatewayStats = {
    sent: 0,
    duplicates: 0,
    delivered: 0,
    failed: 0,
    rejected: 0,
    unavailable: 0,
    unauthorized: 0,
    reportsPosted: 0,
    reportsFailed: 0,
  };
  const pending = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let failures = 0;
  let closing = false;
  let nextId = 1;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  // A hall that answers non-2xx or cannot be reached is tried again, as providers do.
  const postReport = async (report: DeliveryReport): Promise<void> => {
    const body = JSON.stringify(report);
    const headers = signedHeaders(
      { apiKey: options.apiKey ?? DEV_SMS_API_KEY, apiSecret: options.secret },
      body,
    );
    for (let attempt = 0; attempt < REPORT_ATTEMPTS && !closing; attempt++) {
      try {
        const res = await fetch(options.callbackUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
          signal: AbortSignal.timeout(5_000),
        });
        await res.arrayBuffer();
        if (res.ok) {
          stats.reportsPosted++;
          return;
        }
      } catch {
        // unreachable: try again below
      }
      await sleep(100 * 2 ** attempt);
    }
    stats.reportsFailed++;
  };

  const deliverLater = (sms: EmulatedSms): void => {
    const job = (async () => {
      await sleep(options.deliveryDelayMs ?? 20);
      if (closing) return;
      const unreachable = sms.to.endsWith('4444');
      sms.status = unreachable ? 'failed' : 'delivered';
      if (unreachable) stats.failed++;
      else stats.delivered++;
      if (!options.callbackUrl) return;
      await postReport({
        messageId: sms.messageId,
        clientReference: sms.clientReference,
        status: sms.status,
        errorCode: unreachable ? 'unreachable' : undefined,
        at: new Date().toISOString(),
      });
    })();
    pending.add(job);
    void job.finally(() => pending.delete(job));
  };

  const send = (raw: string, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const signed = isValidSignature(
      options.secret,
      {
        timestamp: req.headers[SMS_HEADERS.timestamp] as string | undefined,
        signature: req.headers[SMS_HEADERS.signature] as string | undefined,
      },
      raw,
    );
    const keyOk = !options.apiKey || req.headers[SMS_HEADERS.apiKey] === options.apiKey;
    if (!signed || !keyOk) {
      stats.unauthorized++;
      return answer(res, 401, { error: 'unauthorized', message: 'bad key or signature' });
    }
    if (failures > 0) {
      failures--;
      stats.unavailable++;
      return answer(res, 503, { error: 'unavailable', message: 'try again later' });
    }
    let body: { to?: unknown; text?: unknown; clientReference?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return answer(res, 400, { error: 'bad_request', message: 'not JSON' });
    }
    const { to, text, clientReference } = body;
    if (typeof to !== 'string' || typeof text !== 'string' || typeof clientReference !== 'string') {
      return answer(res, 400, { error: 'bad_request', message: 'to, text, clientReference' });
    }
    const known = byReference.get(clientReference);
    if (known) {
      if (known.to !== to) {
        return answer(res, 409, { error: 'reference_conflict', message: 'another number' });
      }
      known.sends++;
      stats.duplicates++;
      return answer(res, 200, {
        messageId: known.messageId,
        status: known.status,
        duplicate: true,
      });
    }
    if (!/^\+?\d{6,15}$/.test(to) || to.endsWith('0000')) {
      stats.rejected++;
      return answer(res, 422, { error: 'invalid_number', message: 'not a valid mobile number' });
    }
    const sms: EmulatedSms = {
      messageId: `SM${String(nextId++).padStart(10, '0')}`,
      to,
      text,
      clientReference,
      segments: segmentsOf(text),
      status: 'accepted',
      acceptedAt: new Date().toISOString(),
      sends: 1,
    };
    messages.push(sms);
    byReference.set(clientReference, sms);
    stats.sent++;
    deliverLater(sms);
    answer(res, 202, { messageId: sms.messageId, status: sms.status, duplicate: false });
  };

  const server = http.createServer((req, res) => {
    void readBody(req).then(
      (raw) => {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method === 'POST' && path === '/v1/sms') return send(raw, req, res);
        if (req.method === 'GET' && path === '/messages') return answer(res, 200, messages);
        if (req.method === 'GET' && path === '/stats') return answer(res, 200, stats);
        if (req.method === 'POST' && path === '/admin/fail-next') {
          const count = Number((JSON.parse(raw || '{}') as { count?: unknown }).count ?? 1);
          failures = Number.isInteger(count) && count > 0 ? count : 0;
          return answer(res, 200, { failNext: failures });
        }
        answer(res, 404, { error: 'not_found' });
      },
      () => answer(res, 400, { error: 'bad_request' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    stats,
    failNext: (count) => {
      failures = count;
    },
    settled: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close: async () => {
      closing = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * `onedoor sms-gateway [--port 8125] [--callback-url URL] [--delivery-delay-ms 200]`: runs the
 * emulator until SIGINT/SIGTERM. The key and secret are the hall's SMS_API_KEY/SMS_API_SECRET
 * (development defaults otherwise), so both sides sign alike.
 */
export async function runSmsGateway(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8125' },
      'callback-url': {
        type: 'string',
        default: 'http://127.0.0.1:3000/notifications/sms/delivery-reports',
      },
      'delivery-delay-ms': { type: 'string', default: '200' },
    },
  });
  const gateway = await startSmsGateway({
    port: Number(values.port),
    apiKey: process.env.SMS_API_KEY || DEV_SMS_API_KEY,
    secret: process.env.SMS_API_SECRET || DEV_SMS_API_SECRET,
    callbackUrl: values['callback-url'] || undefined,
    deliveryDelayMs: Number(values['delivery-delay-ms']),
  });
  process.stderr.write(`SMS gateway emulator at ${gateway.url} (GET /messages, GET /stats)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await gateway.close();
  return 0;
}
