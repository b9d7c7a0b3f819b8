/**
 * What one department message does in the hall. applyMessage checks the signature, refuses
 * what the hall does not take, dedupes by message id, keeps the order of each case by sequence,
 * calls the hall's hook for the message once, and records it with its acknowledgement: in one
 * transaction, under the message's and the case's locks.
 *
 * The hook runs inside that transaction, before the record commits. Should the commit then fail,
 * nothing is recorded and the department's retry calls the hook again: hooks must take a second
 * call of the same messageId calmly (start the supervision workflow with a workflow id derived
 * from the case, dedupe signals by messageId).
 */
import type pino from 'pino';
import { DomainError, isErrorCode } from '../errors';
import { composeHallAck, type AckAnswer, type HallAck } from './outbound';
import type { ReceivedMessage } from './parse';
import { ExchangeRefusal, refusalReasons, type RefusalReason } from './reasons';
import { isValidSignature } from './sign';
import type { ExchangeStore } from './store';
import {
  HALL_SENDER,
  type AcknowledgementMessage,
  type CaseAcceptedMessage,
  type ExchangeMessage,
  type ExchangeSecrets,
  type StatusMessage,
} from './types';

/** What the supervision started for an accepted case answers, for the acknowledgement. */
export interface SupervisionStarted {
  /** The hall's own case number, when it is not the department's. */
  hallCaseNumber?: string;
  /** The number of the unified receipt (受理回执单), ready to print at the counter. */
  receiptNumber?: string;
}

/**
 * What messages do in the hall, wired by the hall to its workflows. A hook refuses a message by
 * throwing a DomainError (or a non-retryable failure, or an error whose `type` is an error code):
 * the message is refused with reason `refused_by_hall`. Any other error is a passing fault: the
 * department is told to retry, and nothing is recorded.
 */
export interface ExchangeHooks {
  /** A department accepted a case in its own system: start the hall's supervision of it. */
  startSupervision(message: CaseAcceptedMessage): Promise<SupervisionStarted | void>;
  /** statusChanged, suspended, resumed or caseConcluded: tell the case's supervision. */
  signalStatus(message: StatusMessage): Promise<void>;
  /** A department acknowledged a taskAssigned (called once per hall message). */
  acknowledgeTask(message: AcknowledgementMessage): Promise<void>;
}

/** What applyMessage needs. */
export interface ApplyDeps {
  store: ExchangeStore;
  hooks: ExchangeHooks;
  secrets: ExchangeSecrets;
  /** How the message came: pushed to POST /exchange/messages, polled, or through the spool. */
  via?: 'push' | 'poll' | 'spool';
  remoteAddress?: string;
  log?: pino.Logger;
  now?: () => Date;
}

/** What became of one message, with the acknowledgement to answer. */
export interface ApplyOutcome extends HallAck {
  outcome: 'applied' | 'replayed' | 'refused' | 'retry';
  reason?: RefusalReason;
  detail?: string;
}

/** Applies one message of a body; never throws for the message's own faults. */
export async function applyMessage(
  received: ReceivedMessage,
  deps: ApplyDeps,
): Promise<ApplyOutcome> {
  const message = received.message;
  try {
    refuseUntrusted(received, deps.secrets);
    return await deps.store.withMessageLock(message, async (trx) => {
      const existing = await deps.store.findMessage(message.messageId, trx);
      if (existing) {
        if (existing.contentSha256 === received.contentSha256) {
          return { outcome: 'replayed', ack: existing.ack, ackMessageId: existing.ackMessageId };
        }
        // Another department's reuse of the id learns nothing of the first message.
        const first =
          existing.department === message.department
            ? ` (${existing.type} of case ${existing.caseNumber}, sequence ${existing.sequence})`
            : '';
        throw new ExchangeRefusal(
          'reused_message_id',
          `message ${message.messageId} was received before with other content${first}`,
        );
      }

      // refuseUntrusted turned the hall's task messages away: they go from the hall, not to it.
      const answer = await decideAndCall(message as HallBound, deps, trx);
      const { ack, ackMessageId } = await composeHallAck(message, answer, deps, trx);
      await deps.store.recordMessage(
        {
          messageId: message.messageId,
          department: message.department,
          sequence: message.sequence,
          caseNumber: message.caseNumber,
          type: message.type,
          acknowledges: message.type === 'acknowledgement' ? message.acknowledges : null,
          contentSha256: received.contentSha256,
          via: deps.via ?? 'push',
          ack,
          ackMessageId,
          result: resultOf(message, answer),
        },
        trx,
      );
      return { outcome: 'applied', ack, ackMessageId };
    });
  } catch (err) {
    const refusal = asRefusal(err);
    if (refusal) return refuse(received, refusal, deps);
    deps.log?.error({ err, messageId: message.messageId }, 'exchange message not applied');
    const detail = 'the hall could not apply the message now; send the same message again';
    return {
      outcome: 'retry',
      detail,
      ...(await composeHallAck(message, { status: 'retry', detail }, deps)),
    };
  }
}

