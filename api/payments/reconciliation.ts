/**
 * Reconciliation (对账): the bank's statement of a day imported and matched to the register's
 * notices and payments, and the admin's route that uploads it.
 */
import type { Context } from 'koa';
import type { Knex } from 'knex';
import type pino from 'pino';
import { z } from 'zod';
import {
  PaymentLedger,
  type NoticeRecord,
  type PaymentRecord,
  type SignalPayment,
} from '../../activities/payments';
import { sha256Hex } from '../../lib/bank/client';
import {
  parseStatement,
  type ReconciliationEntry,
  type ReconciliationReport,
} from '../../lib/bank/statement';
import { endOfDayInZone, startOfDayInZone } from '../../lib/calendar';
import { DomainError } from '../../lib/errors';
import { route, type RouteSpec } from '../route';
import { rawBodyOf } from './body';

export type { ReconciliationEntry, ReconciliationReport } from '../../lib/bank/statement';

const statementQuery = z.object({ date: z.iso.date() });

/** The statement file of an upload: a CSV body, or the `file` part of a multipart form. */
async function statementFileOf(ctx: Context): Promise<string> {
  const type = ctx.get('content-type');
  const raw = await rawBodyOf(ctx);
  if (!/^multipart\/form-data/i.test(type)) return raw;
  const form = await new Request('http://upload.invalid/', {
    method: 'POST',
    headers: { 'content-type': type },
    body: raw,
  }).formData();
  const part = form.get('file') ?? [...form.values()][0];
  if (part === undefined || part === null) {
    throw new DomainError('validation_failed', 'send the statement as the form field "file"');
  }
  return typeof part === 'string' ? part : part.text();
}

/** What a reconciliation needs. */
export interface ReconcileDeps {
  db: Knex;
  ledger: PaymentLedger;
  timeZone: string;
  signalPayment: SignalPayment;
  log: pino.Logger;
}

/**
 * Imports one statement file and matches it to the register: by transaction id first, else by
 * notice number and amount. A payment the hall never heard of (its callback lost) is recorded
 * here, source 'reconciliation', and its case is told; mismatches and payments missing on either
 * side alert supervisors. The run is keyed by the file's SHA-256: the same file again changes
 * nothing and answers the first report.
 */
