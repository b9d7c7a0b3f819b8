/**
 * A department's own approval system as the exchange sees it, for the demo and the tests: it
 * writes and signs caseAccepted, statusChanged, suspended, resumed and caseConcluded messages
 * with its own sequence, pushes them to the hall (one or a batch), keeps them in an outbox the
 * hall can poll (GET /outbox?after=SEQ), and receives the hall's taskAssigned (POST /exchange),
 * answering each with a signed acknowledgement.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { composeBatch, composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import {
  HALL_SENDER,
  type ExchangeMessage,
  type MessageHeader,
  type MessageOf,
  type TaskMessageOfHall,
} from '../lib/exchange/types';
import { hallTaskReceiver } from './departmentSystem';

/** One message the simulator wrote: its header and its signed element. */
export interface SimulatedMessage {
  messageId: string;
  sequence: number;
  caseNumber: string;
  type: ExchangeMessage['type'];
  message: ExchangeMessage;
  /** The signed message element. */
  element: string;
}

/** The fields a caller gives for a message: all but the header the simulator writes. */
export type MessageInput<T extends ExchangeMessage['type']> = Omit<
  MessageOf<T>,
  keyof MessageHeader | 'type'
> & { caseNumber: string };

/** How to start a simulator. */
export interface DepartmentSimulatorOptions {
  department: string;
  /** The HMAC secret shared with the hall; default: the department's development secret. */
  secret?: string;
  /** The hall's base URL (POST /exchange/messages under it). */
  hallUrl?: string;
  /** Port of the simulator's own endpoints; 0 picks a free one. */
  port?: number;
  /** The first sequence number (a restarted system goes on above its last one). */
  firstSequence?: number;
  now?: () => Date;
}

/** A running simulator. */
export interface DepartmentSimulator {
  department: string;
  url: string;
  /** Where the hall polls: GET `${outboxUrl}?after=SEQ`. */
  outboxUrl: string;
  /** Where the hall delivers its taskAssigned. */
  inboundUrl: string;
  /** Every message written, in sequence order: the outbox. */
  outbox: SimulatedMessage[];
  /** The hall's taskAssigned and taskCancelled received signed, duplicates included. */
  received: TaskMessageOfHall[];
  caseAccepted(input: MessageInput<'caseAccepted'>): SimulatedMessage;
  statusChanged(input: MessageInput<'statusChanged'>): SimulatedMessage;
  suspended(input: MessageInput<'suspended'>): SimulatedMessage;
  resumed(input: MessageInput<'resumed'>): SimulatedMessage;
  caseConcluded(input: MessageInput<'caseConcluded'>): SimulatedMessage;
  /** The department's acknowledgement of a hall task message, for sending to the hall. */
  acknowledge(task: TaskMessageOfHall, status?: 'accepted' | 'refused'): SimulatedMessage;
  /** Pushes one message, or several as a batch; answers the hall's status and body. */
  send(messages: SimulatedMessage | SimulatedMessage[]): Promise<{ status: number; body: string }>;
  /** Answers 503 to the next `n` deliveries of the hall (a system that is down). */
  failNext(n: number): void;
  /** Points the simulator at a hall started after it (the hall needs its URLs first). */
  connect(hallUrl: string): void;
  close(): Promise<void>;
}

const OUTBOX_PAGE = 100;

