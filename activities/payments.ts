import { ApplicationFailure, log } from '@temporalio/activity';
import type { Knex } from 'knex';
import {
  BankError,
  noticeNumberOf,
  type BankGateway,
  type BankOrderStatus,
} from '../lib/bank/client';
import { dateInZone, endOfDayInZone, startOfDayInZone } from '../lib/calendar';
import type { Catalog } from '../lib/catalog/types';
import type { PaymentConfirmation } from '../workflows/paymentMessages';
import type { CalendarService } from './calendar';
import type { DocumentService } from './documents';

/** Where a payment notice stands. */
export type NoticeStatus = 'issued' | 'paid' | 'expired' | 'refunding' | 'refunded';

/** How the hall learned of a payment: the bank's callback, its own status query, a statement. */
export type PaymentSource = 'callback' | 'statusQuery' | 'reconciliation';

/** One fee of a notice, copied from the item's catalog entry when the notice was issued. */
export interface NoticeLine {
  code: string;
  name: string;
  /** The unit the rate is per, as the catalog says it (件, 本). */
  per: string;
  quantity: number;
  unitFen: number;
  amountFen: number;
  legalBasis: string;
}

/** A payment notice (缴款通知书) as the register keeps it. */
export interface NoticeRecord {
  noticeNumber: string;
  caseNumber: string;
  itemCode: string;
  eventKey: string;
  lines: NoticeLine[];
  amountFen: number;
  payBy: string;
  status: NoticeStatus;
  bankOrderId: string | null;
  documentNumber: string | null;
  issuedAt: string;
  paidAt: string | null;
}

/** A payment the bank confirmed: one row per bank transaction. */
export interface PaymentRecord {
  id: string;
  noticeNumber: string;
  bankTransactionId: string;
  bankOrderId: string;
  amountFen: number;
  paidAt: string;
  source: PaymentSource;
  announcedAt: string | null;
}

/** What supervisors are alerted to about money. */
export type AlertKind =
  | 'amountMismatch'
  | 'notPaidAtBank'
  | 'orderMismatch'
  | 'duplicatePayment'
  | 'paidAfterExpiry'
  | 'missingAtHall'
  | 'missingAtBank'
  | 'mismatchedAmount';

/** A finding for supervisors; `key` makes raising the same finding again a no-op. */
export interface AlertInput {
  key: string;
  kind: AlertKind;
  noticeNumber?: string | null;
  caseNumber?: string | null;
  details: Record<string, unknown>;
}

/** Sends the case workflow (its id is the case number) the news that its fee is paid. */
export type SignalPayment = (workflowId: string, payment: PaymentConfirmation) => Promise<void>;

type Db = Knex | Knex.Transaction;

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : (v as null));

function noticeOf(row: Record<string, any>): NoticeRecord {
  return {
    noticeNumber: row.notice_number,
    caseNumber: row.case_number,
    itemCode: row.item_code,
    eventKey: row.event_key,
    lines: row.lines,
    amountFen: row.amount_fen,
    payBy: iso(row.pay_by)!,
    status: row.status,
    bankOrderId: row.bank_order_id,
    documentNumber: row.document_number,
    issuedAt: iso(row.issued_at)!,
    paidAt: iso(row.paid_at),
  };
}

function paymentOf(row: Record<string, any>): PaymentRecord {
  return {
    id: String(row.id),
    noticeNumber: row.notice_number,
    bankTransactionId: row.bank_transaction_id,
    bankOrderId: row.bank_order_id,
    amountFen: row.amount_fen,
    paidAt: iso(row.paid_at)!,
    source: row.source,
    announcedAt: iso(row.announced_at),
  };
}

/** The confirmation a case workflow is told of a payment. */
export function confirmationOf(p: PaymentRecord): PaymentConfirmation {
  return {
    noticeNumber: p.noticeNumber,
    transactionId: p.bankTransactionId,
    amountFen: p.amountFen,
    paidAt: p.paidAt,
  };
}

// A claim to announce a payment that was never confirmed (the process died) lapses after this.
const ANNOUNCE_LEASE = "interval '30 seconds'";

/**
 * The register's payment records, shared by the activities and the bank's routes. Every write is
 * keyed (notice event key, bank transaction id, alert key), so any path may repeat it.
 */
