/**
 * The departments' own approval systems, emulated for the demo and the tests: one process
 * stands for every department with its own system. It receives the hall's taskAssigned and
 * taskCancelled messages of the XML exchange (POST, any path), checks them as the hall checks
 * what it receives (schema, then the recipient's HMAC), and answers each with the recipient's
 * signed acknowledgement; it can be told to be down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { TaskMessage } from '../activities/departments';
import { composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { parseExchangeBody } from '../lib/exchange/parse';
import { isValidSignature } from '../lib/exchange/sign';
import {
  HALL_SENDER,
  type AcknowledgementMessage,
  type TaskMessageOfHall,
} from '../lib/exchange/types';

/** A running emulator. */
export interface DepartmentSystem {
  url: string;
  /** Every task message taken, in order, duplicates included, as the hall's TaskMessage. */
  received: TaskMessage[];
  /** The same messages as the exchange carried them. */
  messages: TaskMessageOfHall[];
  /** Answers 503 to the next `n` messages (a system that is down). */
  failNext: (n: number) => void;
  close: () => Promise<void>;
}

/** How to start the emulator. */
export interface DepartmentSystemOptions {
  /** Port on loopback; 0 picks a free one. */
  port?: number;
  /** The secret of a department; default: its development secret. */
  secretOf?: (department: string) => string;
}

function asTaskMessage(m: TaskMessageOfHall): TaskMessage {
  const common = {
    caseNumber: m.caseNumber,
    taskCode: m.taskCode,
    department: m.recipient,
    eventKey: m.messageId,
  };
  if (m.type === 'taskCancelled') {
    return { ...common, kind: 'taskCancelled', itemCode: '', title: '', reason: m.reason };
  }
  return {
    ...common,
    kind: 'taskAssigned',
    itemCode: m.itemCode,
    title: m.title,
    role: m.role,
    openedAt: m.openedAt,
    statutoryDueAt: m.statutoryDueAt,
    promisedDueAt: m.promisedDueAt,
  };
}

/** The answer of an emulated department system to one POST of the hall. */
export interface HallAnswer {
  status: number;
  body: string;
}

/** How an emulated system takes the hall's task messages. */
export interface HallTaskReceiverOptions {
  /** The secret a message to `recipient` is signed with; undefined: not a recipient here. */
  secretOf: (recipient: string) => string | undefined;
  /** Keeps a message that passed the checks; returns its acknowledgement document. */
  take: (m: TaskMessageOfHall) => string;
}

/** The hall's task messages as a department system takes them, and its switch to be down. */
export interface HallTaskReceiver {
  answer: (body: Buffer) => Promise<HallAnswer>;
  /** Answers 503 to the next `n` messages (a system that is down). */
  failNext: (n: number) => void;
  /** Reads a request's body and writes `answer`'s reply to it. */
  serve: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/**
 * Checks a message of the hall as the hall checks what it receives (schema, then the
 * recipient's HMAC): 503 while told to be down, 422 with the reason for anything but a single
 * signed taskAssigned or taskCancelled of the hall to a recipient here, else `take`'s answer.
 */
export function hallTaskReceiver(options: HallTaskReceiverOptions): HallTaskReceiver {
  let failures = 0;
  const refused = (body: string): HallAnswer => ({ status: 422, body });
  const answer = async (body: Buffer): Promise<HallAnswer> => {
    if (failures > 0) {
      failures--;
      return { status: 503, body: 'down for maintenance' };
    }
    try {
      const parsed = await parseExchangeBody(body);
      const [first] = parsed.messages;
      const m = first.message;
      if (parsed.kind !== 'single' || (m.type !== 'taskAssigned' && m.type !== 'taskCancelled')) {
        return refused('not a task message of the hall');
      }
      if (m.department !== HALL_SENDER) return refused('not sent by the hall');
      const secret = options.secretOf(m.recipient);
      if (secret === undefined) return refused(`no system of ${m.recipient} here`);
      if (!isValidSignature(secret, first.canonical, first.signature)) {
        return refused(`the signature does not match the secret of ${m.recipient}`);
      }
      return { status: 200, body: options.take(m) };
    } catch (err) {
      return refused((err as Error).message);
    }
  };
  return {
    answer,
    failNext: (n) => {
      failures = n;
    },
    serve: (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void answer(Buffer.concat(chunks)).then(({ status, body }) => {
          res.statusCode = status;
          res.setHeader('content-type', 'application/xml; charset=utf-8');
          res.end(body);
        });
      });
    },
  };
}

/** Starts the emulator on loopback. */
export async function startDepartmentSystem(
  opts: DepartmentSystemOptions | number = {},
): Promise<DepartmentSystem> {
  const options = typeof opts === 'number' ? { port: opts } : opts;
  const secretOf = options.secretOf ?? devExchangeSecret;
  const received: TaskMessage[] = [];
  const messages: TaskMessageOfHall[] = [];
  const sequences = new Map<string, number>();
  const acknowledge = (m: TaskMessageOfHall): string => {
    const department = m.recipient;
    const sequence = (sequences.get(department) ?? 0) + 1;
    sequences.set(department, sequence);
    const ack: AcknowledgementMessage = {
      type: 'acknowledgement',
      messageId: `${department}-system-ack-${sequence}`,
      department,
      sequence,
      caseNumber: m.caseNumber,
      timestamp: new Date().toISOString(),
      recipient: HALL_SENDER,
      acknowledges: m.messageId,
      status: 'accepted',
    };
    return xmlDocument(composeMessage(ack, secretOf(department)));
  };

  const receiver = hallTaskReceiver({
    secretOf,
    take: (m) => {
      messages.push(m);
      received.push(asTaskMessage(m));
      return acknowledge(m);
    },
  });

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/received') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(received));
      return;
    }
    receiver.serve(req, res);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/tasks`,
    received,
    messages,
    failNext: receiver.failNext,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `onedoor department-system [--port 8140]`: runs the emulator until SIGINT/SIGTERM. */
export async function runDepartmentSystem(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '8140' } },
  });
  const system = await startDepartmentSystem({ port: Number(values.port) });
  process.stderr.write(`department system emulator at ${system.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await system.close();
  return 0;
}
