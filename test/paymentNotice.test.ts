/**
 * The printed payment notice (缴款通知书, issue 7): its amounts in figures and capital numerals,
 * the fields it is refused without, the reminder date counted on the 2026 calendar, and the PDF
 * as the payment activity issues it through the document service, read back with pdftotext.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { SnapshotCalendar } from '../activities/calendarService';
import { verificationCodeOf } from '../activities/documentService';
import { createNotifierActivities } from '../activities/notifier';
import {
  createPaymentActivities,
  paymentNoticeDocumentsOf,
  paymentReminderAt,
  type IssuedNotice,
} from '../activities/payments';
import { snapshotItem } from '../api/cases/submit';
import { BankClient, DEV_MERCHANT_ID, noticeNumberOf } from '../lib/bank/client';
import { amountInWords, yuanOf } from '../lib/bank/money';
import type { CaseInput } from '../lib/case/model';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig } from '../lib/config';
import { PdfRenderer } from '../lib/documents/renderer';
import { DocumentIncompleteError, type PaymentNoticeData } from '../lib/documents/requirements';
import { TemplateSet } from '../lib/documents/templates';
import type { OutgoingMail } from '../lib/notify/mailer';
import { startBankEmulator } from '../emulators/bank';
import { buildPerson } from './support/builders';
import { documentServiceOf, squashedPdfText } from './support/documents';
import { freshRegister, recordSubmission } from './support/register';

const test = anyTest as TestFn<{ renderer: PdfRenderer }>;

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const catalog = loadCatalog(config.DATA_PATH);
const templates = TemplateSet.load();
const TZ = 'Asia/Shanghai';

test.before((t) => {
  t.context.renderer = new PdfRenderer({ poolSize: 1 });
});
test.after.always((t) => t.context.renderer.close());

// ---------------------------------------------------------------------------------------------
// Amounts

test('amounts print in figures with two decimals', (t) => {
  t.is(yuanOf(12_000), '120.00');
  t.is(yuanOf(5), '0.05');
  t.is(yuanOf(150_020), '1500.20');
  t.throws(() => yuanOf(-1));
  t.throws(() => yuanOf(1.5));
});

test('amounts print in capital numerals with 整 after 元 or 角 and none after 分', (t) => {
  t.is(amountInWords(12_000), '壹佰贰拾元整');
  t.is(amountInWords(50), '伍角整');
  t.is(amountInWords(5), '伍分');
  t.is(amountInWords(100_005), '壹仟元零伍分');
  t.is(amountInWords(10_000_000), '壹拾万元整');
  t.is(amountInWords(150_020), '壹仟伍佰元贰角整');
  t.is(amountInWords(0), '零元整');
  t.throws(() => amountInWords(-100));
});

// ---------------------------------------------------------------------------------------------
// The fields a notice is refused without

const complete: PaymentNoticeData = {
  documentNumber: 'SZSMZX-JK-20261016-000031',
  caseNumber: 'SZSMZX-20261016-00012',
  verificationCode: 'K7Q29XMA',
  verifyUrl: 'http://127.0.0.1:3000/verify/SZSMZX-JK-20261016-000031?code=K7Q29XMA',
  issuingOrgan: '深圳市公安局出入境管理支队',
  issuedDate: '2026年10月16日',
  sealName: '深圳市行政服务大厅受理专用章',
  complaintPhone: '12345',
  applicant: { name: '王小明' },
  itemName: '普通护照签发',
  noticeNumber: noticeNumberOf('20261016', 31),
  payer: '王小明',
  lines: [
    { name: '普通护照工本费', basis: '护照法第二十二条', quantity: '1本', amount: '120.00元' },
  ],
  totalAmount: '120.00元',
  totalInWords: '壹佰贰拾元整',
  payByDate: '2026年10月31日',
  bankName: '中国银行深圳市分行',
  paymentMethods: ['到中国银行深圳市分行任一营业网点柜台缴纳'],
};

function refusedFor(t: ExecutionContext<unknown>, data: unknown): string[] | undefined {
  const error = t.throws(() => templates.render('paymentNotice', data as PaymentNoticeData), {
    instanceOf: DocumentIncompleteError,
  });
  return error?.missing;
}

test('a complete payment notice renders', (t) => {
  const html = templates.render('paymentNotice', complete);
  t.true(html.includes(complete.noticeNumber));
  t.true(html.includes('人民币壹佰贰拾元整'));
});

for (const field of ['payer', 'totalAmount', 'totalInWords', 'payByDate', 'bankName'] as const) {
  test(`a payment notice is refused without ${field}, and with it blank`, (t) => {
    const absent: Record<string, unknown> = { ...complete };
    delete absent[field];
    t.deepEqual(refusedFor(t, absent), [field]);
    t.deepEqual(refusedFor(t, { ...complete, [field]: ' ' }), [field]);
  });
}

test('a payment notice is refused without its notice number', (t) => {
  t.deepEqual(refusedFor(t, { ...complete, noticeNumber: '' }), ['noticeNumber']);
});

test('a payment notice is refused when its notice number fails the check digits', (t) => {
  // One digit of the sequence mistyped: 31 read as 37.
  const mistyped = `${complete.noticeNumber.slice(0, 16)}37${complete.noticeNumber.slice(18)}`;
  t.not(mistyped, complete.noticeNumber);
  t.deepEqual(refusedFor(t, { ...complete, noticeNumber: mistyped }), ['noticeNumber']);
});

test('a payment notice is refused without fee lines', (t) => {
  t.deepEqual(refusedFor(t, { ...complete, lines: [] }), ['lines']);
});

for (const field of ['name', 'basis', 'quantity', 'amount'] as const) {
  test(`a payment notice is refused with a fee line lacking its ${field}`, (t) => {
    const line = { ...complete.lines[0], [field]: '' };
    t.deepEqual(refusedFor(t, { ...complete, lines: [complete.lines[0], line] }), [
      `lines[1].${field}`,
    ]);
  });
}

test('a payment notice is refused without a way to pay', (t) => {
  t.deepEqual(refusedFor(t, { ...complete, paymentMethods: [] }), ['paymentMethods']);
});

// ---------------------------------------------------------------------------------------------
// The reminder's date

test('the reminder falls two working days before pay-by on the 2026 calendar', async (t) => {
  const calendar = new SnapshotCalendar();
  // Pay by Monday 12 October 2026. Back from it: Sun 11 rest; Sat 10 is the National Day make-up
  // working day (1); Fri 9 (2). So 09:00 on Friday 9 October (01:00 UTC).
  t.is(
    await paymentReminderAt(calendar, {
      payBy: '2026-10-12T15:59:59.999Z',
      workingDays: 2,
      issuedAt: '2026-09-28T02:00:00.000Z',
      timeZone: TZ,
    }),
    '2026-10-09T01:00:00.000Z',
  );
  // Pay by Thursday 8 October, the first working day after the holiday: 1–7 October are off,
  // Wed 30 September (1), Tue 29 September (2).
  t.is(
    await paymentReminderAt(calendar, {
      payBy: '2026-10-08T15:59:59.999Z',
      workingDays: 2,
      issuedAt: '2026-09-21T02:00:00.000Z',
      timeZone: TZ,
    }),
    '2026-09-29T01:00:00.000Z',
  );
});

test('no reminder when reminders are off or its moment is not after the notice', async (t) => {
  const calendar = new SnapshotCalendar();
  const payBy = '2026-10-12T15:59:59.999Z';
  const req = { payBy, workingDays: 2, issuedAt: '2026-10-09T02:00:00.000Z', timeZone: TZ };
  t.is(await paymentReminderAt(calendar, req), null, 'issued after 09:00 of the reminder day');
  t.is(await paymentReminderAt(calendar, { ...req, workingDays: 0 }), null);
});

// ---------------------------------------------------------------------------------------------
// The notice as issued

test('a notice is issued once, as a PDF with its number, amount and pay-by date', async (t) => {
  const { db, store } = await freshRegister(t, catalog);
  const item = catalog.items.get('exit-entry-ordinary-passport')!;
  const caseNumber = 'SZSMZX-20261016-00012';
  const applicant = buildPerson({ name: '王小明', email: 'wang@example.com' });
  const input: CaseInput = {
    caseNumber,
    item: snapshotItem(item),
    applicant,
    channels: ['email'],
    materials: item.materials.map((m) => m.code),
    receivedAt: '2026-10-16T01:30:00.000Z',
    source: 'counter',
    submittedBy: { id: 'clerk-07', role: 'clerk', counter: 'A12' },
  };
  await recordSubmission(store, input);

  const secret = `test-bank-${randomBytes(8).toString('hex')}`;
  const bank = await startBankEmulator({ port: 0, secret, timeZone: TZ });
  t.teardown(() => bank.close());
  const { renderer } = t.context;
  const documents = documentServiceOf({ db, store, catalog }, { templates, renderer, config });
  const payments = createPaymentActivities({
    db,
    catalog,
    bank: new BankClient({ baseUrl: bank.url, merchantId: DEV_MERCHANT_ID, secret }),
    notifyUrl: 'http://127.0.0.1:9/bank/callbacks',
    timeZone: TZ,
    documents: paymentNoticeDocumentsOf(documents),
    // Issued on 16 October 2026, 10:05 hall time.
    now: () => new Date('2026-10-16T02:05:00.000Z'),
  });
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const request = {
    caseNumber,
    feeCodes: ['passport-production-fee'],
    eventKey: `${caseNumber}#fee2`,
    payByDays: 15,
  };
  const issued = (await env.run(payments.issuePaymentNotice, request)) as IssuedNotice;
  const again = (await env.run(payments.issuePaymentNotice, request)) as IssuedNotice;

  t.deepEqual(again, issued, 'the same event key answers the same notice and document');
  t.regex(issued.documentNumber ?? '', /^SZSMZX-JK-\d{8}-\d{6}$/);
  const rows = (await db('documents').where({ case_number: caseNumber })) as Record<string, any>[];
  t.is(rows.length, 1);
  const [row] = rows;
  t.like(row, { kind: 'paymentNotice', document_number: issued.documentNumber });
  t.is(String(row.id), issued.documentId ?? '');
  const notice = await db('payment_notices').where({ notice_number: issued.noticeNumber }).first();
  t.is(notice.document_number, issued.documentNumber);
  // Stored and verifiable as every document: the code signs number and case; the hash the file.
  t.is(
    row.verification_code,
    verificationCodeOf(config.DOCUMENT_SECRET, row.document_number, caseNumber),
  );
  t.is(row.sha256, createHash('sha256').update(row.content).digest('hex'));

  const text = await squashedPdfText(t, row.content as Buffer);
  for (const fragment of [
    '缴款通知书',
    issued.noticeNumber,
    caseNumber,
    '王小明',
    '普通护照工本费',
    '120.00元',
    '人民币壹佰贰拾元整',
    // 16 October + 15 calendar days = 31 October.
    '2026年10月31日',
    config.BANK_NAME,
    '深圳市行政服务大厅受理专用章',
  ]) {
    t.true(text.includes(fragment), `PDF text lacks ${fragment}`);
  }

  // The applicant's e-mail of the notice carries this very PDF.
  const mails: OutgoingMail[] = [];
  const notifier = createNotifierActivities({
    db,
    store,
    sms: null,
    mailer: {
      send: async (mail) => {
        mails.push(mail);
        return { messageId: `<${mail.reference}@test>`, response: '250 OK' };
      },
      close: async () => undefined,
    },
    log: { info: () => undefined, warn: () => undefined } as never,
  });
  const tell = {
    caseNumber,
    step: 'paymentNotice' as const,
    eventKey: `${caseNumber}#fee2/paymentNotice`,
    documentId: issued.documentId ?? undefined,
    details: { noticeNumber: issued.noticeNumber, amountFen: 12_000, payBy: issued.payBy },
  };
  await env.run(notifier.notify, tell);
  await env.run(notifier.notify, tell);
  t.is(mails.length, 1, 'told once, however often asked');
  const [mail] = mails;
  t.is(mail.to, 'wang@example.com');
  t.true(mail.subject.startsWith('缴款通知'));
  for (const fragment of [
    issued.noticeNumber,
    '应缴金额：120.00元',
    '缴款期限：2026年10月31日前',
  ]) {
    t.true(mail.text.includes(fragment), `e-mail lacks ${fragment}`);
  }
  t.is(mail.attachments?.length, 1);
  t.is(mail.attachments![0].filename, `缴款通知书-${issued.documentNumber}.pdf`);
  t.true(mail.attachments![0].content.equals(row.content as Buffer));
});