export class PaymentLedger {
  constructor(readonly db: Knex) {}

  async notice(noticeNumber: string, db: Db = this.db): Promise<NoticeRecord | undefined> {
    const row = (await db('payment_notices').where({ notice_number: noticeNumber }).first()) as
      Record<string, any> | undefined;
    return row && noticeOf(row);
  }

  async noticeByEventKey(eventKey: string): Promise<NoticeRecord | undefined> {
    const row = (await this.db('payment_notices').where({ event_key: eventKey }).first()) as
      Record<string, any> | undefined;
    return row && noticeOf(row);
  }

  async noticesOfCase(caseNumber: string): Promise<NoticeRecord[]> {
    const rows = (await this.db('payment_notices')
      .where({ case_number: caseNumber })
      .orderBy('issued_at')) as Record<string, any>[];
    return rows.map(noticeOf);
  }

  /** The payments of notices in the order recorded: a notice's first is the one it was paid by. */
  async paymentsOf(noticeNumbers: string[], db: Db = this.db): Promise<PaymentRecord[]> {
    const rows = (await db('payments')
      .whereIn('notice_number', noticeNumbers)
      .orderBy('id')) as Record<string, any>[];
    return rows.map(paymentOf);
  }

  async paymentByTransaction(id: string, db: Db = this.db): Promise<PaymentRecord | undefined> {
    const row = (await db('payments').where({ bank_transaction_id: id }).first()) as
      Record<string, any> | undefined;
    return row && paymentOf(row);
  }

  /**
   * Records a payment the bank confirmed, once per transaction. The first payment of a notice
   * marks it paid (`firstOfNotice`: the case is to be told); a second transaction for the same
   * notice is money to give back, and an alert. Answers whether this call recorded it.
   */
  async recordPayment(
    p: {
      notice: NoticeRecord;
      transactionId: string;
      orderId: string;
      amountFen: number;
      paidAt: string;
      source: PaymentSource;
    },
    db?: Db,
  ): Promise<{ payment: PaymentRecord; isNew: boolean; firstOfNotice: boolean }> {
    const run = async (trx: Db) => {
      const inserted = (await trx('payments')
        .insert({
          notice_number: p.notice.noticeNumber,
          bank_transaction_id: p.transactionId,
          bank_order_id: p.orderId,
          amount_fen: p.amountFen,
          paid_at: p.paidAt,
          source: p.source,
        })
        .onConflict('bank_transaction_id')
        .ignore()
        .returning('*')) as Record<string, any>[];
      if (inserted.length === 0) {
        const payment = (await this.paymentByTransaction(p.transactionId, trx))!;
        return { payment, isNew: false, firstOfNotice: false };
      }
      const payment = paymentOf(inserted[0]);
      // The row lock orders two different transactions of one notice: one of them is first.
      const current = (await trx('payment_notices')
        .where({ notice_number: p.notice.noticeNumber })
        .forUpdate()
        .first('status')) as { status: NoticeStatus };
      const firstOfNotice = current.status === 'issued' || current.status === 'expired';
      if (firstOfNotice) {
        await trx('payment_notices')
          .where({ notice_number: p.notice.noticeNumber })
          .update({ status: 'paid', paid_at: p.paidAt, updated_at: trx.fn.now() });
      }
      const kind = current.status === 'expired' ? 'paidAfterExpiry' : 'duplicatePayment';
      if (!firstOfNotice || current.status === 'expired') {
        await this.raiseAlert(
          {
            key: `${kind}:${p.transactionId}`,
            kind,
            noticeNumber: p.notice.noticeNumber,
            caseNumber: p.notice.caseNumber,
            details: { transactionId: p.transactionId, amountFen: p.amountFen, source: p.source },
          },
          trx,
        );
      }
      return { payment, isNew: true, firstOfNotice };
    };
    return db ? run(db) : this.db.transaction(run);
  }

  /** Raises an alert for supervisors; the same key raised again changes nothing. */
  async raiseAlert(a: AlertInput, db: Db = this.db): Promise<void> {
    await db('payment_alerts')
      .insert({
        alert_key: a.key,
        kind: a.kind,
        notice_number: a.noticeNumber ?? null,
        case_number: a.caseNumber ?? null,
        details: JSON.stringify(a.details),
      })
      .onConflict('alert_key')
      .ignore();
  }

