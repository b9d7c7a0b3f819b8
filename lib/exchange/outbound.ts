/**
 * The messages the hall writes: its acknowledgement of each department message, and the
 * taskAssigned (and taskCancelled) of a task for a department with its own system. All are
 * signed with the secret shared with the recipient and numbered from the hall's own sequence.
 */
import type { Knex } from 'knex';
import { composeMessage, xmlDocument } from './compose';
import { parseExchangeBody } from './parse';
import { isValidSignature } from './sign';
import type { ExchangeStore } from './store';
import {
  HALL_SENDER,
  type AckStatus,
  type ExchangeSecrets,
  type MessageHeader,
  type TaskAssignedMessage,
  type TaskCancelledMessage,
} from './types';

/** What the hall answers about one message. */
export interface AckAnswer {
  status: AckStatus;
  reason?: string;
  detail?: string;
  hallCaseNumber?: string;
  receiptNumber?: string;
}

/** An acknowledgement written by the hall. */
export interface HallAck {
  ackMessageId: string;
  /** The signed acknowledgement element (no XML declaration). */
  ack: string;
}

/** The longest detail the schema takes. */
const DETAIL_MAX = 4000;

function secretFor(secrets: ExchangeSecrets, department: string): string {
  const secret = secrets[department];
  if (!secret) throw new Error(`no exchange secret for ${department}`);
  return secret;
}

/** Writes and signs the hall's acknowledgement of a department's message. */
export async function composeHallAck(
  of: Pick<MessageHeader, 'messageId' | 'department' | 'caseNumber'>,
  answer: AckAnswer,
  deps: { store: ExchangeStore; secrets: ExchangeSecrets; now?: () => Date },
  db?: Knex.Transaction,
): Promise<HallAck> {
  const sequence = await deps.store.nextHallSequence(db);
  const ackMessageId = `hall-ack-${sequence}`;
  const detail = answer.detail?.trim().slice(0, DETAIL_MAX) || undefined;
  const ack = composeMessage(
    {
      type: 'acknowledgement',
      messageId: ackMessageId,
      department: HALL_SENDER,
      sequence,
      caseNumber: of.caseNumber,
      timestamp: (deps.now?.() ?? new Date()).toISOString(),
      recipient: of.department,
      acknowledges: of.messageId,
      status: answer.status,
      reason: answer.reason,
      detail,
      hallCaseNumber: answer.hallCaseNumber,
      receiptNumber: answer.receiptNumber,
    },
    secretFor(deps.secrets, of.department),
  );
  return { ackMessageId, ack };
}

/** A task of a joint case for a department with its own system (cf. TaskMessage). */
export interface TaskAssignment {
  /** The case event that assigned the task: the same event always gives the same message. */
  eventKey: string;
  caseNumber: string;
  recipient: string;
  taskCode: string;
  itemCode: string;
  title: string;
  role: 'lead' | 'related';
  openedAt?: string;
  statutoryDueAt?: string;
  promisedDueAt?: string;
}

/** A hall message ready to send: its id and its whole document. */
export interface PreparedMessage {
  messageId: string;
  sequence: number;
  document: string;
  acknowledgedAt: string | null;
}

/** The end of a task a department was assigned (its case was denied, withdrawn...). */
export interface TaskCancellation {
  /** The case event that cancelled the task: the same event always gives the same message. */
  eventKey: string;
  caseNumber: string;
  recipient: string;
  taskCode: string;
  /** The messageId of the taskAssigned it ends, when one went out. */
  assignment?: string;
  reason?: string;
  cancelledAt: string;
}

type HallTaskMessage = TaskAssignedMessage | TaskCancelledMessage;
type HallDeps = { store: ExchangeStore; secrets: ExchangeSecrets; now?: () => Date };

/**
 * Builds a hall message for an event once and keeps it: a retried delivery resends the same
 * id, sequence and bytes, so the department's own dedupe by message id holds.
 */
async function prepareOnce(
  eventKey: string,
  recipient: string,
  build: (header: MessageHeader) => HallTaskMessage,
  idPrefix: string,
  deps: HallDeps,
): Promise<PreparedMessage> {
  const secret = secretFor(deps.secrets, recipient);
  const kept = await deps.store.keepOutbound(eventKey, (sequence) => {
    const message = build({
      messageId: `${idPrefix}-${sequence}`,
      department: HALL_SENDER,
      sequence,
      caseNumber: '',
      timestamp: (deps.now?.() ?? new Date()).toISOString(),
    });
    return {
      messageId: message.messageId,
      recipient,
      caseNumber: message.caseNumber,
      type: message.type,
      xml: composeMessage(message, secret),
    };
  });
  return {
    messageId: kept.messageId,
    sequence: kept.sequence,
    document: xmlDocument(kept.xml),
    acknowledgedAt: kept.acknowledgedAt,
  };
}

/** The taskAssigned of an assignment, built once and kept (see prepareOnce). */
export function prepareTaskAssigned(
  assignment: TaskAssignment,
  deps: HallDeps,
): Promise<PreparedMessage> {
  const { eventKey: _key, ...fields } = assignment;
  return prepareOnce(
    assignment.eventKey,
    assignment.recipient,
    (header) => ({ ...header, type: 'taskAssigned', ...fields }),
    'hall-task',
    deps,
  );
}

/** The taskCancelled (format 1.1) of a cancellation, built once and kept (see prepareOnce). */
export function prepareTaskCancelled(
  cancellation: TaskCancellation,
  deps: HallDeps,
): Promise<PreparedMessage> {
  const { eventKey: _key, ...fields } = cancellation;
  return prepareOnce(
    cancellation.eventKey,
    cancellation.recipient,
    (header) => ({ ...header, type: 'taskCancelled', ...fields }),
    'hall-cancel',
    deps,
  );
}

/** What a department system answered to a hall message. */
export interface DeliveryAnswer {
  /** accepted or refused by the department; retry when it was down or answered nothing usable. */
  status: AckStatus;
  reason?: string;
  detail?: string;
}

/**
 * Sends a prepared hall message to a department system and reads its acknowledgement: checked
 * like any inbound body (parse.ts) and by the department's signature. Anything short of a valid
 * acknowledgement of this very message is `retry`: the caller (an activity) tries again later.
 */
export async function deliverHallMessage(
  prepared: PreparedMessage,
  target: { url: string; department: string; secret: string; timeoutMs?: number },
): Promise<DeliveryAnswer> {
  let body: Buffer;
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/xml; charset=utf-8' },
      body: prepared.document,
      signal: AbortSignal.timeout(target.timeoutMs ?? 10_000),
    });
    body = Buffer.from(await res.arrayBuffer());
    if (!res.ok && res.status !== 422) {
      return { status: 'retry', detail: `${target.department} answered HTTP ${res.status}` };
    }
  } catch (err) {
    return {
      status: 'retry',
      detail: `${target.department} unreachable: ${(err as Error).message}`,
    };
  }
  try {
    const parsed = await parseExchangeBody(body);
    const received = parsed.messages[0];
    const ack = received?.message;
    const signed =
      received && isValidSignature(target.secret, received.canonical, received.signature);
    if (
      parsed.kind !== 'single' ||
      ack?.type !== 'acknowledgement' ||
      ack.department !== target.department ||
      ack.acknowledges !== prepared.messageId ||
      !signed
    ) {
      return {
        status: 'retry',
        detail: 'the answer is not a signed acknowledgement of the message',
      };
    }
    return { status: ack.status, reason: ack.reason, detail: ack.detail };
  } catch (err) {
    return { status: 'retry', detail: `the answer was refused: ${(err as Error).message}` };
  }
}
