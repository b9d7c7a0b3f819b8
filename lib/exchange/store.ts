/**
 * The exchange's store: every read and write of the exchange tables goes through these
 * intent-named methods. Applying a message happens inside `withMessageLock`, which serialises
 * everything done with one message id and with one department's case, so two copies of a
 * message, or two messages of one case, never interleave.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { RefusalReason } from './reasons';
import type { MessageType } from './types';

type Db = Knex | Knex.Transaction;

/** A message applied, as recorded. */
export interface ExchangeMessageRecord {
  messageId: string;
  department: string;
  sequence: number;
  caseNumber: string;
  type: MessageType;
  acknowledges: string | null;
  contentSha256: string;
  via: 'push' | 'poll' | 'spool';
  receivedAt: string;
  ack: string;
  ackMessageId: string;
  result: Record<string, unknown>;
}

/** A dead letter: a refused body or message. */
export interface ExchangeRejection {
  id: number;
  reason: RefusalReason;
  detail: string;
  flagged: boolean;
  department: string | null;
  messageId: string | null;
  messageType: string | null;
  caseNumber: string | null;
  sequence: number | null;
  via: 'push' | 'poll' | 'spool';
  remoteAddress: string | null;
  bodySha256: string;
  excerpt: string;
  receivedAt: string;
}

/** What a rejection is recorded from. */
export interface RejectionInput {
  reason: RefusalReason;
  detail: string;
  flagged: boolean;
  department?: string;
  messageId?: string;
  messageType?: string;
  caseNumber?: string;
  sequence?: number;
  via: 'push' | 'poll' | 'spool';
  remoteAddress?: string;
  /** The body or the message element; its start is kept as the excerpt. */
  raw: string | Buffer;
}

/** The last state-changing message applied to one department's case. */
export interface AppliedSequence {
  lastSequence: number;
  lastMessageId: string;
  lastType: string;
}

/** A message of the hall to a department, kept so that a resend is byte for byte the same. */
export interface OutboundRecord {
  messageId: string;
  eventKey: string;
  recipient: string;
  sequence: number;
  caseNumber: string;
  type: MessageType;
  xml: string;
  acknowledgedAt: string | null;
  ackStatus: string | null;
}

/** How much of a refused body the dead letter keeps. */
export const EXCERPT_CHARS = 2000;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toMessageRecord(r: Record<string, unknown>): ExchangeMessageRecord {
  return {
    messageId: r.message_id as string,
    department: r.department as string,
    sequence: Number(r.sequence),
    caseNumber: r.case_number as string,
    type: r.type as MessageType,
    acknowledges: (r.acknowledges as string | null) ?? null,
    contentSha256: r.content_sha256 as string,
    via: r.via as 'push' | 'poll' | 'spool',
    receivedAt: iso(r.received_at),
    ack: r.ack as string,
    ackMessageId: r.ack_message_id as string,
    result: (r.result as Record<string, unknown>) ?? {},
  };
}

function toRejection(r: Record<string, unknown>): ExchangeRejection {
  return {
    id: Number(r.id),
    reason: r.reason as RefusalReason,
    detail: r.detail as string,
    flagged: r.flagged as boolean,
    department: (r.department as string | null) ?? null,
    messageId: (r.message_id as string | null) ?? null,
    messageType: (r.message_type as string | null) ?? null,
    caseNumber: (r.case_number as string | null) ?? null,
    sequence: r.sequence === null ? null : Number(r.sequence),
    via: r.via as 'push' | 'poll' | 'spool',
    remoteAddress: (r.remote_address as string | null) ?? null,
    bodySha256: r.body_sha256 as string,
    excerpt: r.excerpt as string,
    receivedAt: iso(r.received_at),
  };
}

function toOutbound(r: Record<string, unknown>): OutboundRecord {
  return {
    messageId: r.message_id as string,
    eventKey: r.event_key as string,
    recipient: r.recipient as string,
    sequence: Number(r.sequence),
    caseNumber: r.case_number as string,
    type: r.type as MessageType,
    xml: r.xml as string,
    acknowledgedAt: r.acknowledged_at ? iso(r.acknowledged_at) : null,
    ackStatus: (r.ack_status as string | null) ?? null,
  };
}

/** The exchange tables behind intent-named methods. */
export class ExchangeStore {
  constructor(readonly db: Knex) {}