  /** Marks a payment as told to its case (the workflow got it as an activity's answer). */
  async markAnnounced(paymentId: string): Promise<void> {
    await this.db('payments')
      .where({ id: paymentId })
      .whereNull('announced_at')
      .update({ announced_at: this.db.fn.now() });
  }

  /**
   * Tells the case workflow of a payment unless it was told already. A lease on the row makes
   * concurrent callers send one signal; a failed send releases it, so the bank's retry (or the
   * workflow's own checkPayment) gets another chance. Answers whether this call sent it.
   */
  async announce(
    payment: PaymentRecord,
    caseNumber: string,
    signal: SignalPayment,
  ): Promise<boolean> {
    const claimed = await this.db('payments')
      .where({ id: payment.id })
      .whereNull('announced_at')
      .where((q) => {
        void q
          .whereNull('announce_claimed_at')
          .orWhere('announce_claimed_at', '<', this.db.raw(`now() - ${ANNOUNCE_LEASE}`));
      })
      .update({ announce_claimed_at: this.db.fn.now() })
      .returning('id');
    if (claimed.length === 0) return false;
    try {
      await signal(caseNumber, confirmationOf(payment));
    } catch (err) {
      await this.db('payments').where({ id: payment.id }).update({ announce_claimed_at: null });
      throw err;
    }
    await this.markAnnounced(payment.id);
    return true;
  }

  /**
   * Tells the cases of every payment recorded but never told (the process died between the two,
   * or the signal failed and the bank gave up): a sweep for the API process to run now and then.
   * Only a notice's first payment is told; a second one is a refund matter, already alerted.
   */
  async announcePending(signal: SignalPayment, limit = 100): Promise<number> {
    const rows = (await this.db('payments as p')
      .join('payment_notices as n', 'n.notice_number', 'p.notice_number')
      .whereNull('p.announced_at')
      .where((q) => {
        void q
          .whereNull('p.announce_claimed_at')
          .orWhere('p.announce_claimed_at', '<', this.db.raw(`now() - ${ANNOUNCE_LEASE}`));
      })
      .whereNotExists((q) => {
        void q
          .select(this.db.raw('1'))
          .from('payments as earlier')
          .whereRaw('earlier.notice_number = p.notice_number AND earlier.id < p.id');
      })
      .orderBy('p.id')
      .limit(limit)
      .select('p.*', 'n.case_number')) as Record<string, any>[];
    let told = 0;
    for (const row of rows) {
      if (await this.announce(paymentOf(row), row.case_number, signal)) told++;
    }
    return told;
  }
}

/** Issues the printed notice (缴款通知书) through the document service, once per event. */
export interface PaymentNoticeDocuments {
  issuePaymentNotice(req: {
    caseNumber: string;
    noticeNumber: string;
    eventKey: string;
  }): Promise<{ id: string; documentNumber: string }>;
}

/** The printed notice as the document service issues it: kind paymentNotice, by its number. */
export function paymentNoticeDocumentsOf(service: DocumentService): PaymentNoticeDocuments {
  return {
    async issuePaymentNotice(req) {
      const issued = await service.issue({
        caseNumber: req.caseNumber,
        kind: 'paymentNotice',
        eventKey: req.eventKey,
        details: { noticeNumber: req.noticeNumber },
      });
      return { id: issued.id, documentNumber: issued.documentNumber };
    },
  };
}

// The reminder goes out in the morning of its working day, when the bank's counters are open.
const REMINDER_HOUR_MS = 9 * 60 * 60 * 1000;

/**
 * When to remind an applicant who has not paid: 09:00 (hall time) of the working day that lies
 * `workingDays` working days before the pay-by day. None when reminders are off (0), or when that
 * moment is not after `issuedAt` (a notice that short needs no reminder beside itself).
 */
