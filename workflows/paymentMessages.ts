/**
 * The message by which the hall tells a case workflow that its fee is paid. Declared apart from
 * the workflow, like messages.ts, so the API (a client) imports it without workflow code.
 */
import { defineSignal } from '@temporalio/workflow';

/** A payment of a notice, as verified against the bank's own status of the order. */
export interface PaymentConfirmation {
  noticeNumber: string;
  transactionId: string;
  amountFen: number;
  paidAt: string;
}

/**
 * The bank confirmed a payment of one of the case's notices. Sent once per bank transaction
 * (the register's unique transaction id decides who sends it); should it still come twice, after
 * a crash between sending and recording it, the workflow ignores a transaction it already has.
 */
export const paymentConfirmedSignal = defineSignal<[PaymentConfirmation]>('paymentConfirmed');
