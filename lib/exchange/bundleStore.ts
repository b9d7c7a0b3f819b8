/**
 * The spool's tables behind intent-named methods: routes and their numbers, bundles sent and
 * received, the events supervisors look at, and the public status on both sides of the ferry.
 */
import type { Knex } from 'knex';
import type {
  BundleAck,
  BundleHeader,
  BundleKind,
  BundleOutcome,
  PublicCaseStatus,
} from './bundle';

type Db = Knex | Knex.Transaction;

/** What a supervisor is shown about something that went wrong on a route. */
export type SpoolEventKind = 'gap' | 'duplicate' | 'refused' | 'unknown_ack' | 'ack_mismatch';

/** One event of the spool. */
export interface SpoolEvent {
  id: number;
  kind: SpoolEventKind;
  sender: string | null;
  receiver: string | null;
  number: number | null;
  firstMissing: number | null;
  lastMissing: number | null;
  reason: string | null;
  detail: string;
  fileName: string | null;
  flagged: boolean;
  at: string;
}

/** A route's counters. */
export interface SpoolRoute {
  sender: string;
  receiver: string;
  lastSent: number;
  lastReceived: number;
  duplicates: number;
}

/** A bundle sent, as kept. */
export interface SentBundle {
  header: BundleHeader;
  fileName: string;
  bytes: string;
  writtenAt: string | null;
  ackOutcome: BundleOutcome | null;
  ackReason: string | null;
  ackedAt: string | null;
}

/** A bundle received, as recorded. */
export interface ReceivedBundle {
  number: number;
  contentSha256: string;
  kind: BundleKind;
  outcome: 'imported' | 'refused';
  /** The messages' acks given in answer (an exchange batch element), if any. */
  answer: string | null;
  /** What taking it came to (a refusal's reason and detail). */
  result: Record<string, unknown>;
}

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toSent(r: Record<string, unknown>): SentBundle {
  return {
    header: {
      sender: r.sender as string,
      receiver: r.receiver as string,
      number: Number(r.number),
      createdAt: iso(r.created_at)!,
      kind: r.kind as BundleKind,
      count: Number(r.count),
      contentSha256: r.content_sha256 as string,
    },
    fileName: r.file_name as string,
    bytes: r.bytes as string,
    writtenAt: iso(r.written_at),
    ackOutcome: (r.ack_outcome as BundleOutcome | null) ?? null,
    ackReason: (r.ack_reason as string | null) ?? null,
    ackedAt: iso(r.acked_at),
  };
}

/** The spool's tables. */
export class SpoolStore {
  constructor(readonly db: Knex) {}

