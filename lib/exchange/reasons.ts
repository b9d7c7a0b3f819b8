/**
 * The closed set of reasons the hall refuses an exchange message for. Each is written to the
 * dead-letter store (exchange_rejections) and answered to the sender: in the acknowledgement's
 * `reason` for one message of a body, or as `error.reason` of a 422 when the whole body is
 * refused. `flagged` marks what supervisors must look at (a forgery, a replayed id with new
 * content, a hostile payload), not only a sender's bug.
 */

/** Every refusal reason, with whether it is flagged for supervisors and what it means. */
export const refusalReasons = {
  unsupported_media_type: { flagged: false, means: 'the body is not application/xml' },
  too_large: { flagged: false, means: 'the body is over the size limit' },
  encoding: { flagged: false, means: 'the body is not UTF-8' },
  dtd_forbidden: {
    flagged: true,
    means: 'DOCTYPE and entity declarations are refused (no DTD, no entities)',
  },
  schema_hint_forbidden: {
    flagged: true,
    means: 'xsi: schema hints are refused; the hall validates against its own schema',
  },
  malformed: { flagged: false, means: 'the body is not well-formed XML' },
  too_deep: { flagged: true, means: 'elements nest deeper than the depth limit' },
  batch_too_large: { flagged: false, means: 'the batch holds more messages than the limit' },
  schema_invalid: { flagged: false, means: 'the body does not validate against the schema' },
  unknown_department: { flagged: true, means: 'no exchange secret is configured for the sender' },
  wrong_department: {
    flagged: true,
    means: 'the sender is not the department of the batch or of the polled outbox',
  },
  not_for_hall: { flagged: false, means: 'the message is not one the hall receives' },
  bad_signature: { flagged: true, means: "the signature does not match the sender's secret" },
  reused_message_id: {
    flagged: true,
    means: 'the message id was received before with other content',
  },
  stale_sequence: {
    flagged: false,
    means: 'a message with a higher sequence was already applied to this case',
  },
  already_accepted: { flagged: false, means: 'the case was already accepted through the exchange' },
  missing_reasons: { flagged: false, means: 'a denial needs its reasons' },
  refused_by_hall: { flagged: false, means: 'the hall refused what the message asks' },
} as const satisfies Record<string, { flagged: boolean; means: string }>;

/** A refusal reason of the exchange. */
export type RefusalReason = keyof typeof refusalReasons;

/** A refusal of a message or a whole body, with the reason and a sentence for the sender. */
export class ExchangeRefusal extends Error {
  override readonly name = 'ExchangeRefusal';
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}
