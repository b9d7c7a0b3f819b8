/**
 * Applicant notifications end to end on loopback: the notifier activity against a real SMTP
 * server (smtp-server) and the SMS gateway emulator, a fresh register, and the notification
 * routes on a Koa app of their own. The activity is called directly, as Temporal's retries
 * would call it again.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { loadHallSettings } from '../activities/documentService';
import {
  createNotifierActivities,
  NOTIFICATION_STEPS,
  notificationReferenceOf,
  type NotifyRequest,
} from '../activities/notifier';
import { snapshotItem } from '../api/cases/submit';
import type { SmsGatewayEmulator } from '../emulators/smsGateway';
import type { SmtpEmulator } from '../emulators/smtp';
import type { Applicant, CaseInput } from '../lib/case/model';
import { loadCatalog } from '../lib/catalog/load';
import { REPO_ROOT } from '../lib/config';
import { migrateLatest, migrationConfig } from '../lib/db';
import {
  HttpSmsGateway,
  segmentsOf,
  signedHeaders,
  type SmsGateway,
} from '../lib/notify/smsGateway';
import { RegisterStore } from '../lib/store';
import { buildCompany, buildPerson } from './support/builders';
import {
  dyingAfterFirstSms,
  startGateway,
  startMail,
  startNotificationApi,
} from './support/emulators';
import { eventually, freshDatabase } from './support/hall';
import { freshRegister, recordSubmission } from './support/register';

const DATA = path.join(REPO_ROOT, 'data');
const catalog = loadCatalog(DATA);
const hall = loadHallSettings(DATA);
const API_KEY = 'test-key';
const SECRET = 'test-secret-of-the-gateway';
const FROM = '深圳市行政服务大厅 <notice@hall.onedoor.test>';
const ITEM = 'market-food-business-licence';
const silent = pino({ level: 'silent' });

/** Everything one test talks to. */
interface Harness {
  db: Knex;
  store: RegisterStore;
  smtp: SmtpEmulator;
  gateway: SmsGatewayEmulator;
  api: string;
  notify: (req: NotifyRequest) => ReturnType<ReturnType<typeof createNotifierActivities>['notify']>;
  submit: (applicant: Partial<Applicant>, channels: string[]) => Promise<string>;
  call: (method: string, route: string, token: string) => Promise<{ status: number; body: any }>;
}

interface HarnessOptions {
  /** false: the gateway posts no delivery reports. */
  reports?: boolean;
  /** false: the hall runs with e-mail only. */
  sms?: boolean;
  /** Wraps the real gateway client, e.g. to die after it answered. */
  wrapSms?: (real: SmsGateway) => SmsGateway;
}

