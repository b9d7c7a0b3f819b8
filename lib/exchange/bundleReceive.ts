/**
 * What a side does with a bundle that was read and verified (spool.ts reads the file): under
 * the lock of its route, a number taken before is a duplicate (answered again, never applied
 * twice) or, with other content, refused; a skipped number is recorded as a gap; the content is
 * applied by kind (exchange messages through the hall's inbound path, public status into the
 * outer portal's store, answers against the bundles sent); and the answer is kept in the same
 * transaction as the bundle's record, so a bundle taken is always answered.
 */
import type { Knex } from 'knex';
import {
  batchElementOf,
  composeAcks,
  routeId,
  type BundleAck,
  type BundleHeader,
  type BundleKind,
  type ReadBundle,
} from './bundle';
import type { ReceivedBundle, SpoolStore } from './bundleStore';
import { BodyRefused, receiveExchange, type ReceiveDeps } from './receive';

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

/** The receiving side, as takeBundle needs it. */
export interface Receiver {
  side: string;
  store: SpoolStore;
  handlers?: SpoolHandlers;
  /** Keeps a bundle to send inside `trx` (Spool.keep). */
  keep: (
    trx: Knex.Transaction,
    receiver: string,
    kind: BundleKind,
    content: string,
    count: number,
  ) => Promise<BundleHeader>;
}

type Answer = Omit<BundleAck, 'acknowledges' | 'contentSha256'>;

/** Takes one verified bundle; answers what became of it. */
export async function takeBundle(
  rx: Receiver,
  name: string,
  bundle: ReadBundle,
): Promise<ImportReport> {
  const { header } = bundle;
  const { store } = rx;
  const route = routeId(header.sender, header.receiver);
  const base = { file: name, route, number: header.number, kind: header.kind };
  const event = { sender: header.sender, receiver: header.receiver, number: header.number };
  const answerWith = async (trx: Knex.Transaction, answer: Answer, batch: string | null) => {
    // An acknowledgement is never acknowledged: answers would go back and forth for ever.
    if (header.kind === 'acknowledgement') return undefined;
    const ack = { acknowledges: header.number, contentSha256: header.contentSha256, ...answer };
    const content = composeAcks([ack], batch ?? undefined);
    return (await rx.keep(trx, header.sender, 'acknowledgement', content, 1)).number;
  };

  return store.withRouteLock('in', header.sender, header.receiver, async (trx) => {
    const seen = await store.findReceived(header.sender, header.receiver, header.number, trx);
    if (seen && seen.contentSha256 !== header.contentSha256) {
      const detail =
        `bundle ${header.number} of ${route} was taken before with sha256 ` +
        `${seen.contentSha256}; this one has ${header.contentSha256}`;
      await store.recordEvent(
        {
          ...event,
          kind: 'refused',
          reason: 'number_reused',
          detail,
          fileName: name,
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
        { ...event, kind: 'duplicate', reason: null, detail, fileName: name, flagged: false },
        trx,
      );
      // The sender may have missed the first answer: it gets the same one, marked duplicate.
      const ackNumber = await answerWith(trx, duplicateOf(seen), seen.answer);
      return { ...base, outcome: 'duplicate', detail, ackNumber };
    }

    const last = await store.lastReceived(header.sender, header.receiver, trx);
    if (header.number > last + 1) {
      const [firstMissing, lastMissing] = [last + 1, header.number - 1];
      const missing =
        firstMissing === lastMissing ? firstMissing : `${firstMissing}–${lastMissing}`;
      await store.recordEvent(
        {
          ...event,
          kind: 'gap',
          reason: null,
          detail: `${route} went from ${last} to ${header.number}; missing: ${missing}`,
          firstMissing,
          lastMissing,
          fileName: name,
          flagged: true,
        },
        trx,
      );
    }

    const taken = await applyContent(rx, trx, name, bundle);
    const outcome = taken.refusal ? 'refused' : 'imported';
    await store.recordReceived(
      { header, fileName: name, outcome, answer: taken.answer, result: taken.result },
      trx,
    );
    const ackNumber = await answerWith(trx, { outcome, ...taken.refusal }, taken.answer);
    return { ...base, outcome, ...taken.refusal, ackNumber };
  });
}

interface Taken {
  /** The messages' acks (an exchange batch element) to send back with the answer. */
  answer: string | null;
  result: Record<string, unknown>;
  refusal?: { reason: string; detail: string };
}

async function applyContent(
  rx: Receiver,
  trx: Knex.Transaction,
  name: string,
  { header, content }: ReadBundle,
): Promise<Taken> {
  if (content.kind === 'messages') {
    if (!rx.handlers?.messages) {
      const refusal = { reason: 'not_taken', detail: `${rx.side} takes no exchange messages` };
      return { answer: null, result: refusal, refusal };
    }
    const handled = await rx.handlers.messages(content.batchDocument, header);
    if (handled.outcome === 'imported') {
      return { answer: batchElementOf(handled.document), result: handled.result };
    }
    const refusal = { reason: handled.reason, detail: handled.detail };
    return { answer: null, result: refusal, refusal };
  }
  if (content.kind === 'publicStatus') {
    const { sender, number } = header;
    const stored = await rx.store.storePublicStatus(sender, number, content.statuses, trx);
    return { answer: null, result: { statuses: content.statuses.length, stored } };
  }
  const result = await takeAcks(rx, trx, header, name, content.acks);
  if (content.batchDocument) await rx.handlers?.messageAcks?.(content.batchDocument, header);
  return { answer: null, result };
}

/** Records the answers to bundles this side sent; an answer to none is reported. */
async function takeAcks(
  rx: Receiver,
  trx: Knex.Transaction,
  header: BundleHeader,
  name: string,
  acks: BundleAck[],
): Promise<Record<string, unknown>> {
  const counts = { recorded: 0, again: 0, unknown: 0, mismatch: 0 };
  for (const ack of acks) {
    // The answer comes on the reverse route: it is about a bundle of ours to its sender.
    const got = await rx.store.recordAck(rx.side, header.sender, ack, trx);
    counts[got]++;
    if (got !== 'unknown' && got !== 'mismatch') continue;
    const detail =
      got === 'unknown'
        ? `${header.sender} acknowledges bundle ${ack.acknowledges}, never sent to it`
        : `${header.sender} acknowledges bundle ${ack.acknowledges} with another sha256`;
    await rx.store.recordEvent(
      {
        kind: got === 'unknown' ? 'unknown_ack' : 'ack_mismatch',
        sender: rx.side,
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
  return counts;
}

/** The answer to a copy of a bundle taken before: a duplicate, with the first refusal if any. */
function duplicateOf(seen: ReceivedBundle): Answer {
  if (seen.outcome !== 'refused') return { outcome: 'duplicate' };
  const { reason, detail } = seen.result as { reason?: string; detail?: string };
  return { outcome: 'duplicate', reason, detail: detail && `refused before: ${detail}` };
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
