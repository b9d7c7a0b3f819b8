/**
 * A real SMTP server on loopback (smtp-server), for the demo and the tests: it takes every
 * message, keeps it in memory and, unless told not to, parses it with mailparser so tests can
 * look at subjects, bodies and attachments.
 *
 * Failure rules: a recipient at invalid.test, or whose local part starts with `bounce`, is
 * refused with 550 (permanent); failNext(k) makes the next k messages fail with 451 (transient).
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/** One message as the server received it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** The Message-ID header, as sent. */
  messageId?: string;
  raw: Buffer;
  receivedAt: string;
  /** The parsed message, when the server parses. */
  parsed?: ParsedMail;
}

/** A running server. */
export interface SmtpEmulator {
  port: number;
  /** For SMTP_URL. */
  url: string;
  /** Every message received, in order, resends included. */
  received: ReceivedMail[];
  /** Messages whose Message-ID the server had seen before: resends. */
  duplicates: () => number;
  /** Fails the next `count` messages with 451. */
  failNext: (count: number) => void;
  close: () => Promise<void>;
}

/** Settings of one server. */
export interface SmtpEmulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Parse each message with mailparser (tests); off keeps the raw bytes only (bench). */
  parse?: boolean;
  /** Keep at most this many messages, dropping the oldest (a long-running demo). */
  keep?: number;
  /** Called with each message kept. */
  onMessage?: (mail: ReceivedMail) => void;
}

const SMTP_ERROR = (message: string, responseCode: number) =>
  Object.assign(new Error(message), { responseCode });

function isRefused(address: SMTPServerAddress): boolean {
  const [local, domain] = address.address.toLowerCase().split('@');
  return domain === 'invalid.test' || local.startsWith('bounce');
}

function messageIdOf(raw: Buffer): string | undefined {
  const end = raw.indexOf('\r\n\r\n');
  const headers = raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
  return /^message-id:\s*(\S+)/im.exec(headers)?.[1];
}

/** Starts the server on 127.0.0.1 (no TLS: loopback only). */
export async function startSmtpServer(options: SmtpEmulatorOptions = {}): Promise<SmtpEmulator> {
  const received: ReceivedMail[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let failures = 0;

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    size: 25 * 1024 * 1024,
    banner: 'onedoor SMTP emulator',
    // Clients keep pooled connections open; closing waits this long for them, then cuts them.
    closeTimeout: 500,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username ?? 'anonymous' }),
    onMailFrom: (_address, _session, callback) => {
      if (failures > 0) {
        failures--;
        return callback(SMTP_ERROR('4.3.0 temporarily unavailable, try again later', 451));
      }
      callback();
    },
    onRcptTo: (address, _session, callback) =>
      isRefused(address) ? callback(SMTP_ERROR('5.1.1 mailbox unavailable', 550)) : callback(),
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(SMTP_ERROR('5.3.4 message too big', 552));
        const raw = Buffer.concat(chunks);
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          messageId: messageIdOf(raw),
          raw,
          receivedAt: new Date().toISOString(),
        };
        if (mail.messageId) {
          if (seen.has(mail.messageId)) duplicates++;
          seen.add(mail.messageId);
        }
        const keep = (): void => {
          received.push(mail);
          if (options.keep && received.length > options.keep) received.shift();
          options.onMessage?.(mail);
          callback(null, 'OK: queued');
        };
        if (options.parse === false) return keep();
        simpleParser(raw).then(
          (parsed) => {
            mail.parsed = parsed;
            keep();
          },
          (err: Error) => callback(SMTP_ERROR(`5.6.0 unparseable message: ${err.message}`, 554)),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    duplicates: () => duplicates,
    failNext: (count) => {
      failures = count;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `onedoor smtp-server [--port 2525]`: runs the server until SIGINT/SIGTERM, logging arrivals. */
export async function runSmtpServer(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '2525' } },
  });
  const smtp = await startSmtpServer({
    port: Number(values.port),
    parse: false,
    keep: 1000,
    onMessage: (mail) =>
      process.stderr.write(`mail ${mail.messageId ?? '(no id)'}: ${mail.raw.length} bytes\n`),
  });
  process.stderr.write(`SMTP emulator at ${smtp.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await smtp.close();
  return 0;
}
