/**
 * A case's fee on the time-skipping server (issue 7): the applicant is told of the payment
 * notice once, with its PDF, and reminded once before the pay-by date if still unpaid; paid
 * before then, never. The bank side is faked; the reminder moment is the real activity's
 * (paymentReminderAt on the shipped calendar), whose counting test/paymentNotice.test.ts checks
 * by hand on 2026 dates.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ExecutionContext } from 'ava';
import { SnapshotCalendar } from '../../activities/calendarService';
import type { NotifyRequest } from '../../activities/notifier';
import {
  paymentReminderAt,
  type IssuedNotice,
  type IssueNoticeRequest,
  type PaymentCheck,
} from '../../activities/payments';
import { dateInZone, endOfDayInZone, HALL_TIME_ZONE } from '../../lib/calendar';
import { acceptUpdate } from '../../workflows/messages';
import { paymentConfirmedSignal } from '../../workflows/paymentMessages';
import {
  buildAccept,
  buildCaseInput,
  buildFakeHall,
  createHallWorker,
  eventually,
  firstPlainMonday,
  hallMoment,
  skipTo,
  timeSkippingTest,
  type CaseHandle,
  type FakeHall,
  type TimeSkippingContext,
} from '../support/timeSkipping';

const test = timeSkippingTest();
test.before(async (t) => {
  while (!t.context.env) await new Promise((r) => setTimeout(r, 100));
  const { env } = t.context;
  await env.sleep(Date.parse(process.env.SCRATCH_FROM!) - (await env.currentTimeMs()));
  console.log('server at', new Date(await env.currentTimeMs()).toISOString());
});

const PASSPORT = 'exit-entry-ordinary-passport';
const FEE = 'passport-production-fee';
const NOTICE_NUMBER = '20261203000000004239';
const HOUR_MS = 3_600_000;
const calendar = new SnapshotCalendar();

/** A notification as the fake notifier got it, with the server's time of the call. */
interface Told {
  request: NotifyRequest;
  at: number;
}

interface FeeRun {
  /** The Monday (YYYY-MM-DD) the notice is issued on, at 09:00. */
  monday: string;
  handle: CaseHandle;
  notice: () => IssuedNotice;
  told: Told[];
  /** What checkPayment answers from now on. */
  markPaid: () => void;
}

/**
 * A fake hall whose bank side issues one notice (pay-by `payByDays` calendar days from the
 * server's today, reminder 2 working days before it) and whose notifier records each call.
 */
function feeHall(env: TestWorkflowEnvironment, run: { paid: boolean; told: Told[] }) {
  const hall: FakeHall = buildFakeHall();
  let issued: IssuedNotice | undefined;
  const unpaid = (): PaymentCheck => ({
    paid: false,
    noticeNumber: NOTICE_NUMBER,
    status: 'issued',
    payBy: issued!.payBy,
    amountFen: 12_000,
  });
  hall.activities = {
    ...hall.activities,
    async issuePaymentNotice(req: IssueNoticeRequest): Promise<IssuedNotice> {
      if (issued) return issued;
      const now = new Date(await env.currentTimeMs());
      const today = dateInZone(now, HALL_TIME_ZONE);
      const payByDay = new Date(`${today}T00:00:00Z`);
      payByDay.setUTCDate(payByDay.getUTCDate() + req.payByDays);
      const payBy = endOfDayInZone(payByDay.toISOString().slice(0, 10)).toISOString();
      issued = {
        noticeNumber: NOTICE_NUMBER,
        amountFen: 12_000,
        payBy,
        lines: [],
        bankOrderId: 'ORDER-1',
        documentNumber: 'SZSMZX-JK-20261203-000001',
        documentId: 'DOC-P1',
        remindAt: await paymentReminderAt(calendar, {
          payBy,
          workingDays: 2,
          issuedAt: now.toISOString(),
          timeZone: HALL_TIME_ZONE,
        }),
      };
      return issued;
    },
    async checkPayment(): Promise<PaymentCheck> {
      if (!run.paid) return unpaid();
      const payment = {
        noticeNumber: NOTICE_NUMBER,
        transactionId: 'TX-1',
        amountFen: 12_000,
        paidAt: new Date(await env.currentTimeMs()).toISOString(),
        source: 'callback' as const,
      };
      return { ...unpaid(), paid: true, status: 'paid', payment };
    },
    async expirePaymentNotice(): Promise<PaymentCheck> {
      return { ...unpaid(), status: 'expired' };
    },
    async notify(request) {
      run.told.push({ request, at: await env.currentTimeMs() });
      const { caseNumber, eventKey, step } = request;
      return { caseNumber, eventKey, step, notifications: [], skipped: [] };
    },
  };
  return { hall, notice: () => issued! };
}

