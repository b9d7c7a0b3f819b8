/**
 * The bank's daily statement file (对账单) as the hall reads it: CSV with the columns of
 * STATEMENT_COLUMNS, and the report that matching it to the register produces.
 */
import { DomainError } from '../errors';
import { isValidNoticeNumber, STATEMENT_COLUMNS } from './client';

/** One payment line of a statement, or a hall payment the statement lacks. */
export interface ReconciliationEntry {
  /** Line of the file (the header is line 1); absent for a payment missing at the bank. */
  line?: number;
  transactionId: string;
  orderId?: string;
  noticeNumber: string;
  amountFen: number;
  paidAt: string;
  caseNumber?: string;
  /** What the hall has: the notice's amount, or the recorded payment's. */
  hallAmountFen?: number;
  /** For a payment missing at the hall: recorded now, or no such notice. */
  resolution?: 'recorded' | 'unknownNotice';
}

/** The report of one statement import. */
export interface ReconciliationReport {
  runId: string;
  statementDate: string;
  fileSha256: string;
  /** True when this very file was imported before: nothing changed, this is that report. */
  alreadyImported: boolean;
  totals: {
    lines: number;
    matched: number;
    missingAtHall: number;
    missingAtBank: number;
    mismatchedAmount: number;
    badLines: number;
  };
  matched: ReconciliationEntry[];
  missingAtHall: ReconciliationEntry[];
  missingAtBank: ReconciliationEntry[];
  mismatchedAmount: ReconciliationEntry[];
  badLines: { line: number; raw: string; problem: string }[];
}

export type StatementLine = Required<Pick<ReconciliationEntry, 'line' | 'orderId'>> &
  Omit<ReconciliationEntry, 'line' | 'orderId'>;

/** Parses the statement (columns: STATEMENT_COLUMNS); a bad line is reported, not fatal. */
export function parseStatement(file: string): {
  lines: StatementLine[];
  badLines: ReconciliationReport['badLines'];
} {
  const rows = file.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = rows[0]?.trim().toLowerCase();
  if (header !== STATEMENT_COLUMNS.join(',')) {
    throw new DomainError('validation_failed', 'not a bank statement file', {
      problems: [
        { path: 'body', message: `the first line must be ${STATEMENT_COLUMNS.join(',')}` },
      ],
    });
  }
  const lines: StatementLine[] = [];
  const badLines: ReconciliationReport['badLines'] = [];
  const seen = new Set<string>();
  rows.slice(1).forEach((raw, i) => {
    const line = i + 2;
    if (!raw.trim()) return;
    const fields = raw.split(',').map((f) => f.trim());
    const [transactionId, orderId, noticeNumber, amount, paidAt] = fields;
    const problem =
      fields.length !== STATEMENT_COLUMNS.length
        ? `expected ${STATEMENT_COLUMNS.length} fields, found ${fields.length}`
        : !/^[A-Za-z0-9_-]{1,64}$/.test(transactionId)
          ? 'transaction_id is not an id'
          : !/^[A-Za-z0-9_-]{1,64}$/.test(orderId)
            ? 'order_id is not an id'
            : !isValidNoticeNumber(noticeNumber)
              ? 'notice_number fails its check digits'
              : !/^[1-9]\d{0,9}$/.test(amount) || Number(amount) > 2 ** 31 - 1
                ? 'amount_fen is not a positive whole number of fen'
                : Number.isNaN(Date.parse(paidAt)) || !/^\d{4}-\d{2}-\d{2}T/.test(paidAt)
                  ? 'paid_at is not an ISO 8601 moment'
                  : seen.has(transactionId)
                    ? 'transaction_id appears twice in the file'
                    : undefined;
    if (problem) {
      badLines.push({ line, raw: raw.slice(0, 500), problem });
      return;
    }
    seen.add(transactionId);
    const at = new Date(paidAt).toISOString();
    lines.push({
      line,
      transactionId,
      orderId,
      noticeNumber,
      amountFen: Number(amount),
      paidAt: at,
    });
  });
  return { lines, badLines };
}