/** Starts a simulator on loopback. */
export async function startDepartmentSimulator(
  opts: DepartmentSimulatorOptions,
): Promise<DepartmentSimulator> {
  const { department } = opts;
  let hallUrl = opts.hallUrl;
  const secret = opts.secret ?? devExchangeSecret(department);
  const now = opts.now ?? (() => new Date());
  const run = randomBytes(4).toString('hex');
  let sequence = (opts.firstSequence ?? 1) - 1;
  const outbox: SimulatedMessage[] = [];
  const received: TaskMessageOfHall[] = [];

  const write = <T extends ExchangeMessage['type']>(
    type: T,
    fields: Record<string, unknown> & { caseNumber: string },
  ): SimulatedMessage => {
    sequence++;
    const message = {
      type,
      messageId: `${department}-${run}-${sequence}`,
      department,
      sequence,
      timestamp: now().toISOString(),
      ...fields,
    } as unknown as ExchangeMessage;
    const written: SimulatedMessage = {
      messageId: message.messageId,
      sequence,
      caseNumber: message.caseNumber,
      type,
      message,
      element: composeMessage(message, secret),
    };
    outbox.push(written);
    return written;
  };

  const batchOf = (messages: SimulatedMessage[]): string =>
    composeBatch(
      { batchId: `${department}-${run}-b${sequence}`, department, timestamp: now().toISOString() },
      messages.map((m) => m.element),
    );

  // The hall's task messages to this department: checked as the hall checks, then acknowledged.
  const hallTasks = hallTaskReceiver({
    secretOf: (recipient) => (recipient === department ? secret : undefined),
    take: (task) => {
      received.push(task);
      return xmlDocument(simulator.acknowledge(task).element);
    },
  });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (req.method === 'GET' && url.pathname === '/outbox') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Math.min(Number(url.searchParams.get('limit') ?? OUTBOX_PAGE), OUTBOX_PAGE);
      const page = outbox.filter((m) => m.sequence > after).slice(0, limit);
      if (page.length === 0) {
        res.statusCode = 204;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/xml; charset=utf-8');
      res.end(batchOf(page));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/exchange') {
      hallTasks.serve(req, res);
      return;
    }
    res.statusCode = 404;
    res.end();
  });

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const simulator: DepartmentSimulator = {
    department,
    url,
    outboxUrl: `${url}/outbox`,
    inboundUrl: `${url}/exchange`,
    outbox,
    received,
    caseAccepted: (input) => write('caseAccepted', input),
    statusChanged: (input) => write('statusChanged', input),
    suspended: (input) => write('suspended', input),
    resumed: (input) => write('resumed', input),
    caseConcluded: (input) => write('caseConcluded', input),
    acknowledge: (task, status = 'accepted') =>
      write('acknowledgement', {
        caseNumber: task.caseNumber,
        recipient: HALL_SENDER,
        acknowledges: task.messageId,
        status,
      }),
    send: async (messages) => {
      if (!hallUrl) throw new Error('the simulator is not connected to a hall (hallUrl)');
      const body = Array.isArray(messages) ? batchOf(messages) : xmlDocument(messages.element);
      const res = await fetch(`${hallUrl}/exchange/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml; charset=utf-8' },
        body,
      });
      return { status: res.status, body: await res.text() };
    },
    failNext: hallTasks.failNext,
    connect: (url) => {
      hallUrl = url;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return simulator;
}

/** One reference case played by a department system: accepted, examined, concluded. */
export interface PlayedCase {
  caseNumber: string;
  itemCode: string;
  applicant: MessageInput<'caseAccepted'>['applicant'];
  materials: string[];
  counter?: string;
  decision: 'approve' | 'deny';
  reasons?: string;
}

/** Plays a case through the exchange as its department's system would; answers each push. */
export async function playCase(
  simulator: DepartmentSimulator,
  played: PlayedCase,
): Promise<{ status: number; body: string }[]> {
  const at = () => new Date().toISOString();
  const steps = [
    simulator.caseAccepted({
      caseNumber: played.caseNumber,
      itemCode: played.itemCode,
      acceptedAt: at(),
      counter: played.counter,
      applicant: played.applicant,
      materials: played.materials,
      channels: [],
    }),
    simulator.statusChanged({ caseNumber: played.caseNumber, status: 'examining', at: at() }),
    simulator.caseConcluded({
      caseNumber: played.caseNumber,
      decision: played.decision,
      reasons: played.reasons,
      concludedAt: at(),
    }),
  ];
  const answers = [];
  for (const step of steps) answers.push(await simulator.send(step));
  return answers;
}

/**
 * `onedoor department-simulator --department market [--hall URL] [--port 8150] [--secret S]`:
 * runs the simulator (outbox and inbound endpoints) until SIGINT/SIGTERM.
 */
export async function runDepartmentSimulator(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      department: { type: 'string' },
      hall: { type: 'string', default: 'http://127.0.0.1:3000' },
      port: { type: 'string', default: '8150' },
      secret: { type: 'string' },
    },
  });
  if (!values.department) {
    process.stderr.write('usage: department-simulator --department CODE [--hall URL]\n');
    return 2;
  }
  const simulator = await startDepartmentSimulator({
    department: values.department,
    secret: values.secret,
    hallUrl: values.hall,
    port: Number(values.port),
  });
  process.stderr.write(
    `${values.department} simulator: outbox ${simulator.outboxUrl}, ` +
      `inbound ${simulator.inboundUrl}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await simulator.close();
  return 0;
}