async function withFeeCase(
  t: ExecutionContext<TimeSkippingContext>,
  body: (run: FeeRun) => Promise<void>,
): Promise<void> {
  const { env } = t.context;
  // Issued on Monday 09:00 of two weeks that chinese-days shows plain (Mon–Fri working, Sat–Sun
  // rest, no holiday, no make-up day), the first such from today: the dates count by hand.
  const monday = await firstPlainMonday(env, 2);
  await skipTo(env, hallMoment(monday, 0, '09:00:00'));
  const state = { paid: false, told: [] as Told[] };
  const { hall, notice } = feeHall(env, state);
  const { run, startCase } = await createHallWorker(t, env, hall);
  // Seven calendar days to pay: by the end of the next Monday.
  const input = buildCaseInput(PASSPORT, { payByDays: 7 });
  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(acceptUpdate, { args: [buildAccept({ fees: [FEE] })] });
    const markPaid = () => (state.paid = true);
    await body({ monday, handle, notice, told: state.told, markPaid });
  });
}

const ofStep = (told: Told[], step: string) => told.filter((n) => n.request.step === step);

test.serial(
  'an unpaid notice is told at once with its PDF and reminded once before pay-by',
  async (t) => {
    const { env } = t.context;
    await withFeeCase(t, async ({ monday, notice, told }) => {
      const [toldOfNotice] = await eventually(
        async () => ofStep(told, 'paymentNotice'),
        (n) => n.length > 0,
      );
      t.like(toldOfNotice.request, {
        step: 'paymentNotice',
        documentId: 'DOC-P1',
        details: { noticeNumber: NOTICE_NUMBER, amountFen: 12_000, payBy: notice().payBy },
      });
      // Two working days before pay-by Monday: Sun and Sat rest, Fri (1), Thu (2), 09:00.
      t.is(notice().remindAt, hallMoment(monday, 3, '09:00:00'));
      const remindAt = Date.parse(notice().remindAt!);

      // An hour before the reminder's moment: nothing yet.
      await env.sleep(remindAt - HOUR_MS - (await env.currentTimeMs()));
      t.is(ofStep(told, 'paymentReminder').length, 0);

      // Two hours on it has gone out, once, not before its moment.
      await env.sleep(2 * HOUR_MS);
      const [reminder] = await eventually(
        async () => ofStep(told, 'paymentReminder'),
        (n) => n.length > 0,
      );
      t.true(reminder.at >= remindAt);
      t.like(reminder.request, {
        details: { noticeNumber: NOTICE_NUMBER, amountFen: 12_000, payBy: notice().payBy },
      });

      // A day on, through 24 hourly checks with the bank: still one reminder, one notice told.
      await env.sleep(24 * HOUR_MS);
      t.is(ofStep(told, 'paymentReminder').length, 1);
      t.is(ofStep(told, 'paymentNotice').length, 1);
    });
  },
);

test.serial('a notice paid before the reminder is never reminded', async (t) => {
  const { env } = t.context;
  await withFeeCase(t, async ({ handle, notice, told, markPaid }) => {
    await eventually(
      async () => ofStep(told, 'paymentNotice'),
      (n) => n.length > 0,
    );
    markPaid();
    await handle.signal(paymentConfirmedSignal, {
      noticeNumber: NOTICE_NUMBER,
      transactionId: 'TX-1',
      amountFen: 12_000,
      paidAt: new Date(await env.currentTimeMs()).toISOString(),
    });

    // Past the reminder's moment and the pay-by date: no reminder was sent.
    await env.sleep(Date.parse(notice().payBy) + HOUR_MS - (await env.currentTimeMs()));
    t.is(ofStep(told, 'paymentReminder').length, 0);
    t.is(ofStep(told, 'paymentNotice').length, 1);
  });
});