async function startHarness(t: ExecutionContext, options: HarnessOptions = {}): Promise<Harness> {
  const { db, store } = await freshRegister(t, catalog);
  const { smtp, mailer } = await startMail(t, FROM);
  const api = await startNotificationApi(t, { db, catalog, smsSecret: SECRET });
  const gateway = await startGateway(t, {
    secret: SECRET,
    apiKey: API_KEY,
    callbackUrl:
      options.reports === false ? undefined : `${api}/notifications/sms/delivery-reports`,
    deliveryDelayMs: 10,
  });

  const client = new HttpSmsGateway({ url: gateway.url, apiKey: API_KEY, apiSecret: SECRET });
  const { notify } = createNotifierActivities({
    db,
    store,
    mailer,
    sms: options.sms === false ? null : (options.wrapSms?.(client) ?? client),
    log: silent,
    hall,
  });

  const prefix = `N${randomBytes(3).toString('hex').toUpperCase()}`;
  let sequence = 0;
  const submit: Harness['submit'] = async (applicant, channels) => {
    const caseNumber = `${prefix}-20261203-${String(++sequence).padStart(5, '0')}`;
    const submittedBy = { id: 'clerk-c01', role: 'clerk', counter: 'C01' };
    const input: CaseInput = {
      caseNumber,
      item: snapshotItem(catalog.items.get(ITEM)!),
      applicant: applicant as Applicant,
      channels,
      materials: ['application-form', 'business-licence-copy'],
      receivedAt: '2026-12-03T01:30:00.000Z',
      source: 'counter',
      submittedBy,
    };
    await recordSubmission(store, input);
    return caseNumber;
  };

  const call: Harness['call'] = async (method, route, token) => {
    const res = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  return { db, store, smtp, gateway, api, notify, submit, call };
}

/** Records the acceptance of a case, as the workflow would, with its promised date. */
async function accept(h: Harness, caseNumber: string): Promise<void> {
  await h.store.applyEvent({
    caseNumber,
    stream: caseNumber,
    seq: 2,
    at: '2026-12-03T02:00:00.000Z',
    actor: { id: 'clerk-c01', role: 'clerk' },
    action: 'accepted',
    caseChanges: {
      status: 'accepted',
      acceptedAt: '2026-12-03T02:00:00.000Z',
      promisedDueAt: '2026-12-10T15:59:59.999Z',
    },
  });
}

const rowsOf = (h: Harness, caseNumber: string) =>
  h.db('notifications').where({ case_number: caseNumber }).orderBy('id');

function postReport(h: Harness, report: unknown, headers: Record<string, string>) {
  return fetch(`${h.api}/notifications/sms/delivery-reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(report),
  });
}

test('notifying twice, even at once, sends one per case, event, channel, recipient', async (t) => {
  const h = await startHarness(t, { reports: false });
  const caseNumber = await h.submit(buildPerson({ email: 'lilei@example.com' }), ['sms', 'email']);

  const submitted = { caseNumber, step: 'submitted' as const, eventKey: `${caseNumber}#1` };
  const first = await h.notify(submitted);
  const again = await h.notify(submitted);
  t.deepEqual(
    first.notifications.map((n) => [n.channel, n.status, n.sentNow]),
    [
      ['sms', 'accepted', true],
      ['email', 'accepted', true],
    ],
  );
  t.true(again.notifications.every((n) => !n.sentNow));

  const accepted = { caseNumber, step: 'accepted' as const, eventKey: `${caseNumber}#2` };
  const racing = await Promise.all([h.notify(accepted), h.notify(accepted)]);
  const sentNow = racing.flatMap((r) => r.notifications.filter((n) => n.sentNow));
  t.deepEqual(sentNow.map((n) => n.channel).sort(), ['email', 'sms']);

  const rows = await rowsOf(h, caseNumber);
  t.is(rows.length, 4);
  t.true(rows.every((r) => r.status === 'accepted' && r.attempts === 1));
  t.like(h.gateway.stats, { sent: 2, duplicates: 0 });
  t.is(h.smtp.received.length, 2);
  t.is(h.smtp.duplicates(), 0);
});

test('a worker dying before it records the gateway’s answer still sends one SMS', async (t) => {
  const worker = dyingAfterFirstSms();
  const h = await startHarness(t, { reports: false, wrapSms: worker.wrap });
  worker.db = h.db;
  const caseNumber = await h.submit(buildPerson(), ['sms']);
  const req = { caseNumber, step: 'submitted' as const, eventKey: `${caseNumber}#1` };

  await t.throwsAsync(h.notify(req), { message: /notification not sent yet/ });
  t.is(worker.killed, 1);
  const [lost] = await rowsOf(h, caseNumber);
  t.like(lost, { status: 'pending', provider_reference: null });
  t.is(h.gateway.stats.sent, 1);

  // The handset got it meanwhile: the gateway's answer to the resend says so.
  await h.gateway.settled();
  const retried = await h.notify(req);
  t.like(retried.notifications[0], { channel: 'sms', status: 'delivered', sentNow: true });
  t.like(h.gateway.stats, { sent: 1, duplicates: 1 });
  const toApplicant = h.gateway.messages.filter((m) => m.to === '+8613800000004');
  t.is(toApplicant.length, 1);
  const [row] = await rowsOf(h, caseNumber);
  t.like(row, { status: 'delivered', provider_reference: toApplicant[0].messageId });
});

test('an SMS of up to 70 UCS-2 units is one segment, a longer one costs one per 67', (t) => {
  t.is(segmentsOf('办'.repeat(70)), 1);
  t.is(segmentsOf('办'.repeat(71)), 2);
  t.is(segmentsOf('办'.repeat(134)), 2);
  t.is(segmentsOf('办'.repeat(135)), 3);
});

test('a character outside the BMP counts two units and is never split across segments', (t) => {
  const name = '𠮷'; // U+20BB7, a surname character outside the BMP
  t.is(name.length, 2);
  t.is(segmentsOf(`${name}${'办'.repeat(68)}`), 1);
  t.is(segmentsOf(`${name}${'办'.repeat(69)}`), 2);
  // 134 units would fit two segments, but the pair cannot straddle the first boundary.
  t.is(segmentsOf(`${'办'.repeat(66)}${name}${'办'.repeat(66)}`), 3);
});

test('the notification row records how many segments its SMS costs', async (t) => {
  const h = await startHarness(t, { reports: false });
  const caseNumber = await h.submit(buildCompany(), ['sms']);
  await accept(h, caseNumber);

  const result = await h.notify({ caseNumber, step: 'accepted', eventKey: `${caseNumber}#2` });

  const [sms] = h.gateway.messages;
  t.regex(sms.text, /^【深圳市行政服务大厅】/);
  t.true(sms.text.includes(caseNumber));
  t.true(sms.text.includes('2026年12月10日'));
  const [row] = await rowsOf(h, caseNumber);
  t.is(row.segments, segmentsOf(sms.text));
  t.is(result.notifications[0].segments, row.segments);
  t.is(sms.segments, row.segments);
});

test('an acceptance e-mail carries the receipt PDF and a Message-ID from its key', async (t) => {
  const h = await startHarness(t);
  const caseNumber = await h.submit(buildCompany(), ['email']);
  await accept(h, caseNumber);
  const pdf = Buffer.from('%PDF-1.7\n% 受理通知书\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
  const [{ id }] = await h
    .db('documents')
    .insert({
      document_number: 'SZSMZX-SL-20261203-000001',
      case_number: caseNumber,
      kind: 'receipt',
      event_key: `${caseNumber}#2/receipt`,
      media_type: 'application/pdf',
      content: pdf,
      sha256: 'not checked here',
      verification_code: 'ABCD1234',
      issued_at: '2026-12-03T02:00:00.000Z',
    })
    .returning('id');

  const eventKey = `${caseNumber}#2`;
  await h.notify({ caseNumber, step: 'accepted', eventKey, documentId: String(id) });

  t.is(h.smtp.received.length, 1);
  const mail = h.smtp.received[0].parsed!;
  t.is(mail.attachments.length, 1);
  const [attachment] = mail.attachments;
  t.is(attachment.contentType, 'application/pdf');
  t.is(attachment.filename, '受理通知书-SZSMZX-SL-20261203-000001.pdf');
  t.true(attachment.content.equals(pdf));
  const reference = notificationReferenceOf(caseNumber, eventKey, 'email', 'office@example.com');
  t.is(mail.messageId, `<${reference}@hall.onedoor.test>`);
  t.true(mail.subject!.includes(caseNumber));
  t.true(mail.subject!.includes('食品经营许可'));
  t.true(mail.text!.includes('承诺办结时间：2026年12月10日'));
  t.true(mail.text!.includes('随信附《受理通知书-SZSMZX-SL-20261203-000001》'));
});

test('a document of another case is never attached', async (t) => {
  const h = await startHarness(t);
  const mine = await h.submit(buildCompany(), ['email']);
  const theirs = await h.submit(buildPerson({ email: 'lilei@example.com' }), ['email']);
  const [{ id }] = await h
    .db('documents')
    .insert({
      document_number: 'SZSMZX-BX-20261203-000002',
      case_number: theirs,
      kind: 'denialDecision',
      event_key: `${theirs}#5/denialDecision`,
      media_type: 'application/pdf',
      content: Buffer.from('%PDF-1.7\n'),
      sha256: 'x',
      verification_code: 'ABCD1234',
      issued_at: '2026-12-03T02:00:00.000Z',
    })
    .returning('id');

  const req = { caseNumber: mine, step: 'denied' as const, eventKey: `${mine}#5` };
  const err = await t.throwsAsync(h.notify({ ...req, documentId: String(id) }));
  t.like(err, { type: 'not_found', nonRetryable: true });
  t.is(h.smtp.received.length, 0);
});

test('a bad number or address fails for good and is listed as status=failed', async (t) => {
  const h = await startHarness(t);
  const applicant = buildPerson({ phone: '13800000000', email: 'bounce@example.com' });
  const caseNumber = await h.submit(applicant, ['sms', 'email']);
  const req = { caseNumber, step: 'submitted' as const, eventKey: `${caseNumber}#1` };

  const result = await h.notify(req);
  t.deepEqual(
    result.notifications.map((n) => [n.channel, n.status]),
    [
      ['sms', 'failed'],
      ['email', 'failed'],
    ],
  );
  await h.notify(req);
  t.true((await rowsOf(h, caseNumber)).every((r) => r.attempts === 1));

  const listed = await h.call(
    'GET',
    `/notifications?status=failed&caseNumber=${caseNumber}`,
    'dev-supervisor',
  );
  t.is(listed.status, 200);
  t.is(listed.body.total, 2);
  const byChannel = Object.fromEntries(
    listed.body.notifications.map((n: { channel: string }) => [n.channel, n]),
  );
  t.like(byChannel.sms, { status: 'failed', recipient: '+86138****0000', step: 'submitted' });
  t.regex(byChannel.sms.lastError, /invalid_number/);
  t.like(byChannel.email, { status: 'failed', recipient: 'b****@example.com' });
  t.regex(byChannel.email.lastError, /550/);
  t.false(JSON.stringify(listed.body).includes('13800000000'));

  t.is((await h.call('GET', '/notifications?status=failed', 'dev-clerk')).status, 403);
  t.is((await h.call('GET', '/notifications?status=failed', 'dev-admin')).status, 200);
});

test('while a provider is down the activity throws for a retry, which sends once', async (t) => {
  const h = await startHarness(t, { reports: false });
  const caseNumber = await h.submit(buildPerson({ email: 'lilei@example.com' }), ['sms', 'email']);
  const req = { caseNumber, step: 'submitted' as const, eventKey: `${caseNumber}#1` };
  h.gateway.failNext(1);
  h.smtp.failNext(1);

  const err = await t.throwsAsync(h.notify(req));
  t.like(err, { type: 'notification_unavailable', nonRetryable: false });
  const waiting = await rowsOf(h, caseNumber);
  t.true(waiting.every((r) => r.status === 'pending' && r.attempts === 1 && r.last_error));

  await h.notify(req);
  const rows = await rowsOf(h, caseNumber);
  t.true(rows.every((r) => r.status === 'accepted' && r.attempts === 2 && r.last_error === null));
  t.like(h.gateway.stats, { sent: 1, unavailable: 1, duplicates: 0 });
  t.is(h.smtp.received.length, 1);
});

test("the gateway's signed delivery report marks the SMS delivered", async (t) => {
  const h = await startHarness(t);
  const caseNumber = await h.submit(buildPerson(), ['sms']);

  await h.notify({ caseNumber, step: 'submitted', eventKey: `${caseNumber}#1` });

  const [row] = await eventually(
    () => rowsOf(h, caseNumber),
    (rows) => rows[0].status === 'delivered',
  );
  t.is(row.provider_reference, h.gateway.messages[0].messageId);
  await h.gateway.settled();
  t.like(h.gateway.stats, { delivered: 1, reportsPosted: 1 });
});

test('a badly signed delivery report is refused with 401 and changes nothing', async (t) => {
  const h = await startHarness(t, { reports: false });
  const caseNumber = await h.submit(buildPerson(), ['sms']);
  const [sent] = (await h.notify({ caseNumber, step: 'submitted', eventKey: `${caseNumber}#1` }))
    .notifications;
  const report = {
    messageId: h.gateway.messages[0].messageId,
    clientReference: sent.clientReference,
    status: 'delivered',
    at: new Date().toISOString(),
  };
  const body = JSON.stringify(report);
  const credentials = { apiKey: API_KEY, apiSecret: SECRET };
  const stale = signedHeaders(credentials, body, Date.now() - 10 * 60_000);
  const forged = signedHeaders({ apiKey: API_KEY, apiSecret: 'not-the-secret' }, body);

  for (const headers of [forged, stale, {}]) {
    const res = await postReport(h, report, headers);
    t.is(res.status, 401);
  }
  const [untouched] = await rowsOf(h, caseNumber);
  t.is(untouched.status, 'accepted');

  const ok = await postReport(h, report, signedHeaders(credentials, body));
  t.is(ok.status, 200);
  t.like(await ok.json(), { updated: true });
  const repeated = await postReport(h, report, signedHeaders(credentials, body));
  t.like(await repeated.json(), { updated: false });
  const late = { ...report, status: 'failed' };
  const lateBody = JSON.stringify(late);
  t.is((await postReport(h, late, signedHeaders(credentials, lateBody))).status, 200);
  const [delivered] = await rowsOf(h, caseNumber);
  t.is(delivered.status, 'delivered');

  const unknown = { ...report, clientReference: 'f'.repeat(32) };
  const unknownBody = JSON.stringify(unknown);
  t.is((await postReport(h, unknown, signedHeaders(credentials, unknownBody))).status, 404);
});

test('no SMS or e-mail of any step carries an ID number, phone number or full name', async (t) => {
  const h = await startHarness(t, { reports: false });
  const person = buildPerson({ email: 'lilei@example.com' });
  const company = buildCompany();
  const secrets = [
    person.idNumber,
    company.legalRepresentative.idNumber,
    person.phone,
    company.phone,
  ];

  for (const applicant of [person, company]) {
    const caseNumber = await h.submit(applicant, ['sms', 'email']);
    await accept(h, caseNumber);
    const id =
      applicant.type === 'person' ? applicant.idNumber : applicant.legalRepresentative.idNumber;
    for (const step of NOTIFICATION_STEPS) {
      await h.notify({
        caseNumber,
        step,
        eventKey: `${caseNumber}/${step}`,
        details: {
          // An officer who quotes the applicant's numbers in free text.
          reasons: `申请人身份证号${id}与登记信息不符\n联系电话${applicant.phone}无法接通`,
          suspensionReason: `核验身份证${id}`,
          missing: ['application-form', 'food-safety-rules'],
          correctionDeadline: '2026-12-17T15:59:59.999Z',
          extension: { days: 10, unit: 'workingDays' },
          department: 'health',
          taskTitle: '卫生许可审查',
          decision: 'approve',
        },
      });
    }
  }

  const texts = [
    ...h.gateway.messages.map((m) => m.text),
    ...h.smtp.received.map((m) => `${m.parsed!.subject}\n${m.parsed!.text}`),
  ];
  t.is(h.gateway.messages.length, 2 * NOTIFICATION_STEPS.length);
  t.is(h.smtp.received.length, 2 * NOTIFICATION_STEPS.length);
  for (const text of texts) {
    for (const secret of secrets) t.false(text.includes(secret), `${secret} in: ${text}`);
    t.false(text.includes(person.name), `full name in: ${text}`);
  }
  t.true(texts.some((text) => text.includes('尊敬的李*：')));
  t.true(texts.some((text) => text.includes('440***********758X')));
});

test('a hall with e-mail only sends the e-mail and says the SMS channel is off', async (t) => {
  const h = await startHarness(t, { sms: false });
  const caseNumber = await h.submit(buildPerson({ email: 'lilei@example.com' }), ['sms', 'email']);

  const result = await h.notify({ caseNumber, step: 'submitted', eventKey: `${caseNumber}#1` });

  t.deepEqual(result.skipped, [{ channel: 'sms', reason: 'channelOff' }]);
  t.deepEqual(
    result.notifications.map((n) => n.channel),
    ['email'],
  );
  t.is(h.smtp.received.length, 1);
  t.deepEqual(
    (await rowsOf(h, caseNumber)).map((r) => r.channel),
    ['email'],
  );
});

test('the client reference is a stable short hash of case, event, channel and recipient', (t) => {
  const a = notificationReferenceOf('SZ-SMZX-20261203-00001', 'e#1', 'sms', '+8613800000004');
  t.regex(a, /^[0-9a-f]{32}$/);
  t.is(a, notificationReferenceOf('SZ-SMZX-20261203-00001', 'e#1', 'sms', '+8613800000004'));
  t.not(a, notificationReferenceOf('SZ-SMZX-20261203-00001', 'e#1', 'email', '+8613800000004'));
  t.not(a, notificationReferenceOf('SZ-SMZX-20261203-00001', 'e#2', 'sms', '+8613800000004'));
});

test('the notifications migration goes down and up again', async (t) => {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const name = '20261203000010_notifications.ts';

  await db.migrate.down({ ...migrationConfig, name });
  t.false(await db.schema.hasTable('notifications'));
  await migrateLatest(db);
  t.true(await db.schema.hasTable('notifications'));
});
