import type { Client } from '@temporalio/client';
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
import {
  isValidNoticeNumber,
  sha256Hex,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
  type BankGateway,
} from '../../lib/bank/client';
import { DomainError } from '../../lib/errors';
import { paymentConfirmedSignal } from '../../workflows/paymentMessages';
import { route, type RouteSpec } from '../route';
import { rawBodyOf } from './body';
import { statementRoutes } from './reconciliation';

/** What the bank's routes need. */
export interface PaymentRouteDeps {
  db: Knex;
  bank: BankGateway;
  /** The merchant key the bank signs its callbacks with (BANK_SECRET). */
  bankSecret: string;
  /** How old a callback's signature may be (BANK_SIGNATURE_TOLERANCE_SECONDS). */
  toleranceSeconds: number;
  timeZone: string;
  /** Tells a case workflow its fee is paid; production passes temporalPaymentSignal(client). */
  signalPayment: SignalPayment;
  log: pino.Logger;
}

/** The production signaller: the case workflow's id is its case number. */
export function temporalPaymentSignal(client: Client): SignalPayment {
  return (workflowId, payment) =>
    client.workflow.getHandle(workflowId).signal(paymentConfirmedSignal, payment);
}

const callbackBody = z.object({
  merchantId: z.string().optional(),
  orderId: z.string().min(1).max(64),
  noticeNumber: z.string().refine(isValidNoticeNumber, 'a notice number with its check digits'),
  transactionId: z.string().min(1).max(64),
  amountFen: z.number().int().positive(),
  paidAt: z.iso.datetime({ offset: true }),
  status: z.literal('paid'),
});

const caseQuery = z.object({ caseNumber: z.string().min(1).max(64) });

/** What one callback attempt came to; every attempt is logged with it. */
interface CallbackOutcome {
  outcome: 'accepted' | 'duplicate' | 'refused' | 'failed';
  reason?: string;
  signatureValid: boolean;
  fields?: Partial<z.infer<typeof callbackBody>>;
  /** The refusal answered to the bank; absent on success. */
  error?: DomainError;
}

/**
 * The bank's side of the API: its signed payment callbacks (public, but nothing unsigned is
 * believed, and a signed one only after the bank's own status agrees), the import of its daily
 * statement, and the payment records of a case for supervisors.
 */
