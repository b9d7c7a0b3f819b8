/**
 * The fee of a case (LLA art. 58–59: only where a law sets it, at its rate): a payment notice at
 * acceptance, then a wait for the bank's confirmation — by its signed callback (a signal), or
 * found by asking the bank when the callback never comes — until the pay-by date. An unpaid
 * notice past its date is closed at the bank and the case is flagged for supervisors; the
 * licence is not handed over unpaid. The applicant is told of the notice (its PDF attached to
 * the e-mail) and, still unpaid a few working days before the date, reminded once.
 */
import { condition, patched, setHandler } from '@temporalio/workflow';
import { hall } from './activities';
import { Notices } from './notices';
import { paymentConfirmedSignal, type PaymentConfirmation } from './paymentMessages';

// Cases started before these existed issued their notice without telling the applicant, and
// had no reminder; their histories replay without either.
const NOTICE_NOTIFICATION_PATCH = 'payment-notice-notification';
const REMINDER_PATCH = 'payment-reminder';

/** How often the bank is asked when no callback came. */
const CHECK_EVERY_MS = 60 * 60 * 1000;

/** What the fee needs from its case. */
export interface FeeOwner {
  caseNumber: string;
  record: (action: string, details: Record<string, unknown>) => Promise<unknown>;
  eventKey: () => string;
  /** True once the case no longer waits for anything (withdrawn, denied). */
  ended: () => boolean;
}

/** The fee of one case: none until a notice is issued. */
export class Fee {
  noticeNumber: string | undefined;
  payBy: string | undefined;
  payment: PaymentConfirmation | undefined;
  overdue = false;
  /** True once the applicant was reminded to pay. */
  reminded = false;
  private readonly seen = new Set<string>();
  private readonly notices: Notices;

  constructor(private readonly owner: FeeOwner) {
    this.notices = new Notices(owner.caseNumber);
    setHandler(paymentConfirmedSignal, (confirmation) => {
      // A callback delivered twice (or the sweep after it) is one payment.
      if (this.seen.has(confirmation.transactionId)) return;
      this.seen.add(confirmation.transactionId);
      if (confirmation.noticeNumber !== this.noticeNumber || this.payment) return;
      this.payment = confirmation;
      void this.owner.record('paymentConfirmed', { ...confirmation, source: 'callback' });
    });
  }

  /** True when a notice was issued and is not paid. */
  get pending(): boolean {
    return this.noticeNumber !== undefined && !this.payment;
  }

  /** Issues the notice and waits for its payment beside the rest of the case. */
  async collect(feeCodes: string[], payByDays: number): Promise<void> {
    try {
      await this.issueAndWait(feeCodes, payByDays);
    } finally {
      await this.notices.drain();
    }
  }

  private async issueAndWait(feeCodes: string[], payByDays: number): Promise<void> {
    // Taken before any await: the notice, its document and its notifications share this key.
    const eventKey = this.owner.eventKey();
    const notice = await hall.issuePaymentNotice({
      caseNumber: this.owner.caseNumber,
      feeCodes,
      eventKey,
      payByDays,
    });
    this.noticeNumber = notice.noticeNumber;
    this.payBy = notice.payBy;
    await this.owner.record('paymentNoticeIssued', {
      noticeNumber: notice.noticeNumber,
      amountFen: notice.amountFen,
      payBy: notice.payBy,
    });
    const told = { noticeNumber: notice.noticeNumber, amountFen: notice.amountFen };
    if (patched(NOTICE_NOTIFICATION_PATCH)) {
      this.notices.tell(
        'paymentNotice',
        `${eventKey}/paymentNotice`,
        notice.documentId ?? undefined,
        {
          ...told,
          payBy: notice.payBy,
        },
      );
    }
    const remindAt = patched(REMINDER_PATCH) && notice.remindAt ? Date.parse(notice.remindAt) : NaN;
    while (!this.payment && !this.owner.ended()) {
      const untilPayBy = Date.parse(this.payBy) - Date.now();
      const untilReminder =
        this.reminded || Number.isNaN(remindAt) ? Infinity : remindAt - Date.now();
      const wait = Math.max(Math.min(untilPayBy, CHECK_EVERY_MS, untilReminder), 1);
      if (await condition(() => !!this.payment || this.owner.ended(), wait)) break;
      if (!this.reminded && Date.now() >= remindAt) {
        // Asked first: a payment whose callback is late must not be reminded of.
        this.reminded = true;
        const check = await hall.checkPayment({ noticeNumber: notice.noticeNumber });
        if (check.paid && check.payment && !this.payment) {
          this.payment = check.payment;
          await this.owner.record('paymentConfirmed', { ...check.payment });
        } else if (!this.payment && !this.owner.ended()) {
          this.notices.tell('paymentReminder', `${eventKey}/paymentReminder`, undefined, {
            ...told,
            payBy: this.payBy,
          });
          await this.owner.record('paymentReminded', { ...told, payBy: this.payBy });
        }
        continue;
      }
      const atPayBy = untilPayBy <= CHECK_EVERY_MS;
      const check = atPayBy
        ? await hall.expirePaymentNotice({ noticeNumber: notice.noticeNumber })
        : await hall.checkPayment({ noticeNumber: notice.noticeNumber });
      if (check.paid && check.payment && !this.payment) {
        this.payment = check.payment;
        await this.owner.record('paymentConfirmed', { ...check.payment });
      } else if (atPayBy && !check.paid) {
        this.overdue = true;
        await this.owner.record('paymentOverdue', {
          noticeNumber: notice.noticeNumber,
          payBy: this.payBy,
        });
        return;
      }
    }
  }

  /** After a denial or withdrawal: refund what was paid, or close an unpaid notice. */
  async settle(reason: string): Promise<void> {
    if (!this.noticeNumber) return;
    if (this.payment) {
      const refund = await hall.startRefund({
        caseNumber: this.owner.caseNumber,
        eventKey: this.owner.eventKey(),
        reason,
      });
      await this.owner.record('refundStarted', { amountFen: refund.amountFen, reason });
    } else if (!this.overdue) {
      await hall.expirePaymentNotice({ noticeNumber: this.noticeNumber });
      await this.owner.record('paymentNoticeClosed', { noticeNumber: this.noticeNumber, reason });
    }
  }
}
