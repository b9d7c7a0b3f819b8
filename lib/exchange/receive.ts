/**
 * One exchange body in, its acknowledgements out: the whole inbound path, shared by POST
 * /exchange/messages and the outbox poller so that both give the same guarantees. A body that
 * cannot be trusted as a whole (too large, a DTD, not valid, an unknown sender, an oversized
 * batch) is refused as a whole, written to the dead letters and applied not at all; otherwise
 * each message is applied on its own, in sequence order, and answered in document order.
 */
import { randomUUID } from 'node:crypto';
import { applyMessage, type ApplyDeps, type ApplyOutcome } from './apply';
import { composeBatch, xmlDocument } from './compose';
import { DEFAULT_LIMITS, parseExchangeBody, type ExchangeLimits, type ParsedBody } from './parse';
import { ExchangeRefusal, refusalReasons } from './reasons';
import { HALL_SENDER } from './types';

/** What receiveExchange needs: applyMessage's deps and the limits of a body. */
export interface ReceiveDeps extends ApplyDeps {
  limits?: ExchangeLimits;
  /** Polling: the department whose outbox the body came from; any other sender is refused. */
  expectedDepartment?: string;
}

/** The answer to a body. */
export interface ReceiveResult {
  kind: 'single' | 'batch';
  /** The document to answer: one acknowledgement, or a batch of them in the body's order. */
  document: string;
  /** Each message's outcome, in the body's order. */
  outcomes: (ApplyOutcome & { messageId: string; sequence: number })[];
}

/** A whole body refused: the reason, a sentence for the sender, and the dead letter's id. */
export class BodyRefused extends ExchangeRefusal {
  constructor(
    refusal: ExchangeRefusal,
    readonly rejectionId: number,
  ) {
    super(refusal.reason, refusal.detail);
  }
}

const CLAIMED_DEPARTMENT = /<(?:[A-Za-z_][\w.-]*:)?department>\s*([a-z][a-z0-9-]{1,31})\s*</;

/** Reads, checks and applies one body; throws BodyRefused when the body is refused whole. */
export async function receiveExchange(body: Buffer, deps: ReceiveDeps): Promise<ReceiveResult> {
  let parsed: ParsedBody;
  try {
    parsed = await parseExchangeBody(body, deps.limits ?? DEFAULT_LIMITS);
    checkSenders(parsed, deps);
  } catch (err) {
    if (!(err instanceof ExchangeRefusal)) throw err;
    throw await refuseBody(body, err, deps);
  }

  // Applied in sequence order, so that a batch written out of order still lands in order.
  const order = parsed.messages
    .map((m, index) => ({ m, index }))
    .sort((a, b) => a.m.message.sequence - b.m.message.sequence || a.index - b.index);
  const outcomes: ReceiveResult['outcomes'] = new Array(parsed.messages.length);
  for (const { m, index } of order) {
    const outcome = await applyMessage(m, deps);
    outcomes[index] = { ...outcome, messageId: m.message.messageId, sequence: m.message.sequence };
  }

  if (parsed.kind === 'single') {
    return { kind: 'single', document: xmlDocument(outcomes[0].ack), outcomes };
  }
  const document = composeBatch(
    {
      batchId: `hall-batch-${randomUUID()}`,
      department: HALL_SENDER,
      timestamp: (deps.now?.() ?? new Date()).toISOString(),
    },
    outcomes.map((o) => o.ack),
  );
  return { kind: 'batch', document, outcomes };
}

/** Every sender must hold a secret; a batch and a polled outbox speak for one department only. */
function checkSenders(parsed: ParsedBody, deps: ReceiveDeps): void {
  const claimed = parsed.batch?.department ?? parsed.messages[0].message.department;
  if (deps.expectedDepartment && claimed !== deps.expectedDepartment) {
    throw new ExchangeRefusal(
      'wrong_department',
      `the outbox of ${deps.expectedDepartment} served messages of ${claimed}`,
    );
  }
  for (const { message } of parsed.messages) {
    if (message.department !== claimed) {
      throw new ExchangeRefusal(
        'wrong_department',
        `message ${message.messageId} is from ${message.department} in a batch of ${claimed}`,
      );
    }
  }
  if (claimed === HALL_SENDER || !deps.secrets[claimed]) {
    throw new ExchangeRefusal('unknown_department', `no exchange secret for ${claimed}`);
  }
}

async function refuseBody(
  body: Buffer,
  refusal: ExchangeRefusal,
  deps: ReceiveDeps,
): Promise<BodyRefused> {
  const text = body.subarray(0, 64 * 1024).toString('utf8');
  const id = await deps.store.recordRejection({
    reason: refusal.reason,
    detail: refusal.detail,
    flagged: refusalReasons[refusal.reason].flagged,
    department: deps.expectedDepartment ?? CLAIMED_DEPARTMENT.exec(text)?.[1],
    via: deps.via ?? 'push',
    remoteAddress: deps.remoteAddress,
    raw: body,
  });
  deps.log?.info({ reason: refusal.reason, rejectionId: id }, 'exchange body refused');
  return new BodyRefused(refusal, id);
}
