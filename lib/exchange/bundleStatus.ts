/**
 * The outer portal's public status data, carried by the spool. The hall exports, as publicStatus
 * bundles, what GET /portal/cases/:n may show of each case that changed — progress, never the
 * applicant, reasons or officers — with digests of its documents' codes instead of the codes;
 * the outer side keeps them (SpoolStore.storePublicStatus) and answers the same lookup.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RegisterStore } from '../store';
import { stableJson } from './parse';
import { codeDigest, composeStatuses, type PublicCaseStatus } from './bundle';
import type { SpoolStore } from './bundleStore';
import type { ImportReport } from './bundleReceive';
import type { Spool } from './spool';

/** Changes this close to the last export are looked at again: a commit may land late. */
const CURSOR_MARGIN_MS = 60_000;
/** Case statuses per bundle. */
const STATUSES_PER_BUNDLE = 200;

/** What a lookup answers: the public status without the digests of the codes. */
export type ShownCaseStatus = Omit<PublicCaseStatus, 'codeDigests'>;

/** The progress of a case anyone holding one of its documents may see; no one's name. */
async function shownStatusOf(
  register: RegisterStore,
  caseNumber: string,
): Promise<ShownCaseStatus | undefined> {
  const record = await register.getCase(caseNumber);
  if (!record) return undefined;
  const tasks = await register.getTasks(caseNumber);
  return {
    caseNumber: record.caseNumber,
    item: record.itemCode,
    status: record.status,
    outcome: record.outcome,
    receivedAt: record.receivedAt,
    acceptedAt: record.acceptedAt,
    promisedDueAt: record.promisedDueAt,
    dueProvisional: record.dueProvisional,
    concludedAt: record.concludedAt,
    departments: tasks.map((t) => ({ task: t.title, department: t.department, status: t.status })),
  };
}

/** The digests of the verification codes of a case's documents, in the order they were issued. */
async function codeDigestsOf(register: RegisterStore, caseNumber: string): Promise<string[]> {
  const codes = (await register
    .db('documents')
    .where({ case_number: caseNumber })
    .orderBy('id')
    .select('verification_code')) as { verification_code: string }[];
  return codes.map((c) => codeDigest(caseNumber, c.verification_code));
}

/** Whether `code` is one of the documents' codes the digests were made of. */
function knowsCode(digests: string[], caseNumber: string, code: string): boolean {
  const given = Buffer.from(codeDigest(caseNumber, code), 'hex');
  // Constant-time over every digest, so timing says nothing about which matched.
  return digests.reduce(
    (hit, digest) => timingSafeEqual(Buffer.from(digest, 'hex'), given) || hit,
    false,
  );
}

/**
 * The public status of a case, from the register, as the spool carries it to the outer portal:
 * what GET /portal/cases/:n shows, with the digests of its documents' codes.
 */
export async function publicStatusOf(
  register: RegisterStore,
  caseNumber: string,
): Promise<PublicCaseStatus | undefined> {
  const shown = await shownStatusOf(register, caseNumber);
  return shown && { ...shown, codeDigests: await codeDigestsOf(register, caseNumber) };
}

/**
 * The hall's lookup (api/portal/router.ts): the case's public status when `code` is one of its
 * documents' verification codes; undefined for an unknown case and a wrong code alike. The
 * codes are checked first, so both cost the same one query and timing tells no case apart.
 */
export async function lookUpCaseStatus(
  register: RegisterStore,
  caseNumber: string,
  code: string,
): Promise<ShownCaseStatus | undefined> {
  const known = knowsCode(await codeDigestsOf(register, caseNumber), caseNumber, code);
  return known ? shownStatusOf(register, caseNumber) : undefined;
}

/** What one export sent. */
export interface StatusExport {
  bundles: number[];
  cases: number;
}

/**
 * Exports to `receiver` the public status of every case changed since the last export and not
 * already sent as it now stands; each bundle remembers what it sent in its own transaction.
 */
export async function exportPublicStatus(
  spool: Spool,
  register: RegisterStore,
  receiver: string,
): Promise<StatusExport> {
  const store = spool.store;
  const startedAt = ((await register.db.raw('SELECT now() AS now')) as { rows: { now: Date }[] })
    .rows[0].now;
  const cursor = await store.statusCursor(spool.side, receiver);
  const since = new Date((cursor?.getTime() ?? 0) - CURSOR_MARGIN_MS);
  const changed = (await register.db.raw(
    `SELECT case_number FROM cases WHERE updated_at > :since
     UNION SELECT case_number FROM department_tasks WHERE updated_at > :since
     UNION SELECT case_number FROM documents WHERE issued_at > :since
     ORDER BY case_number`,
    { since },
  )) as { rows: { case_number: string }[] };

  const result: StatusExport = { bundles: [], cases: 0 };
  const numbers = changed.rows.map((r) => r.case_number);
  for (let i = 0; i < numbers.length; i += STATUSES_PER_BUNDLE) {
    const slice = numbers.slice(i, i + STATUSES_PER_BUNDLE);
    const sent = await store.exportedStatus(receiver, slice);
    const fresh: { status: PublicCaseStatus; sha256: string }[] = [];
    for (const caseNumber of slice) {
      const status = await publicStatusOf(register, caseNumber);
      if (!status) continue;
      const sha256 = createHash('sha256').update(stableJson(status)).digest('hex');
      if (sent.get(caseNumber) !== sha256) fresh.push({ status, sha256 });
    }
    if (fresh.length === 0) continue;
    const header = await spool.send(
      receiver,
      'publicStatus',
      composeStatuses(fresh.map((f) => f.status)),
      fresh.length,
      (trx, kept) =>
        store.recordExported(
          receiver,
          kept.number,
          fresh.map((f) => ({ caseNumber: f.status.caseNumber, sha256: f.sha256 })),
          trx,
        ),
    );
    result.bundles.push(header.number);
    result.cases += fresh.length;
  }
  await store.moveStatusCursor(spool.side, receiver, startedAt);
  return result;
}

/** The outer portal's lookup, as the hall's, from the public status the spool brought. */
export async function lookUpPublicStatus(
  store: SpoolStore,
  caseNumber: string,
  code: string,
): Promise<ShownCaseStatus | undefined> {
  const found = await store.findPublicStatus(caseNumber);
  return found && knowsCode(found.codeDigests, caseNumber, code) ? found.status : undefined;
}

/** How long a bundle may go unanswered before the hall writes it again (default 15 min). */
export const RESEND_AFTER_MS = 15 * 60 * 1000;

/**
 * One pass of the hall's side of the spool: bundles kept but not written, then every inbound
 * bundle, then the bundles unanswered too long written again, then the public status changed
 * since the last pass, to `peer`.
 */
export async function runHallSpoolPass(
  spool: Spool,
  register: RegisterStore,
  peer: string,
  resendAfterMs = RESEND_AFTER_MS,
): Promise<{ imported: ImportReport[]; resent: number[]; exported: StatusExport }> {
  await spool.flush();
  const imported = await spool.importInbound();
  const resent = await spool.resendOverdue(peer, resendAfterMs);
  const exported = await exportPublicStatus(spool, register, peer);
  return { imported, resent, exported };
}