export async function paymentReminderAt(
  calendar: Pick<CalendarService, 'workingDaysBefore'>,
  req: { payBy: string; workingDays: number; issuedAt: string; timeZone: string },
): Promise<string | null> {
  if (req.workingDays < 1) return null;
  const endOfThatDay = await calendar.workingDaysBefore(req.payBy, req.workingDays);
  const day = dateInZone(new Date(endOfThatDay), req.timeZone);
  const at = new Date(startOfDayInZone(day, req.timeZone).getTime() + REMINDER_HOUR_MS);
  return at.getTime() > Date.parse(req.issuedAt) ? at.toISOString() : null;
}

/** What the payment activities need. */
export interface PaymentActivityDeps {
  db: Knex;
  catalog: Catalog;
  bank: BankGateway;
  /** Where the bank posts its callbacks: the API's POST /bank/callbacks. */
  notifyUrl: string;
  timeZone: string;
  /** The printed notice; without it the notice is in the register and at the bank, unprinted. */
  documents?: PaymentNoticeDocuments;
  /** The calendar the reminder is counted on; without it no reminder is planned. */
  calendar?: Pick<CalendarService, 'workingDaysBefore'>;
  /** Working days before pay-by that an unpaid notice is reminded of (PAY_REMINDER_DAYS). */
  payReminderDays?: number;
  now?: () => Date;
}

/** What issuePaymentNotice asks for. */
export interface IssueNoticeRequest {
  caseNumber: string;
  /** Fee codes of the item's catalog entry; a code twice is two of a per-copy fee (本). */
  feeCodes: string[];
  /** The case event that asks for the notice: asking again returns the same notice. */
  eventKey: string;
  /** Calendar days to pay in; the notice falls due at the end of that hall day. */
  payByDays: number;
}

/** A notice as issued. */
export interface IssuedNotice {
  noticeNumber: string;
  amountFen: number;
  payBy: string;
  lines: NoticeLine[];
  bankOrderId: string;
  documentNumber: string | null;
  /** The printed notice's documents.id, attached to the applicant's e-mail. */
  documentId: string | null;
  /** When to remind the applicant if still unpaid (see paymentReminderAt); null: never. */
  remindAt: string | null;
}

/** What the case learns from asking after a notice. */
export interface PaymentCheck {
  paid: boolean;
  noticeNumber: string;
  status: NoticeStatus;
  payBy: string;
  amountFen: number;
  /** The payment, when paid. */
  payment?: PaymentConfirmation & { source: PaymentSource };
  /** Why a payment the bank reports was not accepted (supervisors are alerted). */
  problem?: 'amountMismatch' | 'orderMismatch';
}

/** One refund as started. */
export interface RefundView {
  noticeNumber: string;
  transactionId: string;
  amountFen: number;
  status: 'requested' | 'succeeded' | 'pending';
  bankRefundId: string | null;
}

// A fee per case (件) is charged once a case; for registration the Civil Code says so outright
// (art. 223: per case, never by area, volume or price).
const ONCE_PER_CASE = new Set(['件']);

function refuse(type: string, message: string, details?: unknown): never {
  throw ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? undefined : [details],
  });
}