  /** Runs `fn` in a transaction holding the lock of one direction of a route. */
  async withRouteLock<T>(
    direction: 'in' | 'out',
    sender: string,
    receiver: string,
    fn: (trx: Knex.Transaction) => Promise<T>,
  ): Promise<T> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [
        `spool-${direction}:${sender}->${receiver}`,
      ]);
      return fn(trx);
    });
  }

  /** Hands out the next number of a route (1 for its first bundle): gapless, as it commits. */
  async nextNumber(sender: string, receiver: string, trx: Db): Promise<number> {
    const result = (await trx.raw(
      `INSERT INTO spool_routes (sender, receiver, last_sent) VALUES (?, ?, 1)
       ON CONFLICT (sender, receiver) DO UPDATE
         SET last_sent = spool_routes.last_sent + 1, updated_at = now()
       RETURNING last_sent`,
      [sender, receiver],
    )) as { rows: { last_sent: string }[] };
    return Number(result.rows[0].last_sent);
  }

  /** Keeps a bundle written for sending, before its file exists. */
  async recordSent(header: BundleHeader, fileName: string, bytes: string, trx: Db): Promise<void> {
    await trx('spool_bundles').insert({
      direction: 'out',
      sender: header.sender,
      receiver: header.receiver,
      number: header.number,
      kind: header.kind,
      count: header.count,
      content_sha256: header.contentSha256,
      file_name: fileName,
      created_at: header.createdAt,
      bytes,
    });
  }

  /** Marks a sent bundle's file written to the outbound directory. */
  async markWritten(sender: string, receiver: string, number: number): Promise<void> {
    await this.db('spool_bundles')
      .where({ direction: 'out', sender, receiver, number })
      .update({ written_at: this.db.fn.now() });
  }

  /** Bundles kept for sending whose file was not written yet (a crash between the two). */
  async unwritten(sender: string): Promise<SentBundle[]> {
    const rows = (await this.db('spool_bundles')
      .where({ direction: 'out', sender })
      .whereNull('written_at')
      .orderBy(['receiver', 'number'])) as Record<string, unknown>[];
    return rows.map(toSent);
  }

  /** A bundle sent on a route. */
  async findSent(
    sender: string,
    receiver: string,
    number: number,
    db: Db = this.db,
  ): Promise<SentBundle | undefined> {
    const row = (await db('spool_bundles')
      .where({ direction: 'out', sender, receiver, number })
      .first()) as Record<string, unknown> | undefined;
    return row ? toSent(row) : undefined;
  }

  /** Records the receiver's answer to a sent bundle; a later answer replaces only a refusal. */
  async recordAck(
    sender: string,
    receiver: string,
    ack: BundleAck,
    db: Db = this.db,
  ): Promise<'recorded' | 'again' | 'unknown' | 'mismatch'> {
    const sent = await this.findSent(sender, receiver, ack.acknowledges, db);
    if (!sent) return 'unknown';
    if (sent.header.contentSha256 !== ack.contentSha256) return 'mismatch';
    const updated = await db('spool_bundles')
      .where({ direction: 'out', sender, receiver, number: ack.acknowledges })
      .andWhere((q) => void q.whereNull('ack_outcome').orWhere('ack_outcome', 'refused'))
      .update({
        ack_outcome: ack.outcome,
        ack_reason: ack.reason ?? null,
        ack_detail: ack.detail ?? null,
        acked_at: db.fn.now(),
      });
    return updated > 0 ? 'recorded' : 'again';
  }

  /** A bundle number already received on a route. */
  async findReceived(
    sender: string,
    receiver: string,
    number: number,
    trx: Db,
  ): Promise<ReceivedBundle | undefined> {
    const row = (await trx('spool_bundles')
      .where({ direction: 'in', sender, receiver, number })
      .first()) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      number: Number(row.number),
      contentSha256: row.content_sha256 as string,
      kind: row.kind as BundleKind,
      outcome: row.outcome as 'imported' | 'refused',
      answer: (row.answer as string | null) ?? null,
      result: (row.result as Record<string, unknown>) ?? {},
    };
  }

  /** The highest number received on a route (0 before any). */
  async lastReceived(sender: string, receiver: string, trx: Db): Promise<number> {
    const row = (await trx('spool_routes').where({ sender, receiver }).first('last_received')) as
      { last_received: string } | undefined;
    return row ? Number(row.last_received) : 0;
  }

  /** Records a bundle received and moves the route's last number on (never back). */
  async recordReceived(
    entry: {
      header: BundleHeader;
      fileName: string;
      outcome: 'imported' | 'refused';
      answer: string | null;
      result: Record<string, unknown>;
    },
    trx: Db,
  ): Promise<void> {
    const h = entry.header;
    await trx('spool_bundles').insert({
      direction: 'in',
      sender: h.sender,
      receiver: h.receiver,
      number: h.number,
      kind: h.kind,
      count: h.count,
      content_sha256: h.contentSha256,
      file_name: entry.fileName,
      created_at: h.createdAt,
      outcome: entry.outcome,
      answer: entry.answer,
      result: JSON.stringify(entry.result),
    });
    await trx.raw(
      `INSERT INTO spool_routes (sender, receiver, last_received) VALUES (?, ?, ?)
       ON CONFLICT (sender, receiver) DO UPDATE
         SET last_received = GREATEST(spool_routes.last_received, EXCLUDED.last_received),
             updated_at = now()`,
      [h.sender, h.receiver, h.number],
    );
  }

  /** Counts a duplicate on its route. */
  async countDuplicate(sender: string, receiver: string, trx: Db): Promise<void> {
    await trx.raw(
      `INSERT INTO spool_routes (sender, receiver, duplicates) VALUES (?, ?, 1)
       ON CONFLICT (sender, receiver) DO UPDATE
         SET duplicates = spool_routes.duplicates + 1, updated_at = now()`,
      [sender, receiver],
    );
  }

  /** Writes an event for supervisors. */
  async recordEvent(
    event: Omit<SpoolEvent, 'id' | 'at' | 'firstMissing' | 'lastMissing'> & {
      firstMissing?: number;
      lastMissing?: number;
    },
    db: Db = this.db,
  ): Promise<void> {
    await db('spool_events').insert({
      kind: event.kind,
      sender: event.sender,
      receiver: event.receiver,
      number: event.number,
      first_missing: event.firstMissing ?? null,
      last_missing: event.lastMissing ?? null,
      reason: event.reason,
      detail: event.detail,
      file_name: event.fileName,
      flagged: event.flagged,
    });
  }

  /** Events, newest first. */
  async listEvents(filter: { kind?: SpoolEventKind; limit: number }): Promise<SpoolEvent[]> {
    const rows = (await this.db('spool_events')
      .modify((q) => {
        if (filter.kind) void q.where('kind', filter.kind);
      })
      .orderBy('id', 'desc')
      .limit(filter.limit)) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind as SpoolEventKind,
      sender: (r.sender as string | null) ?? null,
      receiver: (r.receiver as string | null) ?? null,
      number: num(r.number),
      firstMissing: num(r.first_missing),
      lastMissing: num(r.last_missing),
      reason: (r.reason as string | null) ?? null,
      detail: r.detail as string,
      fileName: (r.file_name as string | null) ?? null,
      flagged: r.flagged as boolean,
      at: iso(r.at)!,
    }));
  }

  /** Every route with its counters. */
  async listRoutes(): Promise<SpoolRoute[]> {
    const rows = (await this.db('spool_routes').orderBy(['sender', 'receiver'])) as Record<
      string,
      unknown
    >[];
    return rows.map((r) => ({
      sender: r.sender as string,
      receiver: r.receiver as string,
      lastSent: Number(r.last_sent),
      lastReceived: Number(r.last_received),
      duplicates: Number(r.duplicates),
    }));
  }

  /** The numbers below a route's last one never received (at most `limit` of them). */
  async missing(sender: string, receiver: string, limit = 1000): Promise<number[]> {
    const result = (await this.db.raw(
      `SELECT n FROM spool_routes r, generate_series(1, r.last_received) AS n
       WHERE r.sender = ? AND r.receiver = ?
         AND NOT EXISTS (SELECT 1 FROM spool_bundles b WHERE b.direction = 'in'
               AND b.sender = r.sender AND b.receiver = r.receiver AND b.number = n)
       ORDER BY n LIMIT ?`,
      [sender, receiver, limit],
    )) as { rows: { n: string }[] };
    return result.rows.map((r) => Number(r.n));
  }

  /** Bundles sent on a route and not acknowledged as taken (none, or refused). */
  async unacknowledged(sender: string, receiver: string): Promise<SentBundle[]> {
    const rows = (await this.db('spool_bundles')
      .where({ direction: 'out', sender, receiver })
      .whereNot('kind', 'acknowledgement')
      .andWhere((q) => void q.whereNull('ack_outcome').orWhere('ack_outcome', 'refused'))
      .orderBy('number')
      .limit(1000)) as Record<string, unknown>[];
    return rows.map(toSent);
  }

  /**
   * Bundles to write again: written longer than `olderThanMs` ago and not answered, or refused
   * for a fault of the crossing (`faults`: the content arrived changed); acknowledgements never.
   */
  async overdue(
    sender: string,
    receiver: string,
    olderThanMs: number,
    faults: readonly string[],
  ): Promise<SentBundle[]> {
    const rows = (await this.db('spool_bundles')
      .where({ direction: 'out', sender, receiver })
      .whereNot('kind', 'acknowledgement')
      .whereRaw('written_at < now() - make_interval(secs => ?)', [olderThanMs / 1000])
      .andWhere(
        (q) =>
          void q
            .whereNull('ack_outcome')
            .orWhere((r) => void r.where('ack_outcome', 'refused').whereIn('ack_reason', faults)),
      )
      .orderBy('number')
      .limit(1000)) as Record<string, unknown>[];
    return rows.map(toSent);
  }

  /** The public status last exported of some cases to a receiver, by case number. */
  async exportedStatus(receiver: string, caseNumbers: string[]): Promise<Map<string, string>> {
    const rows = (await this.db('spool_status_exports')
      .where({ receiver })
      .whereIn('case_number', caseNumbers)
      .select('case_number', 'sha256')) as { case_number: string; sha256: string }[];
    return new Map(rows.map((r) => [r.case_number, r.sha256]));
  }

  /** Remembers what public status went out of each case, in the bundle's transaction. */
  async recordExported(
    receiver: string,
    number: number,
    entries: { caseNumber: string; sha256: string }[],
    trx: Db,
  ): Promise<void> {
    if (entries.length === 0) return;
    await trx('spool_status_exports')
      .insert(
        entries.map((e) => ({
          receiver,
          case_number: e.caseNumber,
          sha256: e.sha256,
          bundle_number: number,
        })),
      )
      .onConflict(['receiver', 'case_number'])
      .merge(['sha256', 'bundle_number', 'exported_at']);
  }

  /** Where the public status export to a receiver stands (undefined before the first). */
  async statusCursor(sender: string, receiver: string): Promise<Date | undefined> {
    const row = (await this.db('spool_routes')
      .where({ sender, receiver })
      .first('status_cursor')) as { status_cursor: Date | null } | undefined;
    return row?.status_cursor ?? undefined;
  }

  /** Moves the public status export's cursor forward. */
  async moveStatusCursor(sender: string, receiver: string, to: Date): Promise<void> {
    await this.db.raw(
      `INSERT INTO spool_routes (sender, receiver, status_cursor) VALUES (?, ?, ?)
       ON CONFLICT (sender, receiver) DO UPDATE
         SET status_cursor = GREATEST(spool_routes.status_cursor, EXCLUDED.status_cursor)`,
      [sender, receiver, to],
    );
  }

  /** Outer side: keeps the public status of cases; an older bundle never overwrites a newer. */
  async storePublicStatus(
    sender: string,
    number: number,
    statuses: PublicCaseStatus[],
    trx: Db,
  ): Promise<number> {
    let stored = 0;
    for (const s of statuses) {
      const { codeDigests, ...status } = s;
      const result = (await trx.raw(
        `INSERT INTO portal_case_status (case_number, sender, bundle_number, status, code_digests)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (case_number) DO UPDATE
           SET sender = EXCLUDED.sender, bundle_number = EXCLUDED.bundle_number,
               status = EXCLUDED.status, code_digests = EXCLUDED.code_digests, updated_at = now()
           WHERE portal_case_status.bundle_number < EXCLUDED.bundle_number`,
        [s.caseNumber, sender, number, JSON.stringify(status), JSON.stringify(codeDigests)],
      )) as { rowCount: number };
      stored += result.rowCount;
    }
    return stored;
  }

  /** Outer side: the public status of a case and the digests of its codes. */
  async findPublicStatus(
    caseNumber: string,
  ): Promise<{ status: Omit<PublicCaseStatus, 'codeDigests'>; codeDigests: string[] } | undefined> {
    const row = (await this.db('portal_case_status').where({ case_number: caseNumber }).first()) as
      { status: Omit<PublicCaseStatus, 'codeDigests'>; code_digests: string[] } | undefined;
    return row ? { status: row.status, codeDigests: row.code_digests } : undefined;
  }
}
