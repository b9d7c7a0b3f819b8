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
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type pino from 'pino';
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
import { SpoolStore, type SentBundle } from './bundleStore';
import { composeBatch } from './compose';
import { writeDurably } from './ferry';
import { BodyRefused, receiveExchange, type ReceiveDeps } from './receive';
import type { Knex } from 'knex';

/** What became of a batch of messages carried by a bundle. */
export type MessagesAnswer =
  | { outcome: 'imported'; document: string; result: Record<string, unknown> }
  | { outcome: 'refused'; reason: string; detail: string };

/** What a side does with the content it receives. */
export interface SpoolHandlers {
  /** A batch of exchange messages arrived: apply it and answer the messages' acks. */
  messages?: (batchDocument: Buffer, header: BundleHeader) => Promise<MessagesAnswer>;
  /** The acks of messages this side sent, carried back inside an acknowledgement bundle. */
  messageAcks?: (batchDocument: Buffer, header: BundleHeader) => Promise<void>;
}

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

/** What reading one inbound file came to. */
export interface ImportReport {
  file: string;
  route?: string;
  number?: number;
  kind?: BundleKind;
  outcome: 'imported' | 'duplicate' | 'refused';
  reason?: string;
  detail?: string;
  /** The number of the acknowledgement bundle sent back, if any. */
  ackNumber?: number;
}