// A bank that refused is final; one that is down or answered untrusted is asked again.
async function atBank<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof BankError && !err.retryable) {
      refuse('bank_refused', `the bank refused to ${what}: ${err.message}`, {
        status: err.status,
        bankCode: err.bankCode,
      });
    }
    throw err;
  }
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Builds the notice lines of fee codes from the item's catalog entry, or refuses. */
function linesOf(catalog: Catalog, itemCode: string, feeCodes: string[]): NoticeLine[] {
  const item = catalog.items.get(itemCode);
  const fees = new Map((item?.fees ?? []).map((f) => [f.code, f]));
  const unknown = [...new Set(feeCodes.filter((c) => !fees.has(c)))];
  if (unknown.length > 0) {
    // LLA art. 58: no fee unless a law sets it; the catalog lists the item's lawful fees.
    refuse('fee_not_in_catalog', `not fees of ${itemCode}: ${unknown.join(', ')}`, {
      unknown,
      listed: [...fees.keys()],
    });
  }
  if (feeCodes.length === 0) refuse('validation_failed', 'a payment notice needs a fee');
  const counts = new Map<string, number>();
  for (const code of feeCodes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return [...counts].map(([code, quantity]) => {
    const fee = fees.get(code)!;
    if (quantity > 1 && ONCE_PER_CASE.has(fee.per)) {
      refuse('validation_failed', `${code} is charged once per case, not ${quantity} times`);
    }
    const unitFen = Math.round(fee.amountCNY * 100);
    return {
      code,
      name: fee.name,
      per: fee.per,
      quantity,
      unitFen,
      amountFen: unitFen * quantity,
      legalBasis: fee.legalBasis,
    };
  });
}

/**
 * The fee activities: issue a case's payment notice and its bank order, ask the bank after a
 * payment (the callback may never come), close an unpaid notice at its pay-by date, and refund.
 */
export function createPaymentActivities(deps: PaymentActivityDeps) {
  const { db, bank } = deps;
  const ledger = new PaymentLedger(db);
  const now = deps.now ?? (() => new Date());

  /** Records what the bank reports as paid, after checking it against the notice. */
  async function acceptBankPayment(
    notice: NoticeRecord,
    status: BankOrderStatus,
  ): Promise<PaymentCheck> {
    const base = {
      noticeNumber: notice.noticeNumber,
      payBy: notice.payBy,
      amountFen: notice.amountFen,
    };
    const problem =
      status.noticeNumber !== notice.noticeNumber
        ? 'orderMismatch'
        : status.amountFen !== notice.amountFen
          ? 'amountMismatch'
          : undefined;
    if (problem || !status.transactionId || !status.paidAt) {
      await ledger.raiseAlert({
        key: `${problem ?? 'orderMismatch'}:${status.transactionId ?? status.orderId}`,
        kind: problem ?? 'orderMismatch',
        noticeNumber: notice.noticeNumber,
        caseNumber: notice.caseNumber,
        details: { bank: status, noticeAmountFen: notice.amountFen, source: 'statusQuery' },
      });
      log.warn('payment at the bank refused', {
        noticeNumber: notice.noticeNumber,
        problem: problem ?? 'orderMismatch',
      });
      return { ...base, paid: false, status: notice.status, problem: problem ?? 'orderMismatch' };
    }
    const { payment } = await ledger.recordPayment({
      notice,
      transactionId: status.transactionId,
      orderId: status.orderId,
      amountFen: status.amountFen,
      paidAt: status.paidAt,
      source: 'statusQuery',
    });
    // The workflow that asked gets the payment as this answer: no signal is owed any more.
    await ledger.markAnnounced(payment.id);
    const after = (await ledger.notice(notice.noticeNumber))!;
    return paidCheck(after, payment);
  }

  function paidCheck(notice: NoticeRecord, payment: PaymentRecord): PaymentCheck {
    return {
      paid: true,
      noticeNumber: notice.noticeNumber,
      status: notice.status,
      payBy: notice.payBy,
      amountFen: notice.amountFen,
      payment: { ...confirmationOf(payment), source: payment.source },
    };
  }

  async function knownNotice(noticeNumber: string): Promise<NoticeRecord> {
    const notice = await ledger.notice(noticeNumber);
    if (!notice) refuse('not_found', `no payment notice ${noticeNumber}`);
    return notice;
  }

  /** A recorded payment of the notice, told to the asking workflow. */
  async function recordedPayment(notice: NoticeRecord): Promise<PaymentCheck | undefined> {
    if (notice.status === 'issued' || notice.status === 'expired') return undefined;
    const [first] = await ledger.paymentsOf([notice.noticeNumber]);
    if (!first) return undefined;
    await ledger.markAnnounced(first.id);
    return paidCheck(notice, first);
  }

  return {
    /**
     * Issues the payment notice of a case event: fee lines from the item's catalog entry (a code
     * it does not list is refused, `fee_not_in_catalog`), a checked notice number, the pay-by
     * date, and the order at the bank. Asking again with the same event key returns the same
     * notice; a retry after a crash finishes what the first attempt left undone.
     */
    async issuePaymentNotice(req: IssueNoticeRequest): Promise<IssuedNotice> {
      let notice = await ledger.noticeByEventKey(req.eventKey);
      if (notice && notice.caseNumber !== req.caseNumber) {
        refuse('invalid_state', `event ${req.eventKey} already has a notice of another case`);
      }
      if (!notice) {
        if (!Number.isInteger(req.payByDays) || req.payByDays < 1 || req.payByDays > 366) {
          refuse('validation_failed', `payByDays must be 1 to 366, not ${req.payByDays}`);
        }
        const record = (await db('cases').where({ case_number: req.caseNumber }).first()) as
          { item_code: string } | undefined;
        if (!record) refuse('case_not_found', `no case ${req.caseNumber}`);
        const lines = linesOf(deps.catalog, record.item_code, req.feeCodes);
        const issuedAt = now();
        const today = dateInZone(issuedAt, deps.timeZone);
        const payBy = endOfDayInZone(addDays(today, req.payByDays), deps.timeZone);
        const [{ nextval }] = (await db.raw("SELECT nextval('payment_notice_numbers') AS nextval"))
          .rows as { nextval: string }[];
        await db('payment_notices')
          .insert({
            notice_number: noticeNumberOf(today.replaceAll('-', ''), Number(nextval)),
            case_number: req.caseNumber,
            item_code: record.item_code,
            event_key: req.eventKey,
            lines: JSON.stringify(lines),
            amount_fen: lines.reduce((sum, l) => sum + l.amountFen, 0),
            pay_by: payBy.toISOString(),
            issued_at: issuedAt.toISOString(),
          })
          .onConflict('event_key')
          .ignore();
        // Whoever won a race for this event key, that row is the notice.
        notice = (await ledger.noticeByEventKey(req.eventKey))!;
      }

      if (!notice.bankOrderId) {
        const item = deps.catalog.items.get(notice.itemCode);
        const { orderId } = await atBank('create the order', () =>
          bank.createOrder({
            noticeNumber: notice!.noticeNumber,
            amountFen: notice!.amountFen,
            payBy: notice!.payBy,
            description: `${item?.name ?? notice!.itemCode} ${notice!.caseNumber}`,
            notifyUrl: deps.notifyUrl,
          }),
        );
        await db('payment_notices')
          .where({ notice_number: notice.noticeNumber })
          .whereNull('bank_order_id')
          .update({ bank_order_id: orderId, updated_at: db.fn.now() });
        notice = (await ledger.notice(notice.noticeNumber))!;
      }

      let documentId: string | null = null;
      if (deps.documents) {
        // Asked again after a crash, the document service answers the document it issued.
        const document = await deps.documents.issuePaymentNotice({
          caseNumber: notice.caseNumber,
          noticeNumber: notice.noticeNumber,
          eventKey: `${req.eventKey}/paymentNotice`,
        });
        documentId = document.id;
        if (notice.documentNumber !== document.documentNumber) {
          await db('payment_notices')
            .where({ notice_number: notice.noticeNumber })
            .update({ document_number: document.documentNumber, updated_at: db.fn.now() });
          notice = { ...notice, documentNumber: document.documentNumber };
        }
      }
      const remindAt = deps.calendar
        ? await paymentReminderAt(deps.calendar, {
            payBy: notice.payBy,
            workingDays: deps.payReminderDays ?? 0,
            issuedAt: notice.issuedAt,
            timeZone: deps.timeZone,
          })
        : null;

      log.info('payment notice issued', {
        caseNumber: notice.caseNumber,
        noticeNumber: notice.noticeNumber,
        amountFen: notice.amountFen,
      });
      return {
        noticeNumber: notice.noticeNumber,
        amountFen: notice.amountFen,
        payBy: notice.payBy,
        lines: notice.lines,
        bankOrderId: notice.bankOrderId!,
        documentNumber: notice.documentNumber,
        documentId,
        remindAt,
      };
    },

    /**
     * Whether a notice is paid, asking the bank's status endpoint when the register has no
     * payment: it finds a payment whose callback never came (and records it, source
     * 'statusQuery'). A payment of the wrong amount is not accepted and alerts supervisors.
     */
    async checkPayment(req: { noticeNumber: string }): Promise<PaymentCheck> {
      const notice = await knownNotice(req.noticeNumber);
      const recorded = await recordedPayment(notice);
      if (recorded) return recorded;
      const unpaid: PaymentCheck = {
        paid: false,
        noticeNumber: notice.noticeNumber,
        status: notice.status,
        payBy: notice.payBy,
        amountFen: notice.amountFen,
      };
      if (!notice.bankOrderId) return unpaid;
      const status = await atBank('answer the order status', () =>
        bank.queryOrder(notice.bankOrderId!),
      );
      return status.status === 'paid' ? acceptBankPayment(notice, status) : unpaid;
    },

    /**
     * Closes a notice whose pay-by date has passed: the bank order is closed first, so no payment
     * can arrive after; if the payer won that race, the payment is recorded and answered instead.
     */
    async expirePaymentNotice(req: { noticeNumber: string }): Promise<PaymentCheck> {
      const notice = await knownNotice(req.noticeNumber);
      const recorded = await recordedPayment(notice);
      if (recorded) return recorded;
      if (notice.bankOrderId) {
        const status = await atBank('close the order', () => bank.closeOrder(notice.bankOrderId!));
        if (status.status === 'paid') {
          const check = await acceptBankPayment(notice, status);
          if (check.paid) return check;
        }
      }
      await db('payment_notices')
        .where({ notice_number: notice.noticeNumber, status: 'issued' })
        .update({ status: 'expired', updated_at: db.fn.now() });
      const after = (await ledger.notice(notice.noticeNumber))!;
      log.info('payment notice expired', { noticeNumber: notice.noticeNumber });
      return {
        paid: false,
        noticeNumber: after.noticeNumber,
        status: after.status,
        payBy: after.payBy,
        amountFen: after.amountFen,
      };
    },

    /**
     * Refunds in full every payment of the case's notices (a denial or a withdrawal after
     * payment, where the item's rule says so). Each payment is refunded once, whatever the event
     * key of a later call; the bank dedupes the request by the refund's own id.
     */
    async startRefund(req: {
      caseNumber: string;
      eventKey: string;
      reason?: string;
    }): Promise<{ refunds: RefundView[]; amountFen: number }> {
      const notices = await ledger.noticesOfCase(req.caseNumber);
      const payments = await ledger.paymentsOf(notices.map((n) => n.noticeNumber));
      const refunds: RefundView[] = [];
      for (const payment of payments) {
        await db('refunds')
          .insert({
            payment_id: payment.id,
            notice_number: payment.noticeNumber,
            case_number: req.caseNumber,
            event_key: req.eventKey,
            amount_fen: payment.amountFen,
            reason: req.reason ?? 'case closed without a licence',
            requested_at: now().toISOString(),
          })
          .onConflict('payment_id')
          .ignore();
        await db('payment_notices')
          .where({ notice_number: payment.noticeNumber, status: 'paid' })
          .update({ status: 'refunding', updated_at: db.fn.now() });
        let refund = (await db('refunds').where({ payment_id: payment.id }).first()) as Record<
          string,
          any
        >;
        if (refund.status !== 'succeeded') {
          const answer = await atBank('refund', () =>
            bank.refund({
              orderId: payment.bankOrderId,
              transactionId: payment.bankTransactionId,
              refundRequestId: `refund-${refund.id}`,
              amountFen: payment.amountFen,
              reason: refund.reason,
            }),
          );
          [refund] = (await db('refunds')
            .where({ id: refund.id })
            .update({
              status: answer.status,
              bank_refund_id: answer.refundId,
              completed_at: answer.status === 'succeeded' ? now().toISOString() : null,
            })
            .returning('*')) as Record<string, any>[];
        }
        refunds.push({
          noticeNumber: payment.noticeNumber,
          transactionId: payment.bankTransactionId,
          amountFen: payment.amountFen,
          status: refund.status,
          bankRefundId: refund.bank_refund_id,
        });
      }
      // A notice is refunded once every payment of it is.
      for (const notice of notices) {
        const own = refunds.filter((r) => r.noticeNumber === notice.noticeNumber);
        if (own.length > 0 && own.every((r) => r.status === 'succeeded')) {
          await db('payment_notices')
            .where({ notice_number: notice.noticeNumber })
            .whereIn('status', ['paid', 'refunding'])
            .update({ status: 'refunded', updated_at: db.fn.now() });
        }
      }
      log.info('refund started', { caseNumber: req.caseNumber, refunds: refunds.length });
      return { refunds, amountFen: refunds.reduce((sum, r) => sum + r.amountFen, 0) };
    },
  };
}

/** The payment activities, as workflows proxy them. */
export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
