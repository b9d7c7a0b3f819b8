/**
 * One side's spool across the isolated networks: bundles go out through `<dir>/outbound/` and
 * come in through `<dir>/inbound/`, the ferry (ferry.ts) carrying files between the two sides.
 *
 * Sending keeps the bundle in the register first (its route number taken in the same
 * transaction, so numbers have no gaps) and writes its file after the commit, atomically (temp
 * file, fsync, rename); a crash between the two leaves a row that `flush` writes later.
 *
 * Receiving reads each finished file (temporary names are never read), refuses it whole when
 * its signature, hash or structure fails, recognises a number seen before (a duplicate is
 * answered again, never applied twice), records a skipped number as a gap, applies the content
 * (exchange messages through the same inbound path as POST /exchange/messages), and answers
 * with an acknowledgement bundle on the reverse route, kept in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type pino from 'pino';
import type { Knex } from 'knex';
import {
  BundleRefusal,
  batchElementOf,
  bundleFileName,
  bundleRefusalReasons,
  composeAcks,
  composeBundle,
  isBundleFileName,
  readBundle,
  routeId,
  type BundleAck,
  type BundleHeader,
  type BundleKind,
  type ReadBundle,
} from './bundle';
import { spoolKeysOf, type SpoolSettings } from './bundleConfig';
import { takeBundle, type ImportReport, type SpoolHandlers } from './bundleReceive';
import { SpoolStore, type SentBundle } from './bundleStore';
import { composeBatch } from './compose';
import { writeDurably } from './ferry';

/** How to open a spool. */
export interface SpoolOptions {
  dir: string;
  /** This side's name on the routes (`hall`, `outer`). */
  side: string;
  /** HMAC keys by route id (`hall->outer`). */
  keys: Record<string, string>;
  store: SpoolStore;
  handlers?: SpoolHandlers;
  /** Largest bundle file read (default 4 MiB). */
  maxBundleBytes?: number;
  /** Most messages in one bundle (default 500, the exchange's batch limit). */
  maxBatch?: number;
  now?: () => Date;
  log?: pino.Logger;
}

/** The subdirectories of a spool. */
export const SPOOL_DIRS = ['outbound', 'inbound', 'archive', 'refused'] as const;

/** Refusals that a copy of the same bundle may not meet again: it arrived changed. */
const CROSSING_FAULTS = ['hash_mismatch', 'count_mismatch'] as const;

/** A bundle is at most this many bytes of messages, so the exchange's 1 MiB body cap holds. */
const MAX_BATCH_BYTES = 900 * 1024;

/** One side's spool. */
export class Spool {
  private constructor(private readonly opts: SpoolOptions) {}

  /** Opens a spool, creating its directories. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    for (const sub of SPOOL_DIRS) await mkdir(path.join(opts.dir, sub), { recursive: true });
    return new Spool(opts);
  }

  get side(): string {
    return this.opts.side;
  }

  get store(): SpoolStore {
    return this.opts.store;
  }

  dirOf(sub: (typeof SPOOL_DIRS)[number]): string {
    return path.join(this.opts.dir, sub);
  }

  private keyOf(sender: string, receiver: string): string {
    const key = this.opts.keys[routeId(sender, receiver)];
    if (!key) throw new Error(`no spool key for route ${routeId(sender, receiver)}`);
    return key;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /**
   * Keeps a bundle for `receiver` inside `trx`, with the route's next number. Its file is
   * written by `flush` once the transaction has committed.
   */
  async keep(
    trx: Knex.Transaction,
    receiver: string,
    kind: BundleKind,
    content: string,
    count: number,
  ): Promise<BundleHeader> {
    const sender = this.opts.side;
    const number = await this.opts.store.nextNumber(sender, receiver, trx);
    const createdAt = this.now().toISOString();
    const { document, header } = composeBundle(
      { sender, receiver, number, createdAt, kind, count },
      content,
      this.keyOf(sender, receiver),
    );
    await this.opts.store.recordSent(header, bundleFileName(header), document, trx);
    return header;
  }

  /** Sends one bundle: kept (with what `also` writes, in one transaction), then written. */
  async send(
    receiver: string,
    kind: BundleKind,
    content: string,
    count: number,
    also?: (trx: Knex.Transaction, header: BundleHeader) => Promise<void>,
  ): Promise<BundleHeader> {
    const { side, store } = this.opts;
    const header = await store.withRouteLock('out', side, receiver, async (trx) => {
      const kept = await this.keep(trx, receiver, kind, content, count);
      await also?.(trx, kept);
      return kept;
    });
    await this.flush();
    return header;
  }