function refuseUntrusted(received: ReceivedMessage, secrets: ExchangeSecrets): void {
  const message = received.message;
  const secret = message.department === HALL_SENDER ? undefined : secrets[message.department];
  if (!secret) {
    throw new ExchangeRefusal('unknown_department', `no exchange secret for ${message.department}`);
  }
  if (!isValidSignature(secret, received.canonical, received.signature)) {
    throw new ExchangeRefusal(
      'bad_signature',
      `the HMAC-SHA256 does not match the secret of ${message.department}`,
    );
  }
  if (message.type === 'taskAssigned' || message.type === 'taskCancelled') {
    throw new ExchangeRefusal('not_for_hall', `${message.type} goes from the hall to departments`);
  }
  if (message.type === 'acknowledgement' && message.recipient !== HALL_SENDER) {
    throw new ExchangeRefusal('not_for_hall', `the acknowledgement is for ${message.recipient}`);
  }
  if (message.type === 'caseConcluded' && message.decision === 'deny' && !message.reasons) {
    throw new ExchangeRefusal('missing_reasons', 'a denial needs its reasons (LLA art. 38)');
  }
}

type HallBound = Exclude<ExchangeMessage, { type: 'taskAssigned' | 'taskCancelled' }>;

async function decideAndCall(
  message: HallBound,
  deps: ApplyDeps,
  trx: Parameters<ExchangeStore['findMessage']>[1],
): Promise<AckAnswer> {
  const { store, hooks } = deps;
  if (message.type === 'acknowledgement') {
    // A second acknowledgement of the same hall message is harmless: answered, not passed on.
    const earlier = await store.findAcknowledgement(message.department, message.acknowledges, trx);
    const final = earlier && earlier.result.status !== 'retry';
    if (!final) {
      await hooks.acknowledgeTask(message);
      if (message.status !== 'retry') {
        await store.markAcknowledged(message.acknowledges, message.department, message.status, trx);
      }
    }
    return { status: 'accepted' };
  }

  const last = await store.lastApplied(message.department, message.caseNumber, trx);
  if (last && message.sequence <= last.lastSequence) {
    throw new ExchangeRefusal(
      'stale_sequence',
      `sequence ${message.sequence} is not after ${last.lastSequence} (${last.lastType} ` +
        `${last.lastMessageId}), already applied to case ${message.caseNumber}`,
    );
  }
  let started: SupervisionStarted = {};
  if (message.type === 'caseAccepted') {
    const accepted = await store.findAcceptance(message.department, message.caseNumber, trx);
    if (accepted) {
      throw new ExchangeRefusal(
        'already_accepted',
        `case ${message.caseNumber} was accepted by message ${accepted.messageId}`,
      );
    }
    started = (await hooks.startSupervision(message)) ?? {};
  } else {
    await hooks.signalStatus(message);
  }
  await store.advanceSequence(
    {
      department: message.department,
      caseNumber: message.caseNumber,
      sequence: message.sequence,
      messageId: message.messageId,
      type: message.type,
    },
    trx,
  );
  return { status: 'accepted', ...started };
}

function resultOf(message: ExchangeMessage, answer: AckAnswer): Record<string, unknown> {
  if (message.type === 'acknowledgement') return { status: message.status };
  const { hallCaseNumber, receiptNumber } = answer;
  return JSON.parse(JSON.stringify({ hallCaseNumber, receiptNumber })) as Record<string, unknown>;
}

/** A refusal of the hall's own rules, or a hook's refusal of the message; else undefined. */
function asRefusal(err: unknown): ExchangeRefusal | undefined {
  if (err instanceof ExchangeRefusal) return err;
  let current: unknown = err;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof DomainError) {
      return new ExchangeRefusal('refused_by_hall', `${current.code}: ${current.message}`);
    }
    const e = current as {
      type?: unknown;
      message?: string;
      nonRetryable?: unknown;
      cause?: unknown;
    };
    if (isErrorCode(e.type) || e.nonRetryable === true) {
      return new ExchangeRefusal('refused_by_hall', `${String(e.type ?? 'refused')}: ${e.message}`);
    }
    current = e.cause;
  }
  return undefined;
}

async function refuse(
  received: ReceivedMessage,
  refusal: ExchangeRefusal,
  deps: ApplyDeps,
): Promise<ApplyOutcome> {
  const message = received.message;
  const { flagged } = refusalReasons[refusal.reason];
  await deps.store.recordRejection({
    reason: refusal.reason,
    detail: refusal.detail,
    flagged,
    department: message.department,
    messageId: message.messageId,
    messageType: message.type,
    caseNumber: message.caseNumber,
    sequence: message.sequence,
    via: deps.via ?? 'push',
    remoteAddress: deps.remoteAddress,
    raw: received.element,
  });
  deps.log?.info(
    { reason: refusal.reason, department: message.department, messageId: message.messageId },
    'exchange message refused',
  );
  const answer: AckAnswer = { status: 'refused', reason: refusal.reason, detail: refusal.detail };
  // Unknown senders cannot be answered with a signed acknowledgement: there is no shared secret.
  if (!deps.secrets[message.department]) throw refusal;
  return {
    outcome: 'refused',
    reason: refusal.reason,
    detail: refusal.detail,
    ...(await composeHallAck(message, answer, deps)),
  };
}