export async function reconcileStatement(
  deps: ReconcileDeps,
  input: { date: string; file: string; importedBy: string },
): Promise<ReconciliationReport> {
  const { db, ledger } = deps;
  const fileSha256 = sha256Hex(input.file);
  const previous = async (): Promise<ReconciliationReport | undefined> => {
    const row = (await db('reconciliation_runs').where({ file_sha256: fileSha256 }).first()) as
      { report: ReconciliationReport } | undefined;
    return row && { ...row.report, alreadyImported: true };
  };
  const before = await previous();
  if (before) return before;
  const parsed = parseStatement(input.file);

  const toTell: { notice: NoticeRecord; payment: PaymentRecord }[] = [];
  const report = await db.transaction(async (trx) => {
    // A concurrent import of the same file waits here on the unique key, then finds the run.
    const [run] = (await trx('reconciliation_runs')
      .insert({
        file_sha256: fileSha256,
        statement_date: input.date,
        imported_by: input.importedBy,
      })
      .onConflict('file_sha256')
      .ignore()
      .returning('id')) as { id: string }[];
    if (!run) return undefined;
    const r: ReconciliationReport = {
      runId: String(run.id),
      statementDate: input.date,
      fileSha256,
      alreadyImported: false,
      totals: {
        lines: 0,
        matched: 0,
        missingAtHall: 0,
        missingAtBank: 0,
        mismatchedAmount: 0,
        badLines: 0,
      },
      matched: [],
      missingAtHall: [],
      missingAtBank: [],
      mismatchedAmount: [],
      badLines: parsed.badLines,
    };
    const alert = (
      kind: 'missingAtHall' | 'missingAtBank' | 'mismatchedAmount',
      e: ReconciliationEntry,
    ) =>
      ledger.raiseAlert(
        {
          key: `reconciliation:${run.id}:${e.transactionId}`,
          kind,
          noticeNumber: e.noticeNumber,
          caseNumber: e.caseNumber,
          details: { statementDate: input.date, runId: String(run.id), entry: e },
        },
        trx,
      );

    for (const line of parsed.lines) {
      const payment = await ledger.paymentByTransaction(line.transactionId, trx);
      const notice = await ledger.notice(payment?.noticeNumber ?? line.noticeNumber, trx);
      const entry: ReconciliationEntry = { ...line, caseNumber: notice?.caseNumber };
      if (payment) {
        entry.hallAmountFen = payment.amountFen;
        if (payment.amountFen === line.amountFen) r.matched.push(entry);
        else r.mismatchedAmount.push(entry);
      } else if (!notice) {
        r.missingAtHall.push({ ...entry, resolution: 'unknownNotice' });
        await alert('missingAtHall', entry);
      } else if (notice.amountFen !== line.amountFen || notice.bankOrderId !== line.orderId) {
        r.mismatchedAmount.push({ ...entry, hallAmountFen: notice.amountFen });
      } else {
        const recorded = await ledger.recordPayment(
          {
            notice,
            transactionId: line.transactionId,
            orderId: line.orderId,
            amountFen: line.amountFen,
            paidAt: line.paidAt,
            source: 'reconciliation',
          },
          trx,
        );
        if (recorded.firstOfNotice) toTell.push({ notice, payment: recorded.payment });
        r.missingAtHall.push({ ...entry, hallAmountFen: notice.amountFen, resolution: 'recorded' });
      }
    }
    for (const e of r.mismatchedAmount) await alert('mismatchedAmount', e);

    // The hall's payments of the day that the bank's file does not list.
    const inFile = new Set(parsed.lines.map((l) => l.transactionId));
    const ofDay = (await trx('payments as p')
      .join('payment_notices as n', 'n.notice_number', 'p.notice_number')
      .where('p.paid_at', '>=', startOfDayInZone(input.date, deps.timeZone))
      .andWhere('p.paid_at', '<=', endOfDayInZone(input.date, deps.timeZone))
      .select('p.*', 'n.case_number')) as Record<string, any>[];
    for (const p of ofDay.filter((row) => !inFile.has(row.bank_transaction_id))) {
      const entry: ReconciliationEntry = {
        transactionId: p.bank_transaction_id,
        orderId: p.bank_order_id,
        noticeNumber: p.notice_number,
        amountFen: p.amount_fen,
        hallAmountFen: p.amount_fen,
        paidAt: (p.paid_at as Date).toISOString(),
        caseNumber: p.case_number,
      };
      r.missingAtBank.push(entry);
      await alert('missingAtBank', entry);
    }

    r.totals = {
      lines: parsed.lines.length + parsed.badLines.length,
      matched: r.matched.length,
      missingAtHall: r.missingAtHall.length,
      missingAtBank: r.missingAtBank.length,
      mismatchedAmount: r.mismatchedAmount.length,
      badLines: r.badLines.length,
    };
    const rows: Record<string, unknown>[] = [
      ...r.matched.map((e) => lineRow(run.id, 'matched', e)),
      ...r.missingAtHall.map((e) => lineRow(run.id, 'missingAtHall', e)),
      ...r.missingAtBank.map((e) => lineRow(run.id, 'missingAtBank', e)),
      ...r.mismatchedAmount.map((e) => lineRow(run.id, 'mismatchedAmount', e)),
      ...r.badLines.map((b) => ({
        run_id: run.id,
        line_number: b.line,
        status: 'badLine',
        problem: b.problem,
        raw: b.raw,
      })),
    ];
    if (rows.length > 0) await trx.batchInsert('reconciliation_lines', rows, 500);
    await trx('reconciliation_runs')
      .where({ id: run.id })
      .update({
        lines: r.totals.lines,
        matched: r.totals.matched,
        missing_at_hall: r.totals.missingAtHall,
        missing_at_bank: r.totals.missingAtBank,
        mismatched: r.totals.mismatchedAmount,
        bad_lines: r.totals.badLines,
        report: JSON.stringify(r),
      });
    return r;
  });
  if (!report) return (await previous())!;

  // Told after the commit: a case must never hear of a payment the register then rolls back.
  for (const { notice, payment } of toTell) {
    try {
      await ledger.announce(payment, notice.caseNumber, deps.signalPayment);
    } catch (err) {
      // The case's own checkPayment finds the recorded payment; nothing is lost.
      deps.log.warn({ err, caseNumber: notice.caseNumber }, 'payment signal failed');
    }
  }
  // The daily import doubles as a sweep for payments whose signal was lost on another path.
  await ledger.announcePending(deps.signalPayment).catch((err: unknown) => {
    deps.log.warn({ err }, 'pending payment signals failed');
  });
  deps.log.info({ statementDate: input.date, totals: report.totals }, 'statement reconciled');
  return report;
}

function lineRow(runId: string, status: string, e: ReconciliationEntry) {
  return {
    run_id: runId,
    line_number: e.line ?? null,
    status,
    bank_transaction_id: e.transactionId,
    notice_number: e.noticeNumber,
    amount_fen: e.amountFen,
    hall_amount_fen: e.hallAmountFen ?? null,
    problem: e.resolution ?? null,
  };
}

/** The admin's upload of a day's statement, reconciled at once. */
export function statementRoutes(deps: ReconcileDeps): RouteSpec<any, any, any>[] {
  return [
    route({
      method: 'post',
      path: '/bank/statements',
      summary: 'Import the bank statement of a day (CSV) and reconcile it with the notices',
      tag: 'payments',
      roles: ['admin'],
      query: statementQuery,
      errors: ['validation_failed'],
      handler: async ({ ctx, query, principal }) => {
        const file = await statementFileOf(ctx);
        const report = await reconcileStatement(deps, {
          date: query.date,
          file,
          importedBy: principal.id,
        });
        return { status: report.alreadyImported ? 200 : 201, body: { report } };
      },
    }),
  ];
}
