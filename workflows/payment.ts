/**
 * The fee of a case (LLA art. 58–59: only where a law sets it, at its rate): a payment notice at
 * acceptance, then a wait for the bank's confirmation — by its signed callback (a signal), or
 * found by asking the bank when the callback never comes — until the pay-by date. An unpaid
 * notice past its date is closed at the bank and the case is flagged for supervisors; the
 * licence is not handed over unpaid.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { hall } from './activities';
import { paymentConfirmedSignal, type PaymentConfirmation } from './paymentMessages';

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
  private readonly seen = new Set<string>();

  constructor(private readonly owner: FeeOwner) {
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
    const notice = await hall.issuePaymentNotice({
      caseNumber: this.owner.caseNumber,
      feeCodes,
      eventKey: this.owner.eventKey(),
      payByDays,
    });
    this.noticeNumber = notice.noticeNumber;
    this.payBy = notice.payBy;
    await this.owner.record('paymentNoticeIssued', {
      noticeNumber: notice.noticeNumber,
      amountFen: notice.amountFen,
      payBy: notice.payBy,
    });
    while (!this.payment && !this.owner.ended()) {
      const untilPayBy = Date.parse(this.payBy) - Date.now();
      const wait = Math.max(Math.min(untilPayBy, CHECK_EVERY_MS), 1);
      if (await condition(() => !!this.payment || this.owner.ended(), wait)) break;
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