/** The subdirectories of a spool. */
export const SPOOL_DIRS = ['outbound', 'inbound', 'archive', 'refused'] as const;

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
   * Keeps a bundle for `receiver` inside `trx`, with the route's next number; `also` writes
   * what must commit with it. The file is written by `flush` once the transaction commits.
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
    const partial = { sender, receiver, number, createdAt: this.now().toISOString(), kind, count };
    const bytes = composeBundle(partial, content, this.keyOf(sender, receiver));
    const contentSha256 = /<contentSha256>([0-9a-f]{64})</.exec(bytes)![1];
    const header = { ...partial, contentSha256 };
    await this.opts.store.recordSent(header, bundleFileName(header), bytes, trx);
    return header;
  }

  /** Sends one bundle: kept, then written to outbound/. */
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
    const bytes = await readFile(file);
    let bundle: ReadBundle;
    try {
      bundle = await readBundle(bytes, {
        receiver: this.opts.side,
        keyOf: (route) => this.opts.keys[route],
        maxBytes: this.opts.maxBundleBytes ?? 4 * 1024 * 1024,
      });
    } catch (err) {
      if (!(err instanceof BundleRefusal)) throw err;
      const report = await this.refuseFile(name, err);
      await this.moveOut(name, 'refused');
      return report;
    }

    const report = await this.take(name, bundle);
    await this.moveOut(name, report.outcome);
    return report;
  }

  private async take(name: string, bundle: ReadBundle): Promise<ImportReport> {
    const { header, content } = bundle;
    const { store } = this.opts;
    const route = routeId(header.sender, header.receiver);
    const base = { file: name, route, number: header.number, kind: header.kind };
    const ackOf = (ack: Omit<BundleAck, 'acknowledges' | 'contentSha256'>): BundleAck => ({
      acknowledges: header.number,
      contentSha256: header.contentSha256,
      ...ack,
    });

    return store.withRouteLock('in', header.sender, header.receiver, async (trx) => {
      const seen = await store.findReceived(header.sender, header.receiver, header.number, trx);
      if (seen && seen.contentSha256 !== header.contentSha256) {
        const detail =
          `bundle ${header.number} of ${route} was taken before with sha256 ` +
          `${seen.contentSha256}; this one has ${header.contentSha256}`;
        await store.recordEvent(
          {
            ...this.eventOf(header, name),
            kind: 'refused',
            reason: 'number_reused',
            detail,
            flagged: true,
          },
          trx,
        );
        return { ...base, outcome: 'refused', reason: 'number_reused', detail };
      }
      if (seen) {
        const detail = `bundle ${header.number} of ${route} was taken before; not applied again`;
        await store.countDuplicate(header.sender, header.receiver, trx);
        await store.recordEvent(
          {
            ...this.eventOf(header, name),
            kind: 'duplicate',
            reason: null,
            detail,
            flagged: false,
          },
          trx,
        );
        // The sender may have missed the first answer: it gets the same one, marked duplicate.
        const ackNumber =
          header.kind === 'acknowledgement'
            ? undefined
            : await this.answer(trx, header.sender, [ackOf({ outcome: 'duplicate' })], seen.answer);
        return { ...base, outcome: 'duplicate', detail, ackNumber };
      }

      const last = await store.lastReceived(header.sender, header.receiver, trx);
      if (header.number > last + 1) {
        const [first, lastMissing] = [last + 1, header.number - 1];
        await store.recordEvent(
          {
            ...this.eventOf(header, name),
            kind: 'gap',
            reason: null,
            detail: `bundle ${header.number} of ${route} arrived; ${first}–${lastMissing} missing`,
            firstMissing: first,
            lastMissing,
            flagged: true,
          },
          trx,
        );
      }

      let outcome: 'imported' | 'refused' = 'imported';
      let answer: string | null = null;
      let result: Record<string, unknown> = {};
      let refusal: { reason: string; detail: string } | undefined;
      if (content.kind === 'messages') {
        const handled = await this.handlers().messages!(content.batchDocument, header);
        if (handled.outcome === 'imported') {
          answer = batchElementOf(handled.document);
          result = handled.result;
        } else {
          outcome = 'refused';
          refusal = { reason: handled.reason, detail: handled.detail };
          result = refusal;
        }
      } else if (content.kind === 'publicStatus') {
        const stored = await store.storePublicStatus(
          header.sender,
          header.number,
          content.statuses,
          trx,
        );
        result = { statuses: content.statuses.length, stored };
      } else {
        result = await this.takeAcks(trx, header, name, content.acks);
        if (content.batchDocument)
          await this.opts.handlers?.messageAcks?.(content.batchDocument, header);
      }
      await store.recordReceived({ header, fileName: name, outcome, answer, result }, trx);

      const ackNumber =
        header.kind === 'acknowledgement'
          ? undefined
          : await this.answer(trx, header.sender, [ackOf({ outcome, ...refusal })], answer);
      if (refusal) return { ...base, outcome: 'refused', ...refusal, ackNumber };
      return { ...base, outcome: 'imported', ackNumber };
    });
  }

  private handlers(): Required<Pick<SpoolHandlers, 'messages'>> {
    const messages = this.opts.handlers?.messages;
    if (messages) return { messages };
    return {
      messages: async () => ({
        outcome: 'refused',
        reason: 'not_taken',
        detail: `the ${this.opts.side} side takes no exchange messages`,
      }),
    };
  }

  /** Records the answers to bundles this side sent. */
  private async takeAcks(
    trx: Knex.Transaction,
    header: BundleHeader,
    name: string,
    acks: BundleAck[],
  ): Promise<Record<string, unknown>> {
    const counts = { recorded: 0, again: 0, unknown: 0, mismatch: 0 };
    for (const ack of acks) {
      // The answer comes on the reverse route: it is about a bundle of ours to its sender.
      const got = await this.opts.store.recordAck(this.opts.side, header.sender, ack, trx);
      counts[got]++;
      if (got === 'unknown' || got === 'mismatch') {
        const detail =
          got === 'unknown'
            ? `${header.sender} acknowledges bundle ${ack.acknowledges}, never sent to it`
            : `${header.sender} acknowledges bundle ${ack.acknowledges} with another sha256`;
        await this.opts.store.recordEvent(
          {
            kind: got === 'unknown' ? 'unknown_ack' : 'ack_mismatch',
            sender: this.opts.side,
            receiver: header.sender,
            number: ack.acknowledges,
            reason: null,
            detail,
            fileName: name,
            flagged: true,
          },
          trx,
        );
      }
    }
    return counts;
  }

  /** Keeps an acknowledgement bundle to `to`, with the messages' acks when there are any. */
  private async answer(
    trx: Knex.Transaction,
    to: string,
    acks: BundleAck[],
    batchElement: string | null,
  ): Promise<number> {
    const content = composeAcks(acks, batchElement ?? undefined);
    const header = await this.keep(trx, to, 'acknowledgement', content, acks.length);
    return header.number;
  }

  private eventOf(header: BundleHeader, name: string) {
    return {
      sender: header.sender,
      receiver: header.receiver,
      number: header.number,
      fileName: name,
    };
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

/** The hall's handler of exchange messages from the spool: the inbound path of POST. */
export function exchangeSpoolHandler(
  deps: Omit<ReceiveDeps, 'via' | 'remoteAddress'>,
): NonNullable<SpoolHandlers['messages']> {
  return async (batchDocument, header) => {
    try {
      const received = await receiveExchange(batchDocument, {
        ...deps,
        via: 'spool',
        remoteAddress: `spool:${routeId(header.sender, header.receiver)}#${header.number}`,
      });
      const counts: Record<string, number> = {};
      for (const o of received.outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
      return { outcome: 'imported', document: received.document, result: counts };
    } catch (err) {
      if (err instanceof BodyRefused) {
        return { outcome: 'refused', reason: err.reason, detail: err.detail };
      }
      throw err;
    }
  };
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