  /**
   * Runs `fn` in a transaction holding two advisory locks: one on the message id, one on the
   * department's case (taken in that order everywhere, so they cannot deadlock). What `fn`
   * writes commits together, or not at all.
   */
  async withMessageLock<T>(
    key: { messageId: string; department: string; caseNumber: string },
    fn: (trx: Knex.Transaction) => Promise<T>,
  ): Promise<T> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [
        `exchange-message:${key.messageId}`,
      ]);
      await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [
        `exchange-case:${key.department}:${key.caseNumber}`,
      ]);
      return fn(trx);
    });
  }

  /** The message recorded under an id, if any. */
  async findMessage(
    messageId: string,
    db: Db = this.db,
  ): Promise<ExchangeMessageRecord | undefined> {
    const row = (await db('exchange_messages').where({ message_id: messageId }).first()) as
      Record<string, unknown> | undefined;
    return row ? toMessageRecord(row) : undefined;
  }

  /** The last state-changing message applied to a department's case. */
  async lastApplied(
    department: string,
    caseNumber: string,
    db: Db = this.db,
  ): Promise<AppliedSequence | undefined> {
    const row = (await db('department_sequences')
      .where({ department, case_number: caseNumber })
      .first()) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      lastSequence: Number(row.last_sequence),
      lastMessageId: row.last_message_id as string,
      lastType: row.last_type as string,
    };
  }

  /** The caseAccepted applied for a department's case, if any. */
  async findAcceptance(
    department: string,
    caseNumber: string,
    db: Db = this.db,
  ): Promise<ExchangeMessageRecord | undefined> {
    const row = (await db('exchange_messages')
      .where({ department, case_number: caseNumber, type: 'caseAccepted' })
      .first()) as Record<string, unknown> | undefined;
    return row ? toMessageRecord(row) : undefined;
  }

  /** An acknowledgement a department already sent for a hall message, if any. */
  async findAcknowledgement(
    department: string,
    acknowledges: string,
    db: Db = this.db,
  ): Promise<ExchangeMessageRecord | undefined> {
    const row = (await db('exchange_messages')
      .where({ department, acknowledges, type: 'acknowledgement' })
      .first()) as Record<string, unknown> | undefined;
    return row ? toMessageRecord(row) : undefined;
  }

  /** Records an applied message with the acknowledgement it was answered with. */
  async recordMessage(
    record: Omit<ExchangeMessageRecord, 'receivedAt'>,
    db: Db = this.db,
  ): Promise<void> {
    await db('exchange_messages').insert({
      message_id: record.messageId,
      department: record.department,
      sequence: record.sequence,
      case_number: record.caseNumber,
      type: record.type,
      acknowledges: record.acknowledges,
      content_sha256: record.contentSha256,
      via: record.via,
      ack: record.ack,
      ack_message_id: record.ackMessageId,
      result: JSON.stringify(record.result),
    });
  }

  /** Moves a department's case to a newer sequence; never backwards (the WHERE makes sure). */
  async advanceSequence(
    entry: {
      department: string;
      caseNumber: string;
      sequence: number;
      messageId: string;
      type: string;
    },
    db: Db = this.db,
  ): Promise<void> {
    await db.raw(
      `INSERT INTO department_sequences
         (department, case_number, last_sequence, last_message_id, last_type, updated_at)
       VALUES (?, ?, ?, ?, ?, now())
       ON CONFLICT (department, case_number) DO UPDATE
         SET last_sequence = EXCLUDED.last_sequence, last_message_id = EXCLUDED.last_message_id,
             last_type = EXCLUDED.last_type, updated_at = now()
         WHERE department_sequences.last_sequence < EXCLUDED.last_sequence`,
      [entry.department, entry.caseNumber, entry.sequence, entry.messageId, entry.type],
    );
  }

  /** Hands out the hall's next sequence number. */
  async nextHallSequence(db: Db = this.db): Promise<number> {
    const result = (await db.raw("SELECT nextval('exchange_hall_sequence') AS n")) as {
      rows: { n: string }[];
    };
    return Number(result.rows[0].n);
  }

  /** Writes a dead letter; answers its id. */
  async recordRejection(input: RejectionInput): Promise<number> {
    const raw =
      typeof input.raw === 'string'
        ? input.raw
        : input.raw.subarray(0, EXCERPT_CHARS * 4).toString('utf8');
    const bodySha256 = createHash('sha256').update(input.raw).digest('hex');
    const [row] = (await this.db('exchange_rejections')
      .insert({
        reason: input.reason,
        detail: input.detail,
        flagged: input.flagged,
        department: input.department ?? null,
        message_id: input.messageId ?? null,
        message_type: input.messageType ?? null,
        case_number: input.caseNumber ?? null,
        sequence: input.sequence ?? null,
        via: input.via,
        remote_address: input.remoteAddress ?? null,
        body_sha256: bodySha256,
        // NUL cannot be stored in a text column; the excerpt is for reading, not for replay.
        excerpt: raw.slice(0, EXCERPT_CHARS).replace(/\u0000/g, '\ufffd'),
      })
      .returning('id')) as { id: string }[];
    return Number(row.id);
  }

  /** Dead letters, newest first: all, or one department's; paged by id. */
  async listRejections(filter: {
    department?: string;
    flagged?: boolean;
    before?: number;
    limit: number;
  }): Promise<ExchangeRejection[]> {
    const rows = (await this.db('exchange_rejections')
      .modify((q) => {
        if (filter.department) void q.where('department', filter.department);
        if (filter.flagged !== undefined) void q.where('flagged', filter.flagged);
        if (filter.before) void q.where('id', '<', filter.before);
      })
      .orderBy('id', 'desc')
      .limit(filter.limit)) as Record<string, unknown>[];
    return rows.map(toRejection);
  }

  /**
   * Keeps a hall message for an event, or answers the one kept before: `build` runs only for
   * a new event, so a retried delivery resends the same id, sequence and bytes.
   */
  async keepOutbound(
    eventKey: string,
    build: (
      sequence: number,
    ) => Omit<OutboundRecord, 'eventKey' | 'sequence' | 'acknowledgedAt' | 'ackStatus'>,
  ): Promise<OutboundRecord> {
    const existing = await this.findOutboundByEvent(eventKey);
    if (existing) return existing;
    const sequence = await this.nextHallSequence();
    const built = build(sequence);
    await this.db('exchange_outbound')
      .insert({
        message_id: built.messageId,
        event_key: eventKey,
        recipient: built.recipient,
        sequence,
        case_number: built.caseNumber,
        type: built.type,
        xml: built.xml,
      })
      .onConflict('event_key')
      .ignore();
    // A concurrent delivery of the same event may have won: its row is the one.
    return (await this.findOutboundByEvent(eventKey))!;
  }

  /** The hall message kept for an event. */
  async findOutboundByEvent(eventKey: string): Promise<OutboundRecord | undefined> {
    const row = (await this.db('exchange_outbound').where({ event_key: eventKey }).first()) as
      Record<string, unknown> | undefined;
    return row ? toOutbound(row) : undefined;
  }

  /** The hall message of an id. */
  async findOutbound(messageId: string, db: Db = this.db): Promise<OutboundRecord | undefined> {
    const row = (await db('exchange_outbound').where({ message_id: messageId }).first()) as
      Record<string, unknown> | undefined;
    return row ? toOutbound(row) : undefined;
  }

  /** True when the hall assigned a task of this (hall) case to the department. */
  async hasAssignment(recipient: string, caseNumber: string, db: Db = this.db): Promise<boolean> {
    const row = (await db('exchange_outbound')
      .where({ recipient, case_number: caseNumber, type: 'taskAssigned' })
      .first('message_id')) as { message_id: string } | undefined;
    return row !== undefined;
  }

  /** Marks a hall message acknowledged by its recipient; the first acknowledgement stays. */
  async markAcknowledged(
    messageId: string,
    recipient: string,
    status: string,
    db: Db = this.db,
  ): Promise<void> {
    await db('exchange_outbound')
      .where({ message_id: messageId, recipient })
      .whereNull('acknowledged_at')
      .update({ acknowledged_at: db.fn.now(), ack_status: status });
  }

  /** The highest sequence of a department's outbox already dealt with (0 before any). */
  async pollCursor(department: string): Promise<number> {
    const row = (await this.db('exchange_poll_cursors').where({ department }).first('after')) as
      { after: string } | undefined;
    return row ? Number(row.after) : 0;
  }

  /** Records a poll: the cursor moves forward only, and the last error is kept or cleared. */
  async recordPoll(department: string, after: number, error?: string): Promise<void> {
    await this.db.raw(
      `INSERT INTO exchange_poll_cursors (department, after, polled_at, last_error)
       VALUES (?, ?, now(), ?)
       ON CONFLICT (department) DO UPDATE
         SET after = GREATEST(exchange_poll_cursors.after, EXCLUDED.after),
             polled_at = now(), last_error = EXCLUDED.last_error`,
      [department, after, error ?? null],
    );
  }
}