  /**
   * Sends signed exchange message elements of one department in bundles of at most the batch
   * limit (and well under the exchange's body cap); answers the bundles' numbers.
   */
  async sendMessages(receiver: string, department: string, elements: string[]): Promise<number[]> {
    const numbers: number[] = [];
    const maxBatch = this.opts.maxBatch ?? 500;
    let chunk: string[] = [];
    let bytes = 0;
    const sendChunk = async () => {
      if (chunk.length === 0) return;
      const header = await this.send(
        receiver,
        'messages',
        batchOf(department, chunk, this.now()),
        chunk.length,
      );
      numbers.push(header.number);
      chunk = [];
      bytes = 0;
    };
    for (const element of elements) {
      const size = Buffer.byteLength(element, 'utf8');
      if (chunk.length >= maxBatch || (chunk.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
        await sendChunk();
      }
      chunk.push(element);
      bytes += size;
    }
    await sendChunk();
    return numbers;
  }

  /** Writes the file of every bundle kept but not written yet; answers how many. */
  async flush(): Promise<number> {
    const pending = await this.opts.store.unwritten(this.opts.side);
    for (const bundle of pending) await this.writeOut(bundle);
    return pending.length;
  }

  /** Writes a sent bundle's file again, byte for byte (after a refusal or a loss). */
  async resend(receiver: string, number: number): Promise<void> {
    const sent = await this.opts.store.findSent(this.opts.side, receiver, number);
    if (!sent) throw new Error(`no bundle ${number} was sent to ${receiver}`);
    await this.writeOut(sent);
  }

  /**
   * Writes again every bundle to `receiver` unanswered for `olderThanMs` (lost on the way, or
   * its answer lost), or refused because it arrived changed; answers their numbers. The receiver
   * takes a bundle it already has as a duplicate and answers it again.
   */
  async resendOverdue(receiver: string, olderThanMs: number): Promise<number[]> {
    const overdue = await this.opts.store.overdue(
      this.opts.side,
      receiver,
      olderThanMs,
      CROSSING_FAULTS,
    );
    for (const bundle of overdue) await this.writeOut(bundle);
    return overdue.map((b) => b.header.number);
  }

  private async writeOut(bundle: SentBundle): Promise<void> {
    await writeDurably(this.dirOf('outbound'), bundle.fileName, Buffer.from(bundle.bytes, 'utf8'));
    const h = bundle.header;
    await this.opts.store.markWritten(h.sender, h.receiver, h.number);
  }

  /** Reads every finished file of inbound/, in name order (so each route in number order). */
  async importInbound(): Promise<ImportReport[]> {
    const names = (await readdir(this.dirOf('inbound'))).filter(isBundleFileName).sort();
    const reports: ImportReport[] = [];
    for (const name of names) reports.push(await this.importFile(name));
    await this.flush();
    return reports;
  }

  /** Reads, checks and applies one inbound file, then moves it out of inbound/. */
  async importFile(name: string): Promise<ImportReport> {
    const file = path.join(this.dirOf('inbound'), name);
    const maxBytes = this.opts.maxBundleBytes ?? 4 * 1024 * 1024;
    let bundle: ReadBundle;
    try {
      // An oversized file is refused unread.
      const { size } = await stat(file);
      if (size > maxBytes) {
        throw new BundleRefusal('too_large', `the file has ${size} bytes, at most ${maxBytes}`);
      }
      bundle = await readBundle(await readFile(file), {
        receiver: this.opts.side,
        keyOf: (route) => this.opts.keys[route],
        maxBytes,
      });
    } catch (err) {
      if (!(err instanceof BundleRefusal)) throw err;
      const report = await this.refuseFile(name, err);
      await this.moveOut(name, 'refused');
      return report;
    }

    const report = await takeBundle(
      {
        side: this.opts.side,
        store: this.opts.store,
        handlers: this.opts.handlers,
        keep: (trx, receiver, kind, content, count) =>
          this.keep(trx, receiver, kind, content, count),
      },
      name,
      bundle,
    );
    await this.moveOut(name, report.outcome);
    return report;
  }

  /** Records a file refused whole; a bundle whose header held is told so on the reverse route. */
  private async refuseFile(name: string, refusal: BundleRefusal): Promise<ImportReport> {
    const header = refusal.header;
    await this.opts.store.recordEvent({
      kind: 'refused',
      sender: header?.sender ?? null,
      receiver: header?.receiver ?? null,
      number: header?.number ?? null,
      reason: refusal.reason,
      detail: refusal.detail,
      fileName: name,
      flagged: bundleRefusalReasons[refusal.reason].flagged,
    });
    this.opts.log?.warn({ file: name, reason: refusal.reason }, 'spool bundle refused');
    let ackNumber: number | undefined;
    if (header && header.kind !== 'acknowledgement') {
      const ack: BundleAck = {
        acknowledges: header.number,
        contentSha256: header.contentSha256,
        outcome: 'refused',
        reason: refusal.reason,
        detail: refusal.detail,
      };
      const sent = await this.send(header.sender, 'acknowledgement', composeAcks([ack]), 1);
      ackNumber = sent.number;
    }
    return {
      file: name,
      route: header ? routeId(header.sender, header.receiver) : undefined,
      number: header?.number,
      kind: header?.kind,
      outcome: 'refused',
      reason: refusal.reason,
      detail: refusal.detail,
      ackNumber,
    };
  }

  private async moveOut(name: string, outcome: ImportReport['outcome']): Promise<void> {
    // Only the bundle taken keeps its name: a duplicate or a refused copy never replaces it.
    const stamp = `${Date.now()}-${randomUUID().slice(0, 8)}`;
    const [dir, target] =
      outcome === 'imported'
        ? ['archive' as const, name]
        : outcome === 'duplicate'
          ? ['archive' as const, `${name}.duplicate-${stamp}`]
          : ['refused' as const, `${name}.${stamp}`];
    await rename(path.join(this.dirOf('inbound'), name), path.join(this.dirOf(dir), target));
  }
}

function batchOf(department: string, elements: string[], now: Date): string {
  const batchId = `${department}-spool-${randomUUID()}`;
  return batchElementOf(
    composeBatch({ batchId, department, timestamp: now.toISOString() }, elements),
  );
}

/** Opens this side's spool from the settings; undefined when SPOOL_DIR is empty (no spool). */
export async function openConfiguredSpool(
  settings: SpoolSettings,
  db: Knex,
  handlers?: SpoolHandlers,
  log?: pino.Logger,
): Promise<Spool | undefined> {
  if (settings.SPOOL_DIR === '') return undefined;
  return Spool.open({
    dir: settings.SPOOL_DIR,
    side: settings.SPOOL_SIDE,
    keys: spoolKeysOf(settings),
    store: new SpoolStore(db),
    handlers,
    maxBundleBytes: settings.SPOOL_MAX_BUNDLE_BYTES,
    log,
  });
}
