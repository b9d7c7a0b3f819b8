import { createHash, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import type { Principal } from '../auth';
import { caseFor as caseForIn } from '../cases/access';
import { route, type RouteSpec } from '../route';

/** What the document routes need: the register, for the cases and their documents. */
export interface DocumentRouteDeps {
  db: Knex;
  store: RegisterStore;
}

/** A document of a case as listed: everything but its content. */
export interface DocumentSummary {
  id: string;
  documentNumber: string;
  kind: string;
  issuedAt: string;
  mediaType: string;
  sha256: string;
  /** Where GET downloads it. */
  download: string;
}

const caseParams = z.object({ caseNumber: z.string().min(1).max(64) });

// documents.id is a bigserial; 18 digits stay inside PostgreSQL's bigint.
const documentParams = z.object({ id: z.string().regex(/^[1-9]\d{0,17}$/, 'a document id') });

// As RegisterDocumentService numbers them: <hall prefix>-<kind>-<day>-<sequence>. The day takes
// 6 to 8 digits because the service does not zero-pad month and day yet (2026123 for 3 December);
// once it does, numbers already printed must still verify, so the range stays.
const verifyParams = z.object({
  documentNumber: z
    .string()
    .regex(/^[A-Za-z0-9]{1,32}-[A-Z]{2}-\d{8}-\d{6,18}$/, 'a document number as printed'),
});

// The code is printed in capitals; one typed in lower case is the same code.
const verifyQuery = z.object({
  code: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9]{8}$/, 'the 8-character code printed under the QR code')
    .transform((c) => c.toUpperCase()),
});

const SUMMARY_COLUMNS = ['id', 'document_number', 'kind', 'issued_at', 'media_type', 'sha256'];

function summaryOf(row: Record<string, unknown>): DocumentSummary {
  const id = String(row.id);
  return {
    id,
    documentNumber: String(row.document_number),
    kind: String(row.kind),
    issuedAt: (row.issued_at as Date).toISOString(),
    mediaType: String(row.media_type),
    sha256: String(row.sha256),
    download: `/documents/${id}`,
  };
}

// Compares digests, not the codes themselves, so the time taken says nothing about how much of a
// guess was right, nor about its length.
function sameCode(given: string, stored: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(stored));
}

// Compared against when the number is unknown, so both refusals cost the same.
const NO_CODE = '\u0000'.repeat(8);

/** The documents of a case, their download, and the public check of a printed document. */
export function documentRoutes(deps: DocumentRouteDeps): RouteSpec<any, any, any>[] {
  const { db, store } = deps;

  const caseFor = (caseNumber: string, principal: Principal) =>
    caseForIn(store, caseNumber, principal);

  return [
    route({
      method: 'get',
      path: '/cases/:caseNumber/documents',
      summary: 'The documents issued in a case, oldest first, without their content',
      tag: 'documents',
      roles: ['clerk', 'officer', 'supervisor', 'admin'],
      params: caseParams,
      errors: ['case_not_found', 'wrong_department'],
      handler: async ({ params, principal }) => {
        await caseFor(params.caseNumber, principal);
        const rows = (await db('documents')
          .where({ case_number: params.caseNumber })
          .orderBy('id')
          .select(SUMMARY_COLUMNS)) as Record<string, unknown>[];
        return { body: { caseNumber: params.caseNumber, documents: rows.map(summaryOf) } };
      },
    }),

    route({
      method: 'get',
      path: '/documents/:id',
      summary: 'Download one document as issued (PDF, or HTML where PDF printing is off)',
      tag: 'documents',
      roles: ['clerk', 'officer', 'supervisor', 'admin'],
      params: documentParams,
      errors: ['not_found', 'case_not_found', 'wrong_department'],
      produces: 'application/pdf',
      handler: async ({ params, principal, ctx }) => {
        const row = (await db('documents').where({ id: params.id }).first()) as
          Record<string, unknown> | undefined;
        if (!row) throw new DomainError('not_found', `no document ${params.id}`);
        await caseFor(String(row.case_number), principal);

        const mediaType = String(row.media_type);
        const extension = mediaType.startsWith('application/pdf') ? 'pdf' : 'html';
        const filename = `${String(row.document_number)}.${extension}`;
        ctx.type = mediaType;
        // attachment: a stored HTML copy must not open as a page of the API's own origin.
        ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
        ctx.set('X-Content-Type-Options', 'nosniff');
        // The applicant's name and case are in it: no shared cache may keep a copy.
        ctx.set('Cache-Control', 'private, no-store');
        ctx.set('ETag', `"${String(row.sha256)}"`);
        return { body: row.content as Buffer };
      },
    }),

    route({
      method: 'get',
      path: '/verify/:documentNumber',
      summary: 'Whether a printed document is genuine: its number and the code printed beside it',
      tag: 'documents',
      roles: 'public',
      params: verifyParams,
      query: verifyQuery,
      handler: async ({ params, query, ctx }) => {
        const row = (await db('documents')
          .where({ document_number: params.documentNumber })
          .first(['case_number', 'kind', 'issued_at', 'sha256', 'verification_code'])) as
          Record<string, unknown> | undefined;
        const matches = sameCode(query.code, row ? String(row.verification_code) : NO_CODE);
        ctx.set('Cache-Control', 'no-store');
        // An unknown number and a wrong code get the same answer: numbers are sequential, so a
        // 404 would let anyone list which documents exist, and of what kind and day.
        if (!row || !matches)
          return { body: { documentNumber: params.documentNumber, genuine: false } };
        // Only what the paper itself shows to whoever holds it, and never the applicant.
        return {
          body: {
            documentNumber: params.documentNumber,
            genuine: true,
            caseNumber: String(row.case_number),
            kind: String(row.kind),
            issuedAt: (row.issued_at as Date).toISOString(),
            // Lets the holder of an electronic copy check it is the file the hall issued.
            sha256: String(row.sha256),
          },
        };
      },
    }),
  ];
}