export function paymentRoutes(deps: PaymentRouteDeps): RouteSpec<any, any, any>[] {
  const { db, bank, log } = deps;
  const ledger = new PaymentLedger(db);

  const refused = (
    code: 'validation_failed' | 'not_found' | 'invalid_state',
    reason: string,
    message: string,
    fields?: CallbackOutcome['fields'],
  ): CallbackOutcome => ({
    outcome: 'refused',
    reason,
    signatureValid: true,
    fields,
    error: new DomainError(code, message, { reason }),
  });

  /** Tells the case of its notice's first payment, once; a failure is the bank's to retry. */
  async function announce(notice: NoticeRecord, payment: PaymentRecord): Promise<void> {
    const [first] = await ledger.paymentsOf([notice.noticeNumber]);
    if (first?.id !== payment.id || payment.announcedAt) return;
    await ledger.announce(payment, notice.caseNumber, deps.signalPayment);
  }

  async function handleCallback(ctx: Context, raw: string): Promise<CallbackOutcome> {
    const problem = verifySignature(
      deps.bankSecret,
      { method: 'POST', path: ctx.url, body: raw, timestamp: ctx.get(TIMESTAMP_HEADER) },
      ctx.get(SIGNATURE_HEADER) || undefined,
      { toleranceSeconds: deps.toleranceSeconds },
    );
    if (problem) {
      return {
        outcome: 'refused',
        reason: `signature:${problem}`,
        signatureValid: false,
        error: new DomainError('unauthenticated', 'the callback is not signed by the bank', {
          reason: problem,
        }),
      };
    }

    let parsed: z.infer<typeof callbackBody>;
    try {
      parsed = callbackBody.parse(JSON.parse(raw));
    } catch {
      return refused('validation_failed', 'malformed', 'the callback body is malformed');
    }
    const cb = parsed;
    const notice = await ledger.notice(cb.noticeNumber);
    if (!notice) return refused('not_found', 'unknownNotice', `no notice ${cb.noticeNumber}`, cb);
    if (notice.bankOrderId !== cb.orderId) {
      return refused('invalid_state', 'orderMismatch', 'the order is not the notice’s', cb);
    }

    const known = await ledger.paymentByTransaction(cb.transactionId);
    if (known) {
      await announce(notice, known);
      return { outcome: 'duplicate', signatureValid: true, fields: cb };
    }

    // The parameters alone are not believed: the bank's status of the order is the payment.
    let status;
    try {
      status = await bank.queryOrder(cb.orderId);
    } catch (err) {
      log.warn({ err, noticeNumber: cb.noticeNumber }, 'bank status query failed');
      return {
        outcome: 'failed',
        reason: 'bankUnavailable',
        signatureValid: true,
        fields: cb,
        error: new DomainError('unavailable', 'the bank cannot be asked now; send it again'),
      };
    }
    const disagreement =
      status.status !== 'paid'
        ? 'notPaidAtBank'
        : status.transactionId !== cb.transactionId || status.noticeNumber !== cb.noticeNumber
          ? 'orderMismatch'
          : status.amountFen !== notice.amountFen || cb.amountFen !== status.amountFen
            ? 'amountMismatch'
            : undefined;
    if (disagreement) {
      await ledger.raiseAlert({
        key: `${disagreement}:callback:${cb.transactionId}`,
        kind: disagreement,
        noticeNumber: notice.noticeNumber,
        caseNumber: notice.caseNumber,
        details: { callback: cb, bank: status, noticeAmountFen: notice.amountFen },
      });
      log.warn({ noticeNumber: notice.noticeNumber, reason: disagreement }, 'callback refused');
      return refused('invalid_state', disagreement, 'the payment does not match the notice', cb);
    }

    const { payment } = await ledger.recordPayment({
      notice,
      transactionId: status.transactionId!,
      orderId: status.orderId,
      amountFen: status.amountFen,
      paidAt: status.paidAt!,
      source: 'callback',
    });
    try {
      await announce(notice, payment);
    } catch (err) {
      // Recorded but untold: a 503 makes the bank call again, and the retry tells the case.
      log.warn({ err, caseNumber: notice.caseNumber }, 'payment signal failed');
      return {
        outcome: 'failed',
        reason: 'signalFailed',
        signatureValid: true,
        fields: cb,
        error: new DomainError('unavailable', 'recorded; the case could not be told yet'),
      };
    }
    log.info({ caseNumber: notice.caseNumber, noticeNumber: notice.noticeNumber }, 'fee paid');
    return { outcome: 'accepted', signatureValid: true, fields: cb };
  }

  return [
    route({
      method: 'post',
      path: '/bank/callbacks',
      summary: 'The bank announces a payment (signed with the merchant key)',
      tag: 'payments',
      roles: 'public',
      errors: ['unauthenticated', 'validation_failed', 'not_found', 'invalid_state', 'unavailable'],
      handler: async ({ ctx }) => {
        const raw = await rawBodyOf(ctx);
        const result = await handleCallback(ctx, raw);
        await db('bank_callbacks_log').insert({
          remote_address: ctx.ip,
          signature_valid: result.signatureValid,
          outcome: result.outcome,
          reason: result.reason ?? null,
          http_status: result.error?.status ?? 200,
          // Only what a verified callback says is worth keeping in columns.
          notice_number: result.fields?.noticeNumber ?? null,
          bank_order_id: result.fields?.orderId ?? null,
          bank_transaction_id: result.fields?.transactionId ?? null,
          amount_fen: result.fields?.amountFen ?? null,
          body_sha256: sha256Hex(raw),
          body: raw.slice(0, 4096),
        });
        if (result.error) throw result.error;
        return { body: { acknowledged: true, duplicate: result.outcome === 'duplicate' } };
      },
    }),

    ...statementRoutes({
      db,
      ledger,
      timeZone: deps.timeZone,
      signalPayment: deps.signalPayment,
      log,
    }),

    route({
      method: 'get',
      path: '/payments',
      summary: 'The payment notices of a case, with their payments, refunds and alerts',
      tag: 'payments',
      roles: ['supervisor', 'admin'],
      query: caseQuery,
      errors: ['case_not_found'],
      handler: async ({ query }) => {
        const notices = await ledger.noticesOfCase(query.caseNumber);
        const known = await db('cases').where({ case_number: query.caseNumber }).first('status');
        if (!known && notices.length === 0) {
          throw new DomainError('case_not_found', `no case ${query.caseNumber}`);
        }
        const payments = await ledger.paymentsOf(notices.map((n) => n.noticeNumber));
        const refunds = (await db('refunds')
          .where({ case_number: query.caseNumber })
          .orderBy('id')) as Record<string, any>[];
        const alerts = await db('payment_alerts')
          .where({ case_number: query.caseNumber })
          .orderBy('id');
        return {
          body: {
            caseNumber: query.caseNumber,
            notices: notices.map((n) => ({
              ...n,
              payments: payments.filter((p) => p.noticeNumber === n.noticeNumber),
              refunds: refunds
                .filter((r) => r.notice_number === n.noticeNumber)
                .map((r) => ({
                  paymentId: String(r.payment_id),
                  amountFen: r.amount_fen,
                  status: r.status,
                  reason: r.reason,
                  bankRefundId: r.bank_refund_id,
                  requestedAt: r.requested_at,
                  completedAt: r.completed_at,
                })),
            })),
            alerts: alerts.map(alertView),
          },
        };
      },
    }),

    route({
      method: 'get',
      path: '/payments/alerts',
      summary: 'Unresolved payment alerts for supervisors, newest first',
      tag: 'payments',
      roles: ['supervisor', 'admin'],
      handler: async () => {
        const rows = await db('payment_alerts')
          .whereNull('resolved_at')
          .orderBy('id', 'desc')
          .limit(500);
        return { body: { alerts: rows.map(alertView) } };
      },
    }),
  ];
}

function alertView(row: Record<string, any>) {
  return {
    id: String(row.id),
    kind: row.kind,
    noticeNumber: row.notice_number,
    caseNumber: row.case_number,
    details: row.details,
    raisedAt: (row.raised_at as Date).toISOString(),
    resolvedAt: row.resolved_at ? (row.resolved_at as Date).toISOString() : null,
  };
}
