/**
 * Staff are told of the statutory-time events (电子监察) through the applicant's machinery: the
 * department's duty contact, the hall's supervisors and leadership, each once per event and
 * channel, at a real SMTP server (smtp-server) and the SMS gateway emulator on loopback.
 *
 * The first tests call the activity directly, as Temporal's retries would; the last ones run a
 * whole hall against the shared dev server and count what the emulators received.
 *
 * Dates are counted by hand on the 2026 arrangement: 10-17/18, 10-24/25 and 10-31/11-01 are
 * weekends; 10-10 (Sat) was a make-up working day after National Day.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import {
  createNotifierActivities,
  notificationReferenceOf,
  type StaffNotifyRequest,
} from '../activities/notifier';
import { snapshotItem } from '../api/cases/submit';
import type { SmsGatewayEmulator } from '../emulators/smsGateway';
import type { SmtpEmulator } from '../emulators/smtp';
import type { Applicant, CaseInput } from '../lib/case/model';
import { loadCatalog } from '../lib/catalog/load';
import { REPO_ROOT } from '../lib/config';
import { migrateLatest, migrationConfig } from '../lib/db';
import {
  DEV_SMS_API_SECRET,
  HttpSmsGateway,
  segmentsOf,
  type SmsGateway,
} from '../lib/notify/smsGateway';
import {
  parseStaffContacts,
  StaffContactsInvalidError,
  type StaffDirectory,
} from '../lib/notify/staffContacts';
import { buildCompany, buildPerson } from './support/builders';
import {
  dyingAfterFirstSms,
  startGateway,
  startMail,
  startNotificationApi,
  startSmtp,
} from './support/emulators';
import { eventually, freshDatabase, startTestHall } from './support/hall';
import { freshRegister, recordSubmission } from './support/register';
import { readHistoryFile, workflowBundle } from './support/timeSkipping';

const DATA = path.join(REPO_ROOT, 'data');
const catalog = loadCatalog(DATA);
const SECRET = 'test-secret-of-the-gateway';
const FROM = '深圳市行政服务大厅 <notice@hall.onedoor.test>';
const ITEM = 'hrss-labour-dispatch-licence';
const silent = pino({ level: 'silent' });
const endOf = (date: string) => `${date}T15:59:59.999Z`;

const HRSS = { name: '人社局值班室', email: 'duty@hrss.test', mobile: '13900000110' };
const OFFICE = {
  id: 'supervision-office',
  name: '督查科',
  email: 'office@sup.test',
  mobile: '13900000201',
};
const MONITOR = { id: 'monitor', name: '电子监察值班员', email: 'monitor@sup.test' };
const DIRECTOR = {
  id: 'director',
  name: '大厅主任',
  email: 'director@lead.test',
  mobile: '13900000301',
};
const CONTACTS: StaffDirectory = {
  departments: { hrss: HRSS },
  supervisors: [OFFICE, MONITOR],
  leadership: [DIRECTOR],
};

interface Harness {
  db: Knex;
  smtp: SmtpEmulator;
  gateway: SmsGatewayEmulator;
  notifyStaff: (req: StaffNotifyRequest) => ReturnType<Notifier['notifyStaff']>;
  submit: (applicant: Partial<Applicant>) => Promise<string>;
  call: (route: string, token: string) => Promise<{ status: number; body: any }>;
}
type Notifier = ReturnType<typeof createNotifierActivities>;

async function startHarness(
  t: ExecutionContext,
  options: {
    contacts?: StaffDirectory;
    now?: string;
    sms?: boolean;
    /** Wraps the real gateway client, e.g. to die after it answered. */
    wrapSms?: (real: SmsGateway) => SmsGateway;
  } = {},
): Promise<Harness> {
  const { db, store } = await freshRegister(t, catalog);
  const { smtp, mailer } = await startMail(t, FROM);
  const gateway = await startGateway(t, { secret: SECRET, apiKey: 'k', deliveryDelayMs: 10 });
  const api = await startNotificationApi(t, { db, catalog, smsSecret: SECRET });

  const now = options.now;
  const wrap = options.wrapSms ?? ((real: SmsGateway) => real);
  const { notifyStaff } = createNotifierActivities({
    db,
    store,
    mailer,
    sms:
      options.sms === false
        ? null
        : wrap(new HttpSmsGateway({ url: gateway.url, apiKey: 'k', apiSecret: SECRET })),
    log: silent,
    staffContacts: options.contacts ?? CONTACTS,
    now: now ? () => new Date(now) : undefined,
  });

  const prefix = `S${randomBytes(3).toString('hex').toUpperCase()}`;
  let sequence = 0;
  const submit: Harness['submit'] = async (applicant) => {
    const caseNumber = `${prefix}-20260928-${String(++sequence).padStart(5, '0')}`;
    const submittedBy = { id: 'clerk-c01', role: 'clerk', counter: 'C01' };
    const input: CaseInput = {
      caseNumber,
      item: snapshotItem(catalog.items.get(ITEM)!),
      applicant: applicant as Applicant,
      channels: ['sms', 'email'],
      materials: ['application-form', 'business-licence'],
      receivedAt: '2026-09-28T02:00:00.000Z',
      source: 'counter',
      submittedBy,
    };
    await recordSubmission(store, input);
    return caseNumber;
  };
  const call: Harness['call'] = async (route, token) => {
    const res = await fetch(`${api}${route}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };
  return { db, smtp, gateway, notifyStaff, submit, call };
}

/** What each address received: e-mail subjects and SMS texts. */
function inboxes(h: Pick<Harness, 'smtp' | 'gateway'>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (to: string, text: string) => out.set(to, [...(out.get(to) ?? []), text]);
  for (const mail of h.smtp.received) for (const to of mail.to) add(to, mail.parsed!.subject!);
  for (const sms of h.gateway.messages) add(sms.to, sms.text);
  return out;
}

const sorted = (m: Map<string, string[]>) =>
  Object.fromEntries([...m].map(([to, texts]) => [to, texts.length]).sort());

const redRequest = (caseNumber: string): StaffNotifyRequest => ({
  caseNumber,
  step: 'red',
  eventKey: `${caseNumber}/${ITEM}#9`,
  department: 'hrss',
  taskCode: ITEM,
  taskTitle: '劳务派遣经营许可审查',
  dueAt: endOf('2026-10-30'),
});

/** What a red warning sends: the department, both supervisors and leadership, once each. */
const EVERY_PARTY_ONCE = {
  '+8613900000110': 1,
  '+8613900000201': 1,
  '+8613900000301': 1,
  'director@lead.test': 1,
  'duty@hrss.test': 1,
  'monitor@sup.test': 1,
  'office@sup.test': 1,
};

test('red reaches the department, each supervisor and leadership, once each', async (t) => {
  const h = await startHarness(t, { now: '2026-11-04T10:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());
  const req = redRequest(caseNumber);

  const first = await h.notifyStaff(req);
  const racing = await Promise.all([h.notifyStaff(req), h.notifyStaff(req)]);

  t.deepEqual(sorted(inboxes(h)), EVERY_PARTY_ONCE);
  t.is(first.notifications.filter((n) => n.sentNow).length, 7);
  t.true(racing.every((r) => r.notifications.every((n) => !n.sentNow)));
  t.like(h.gateway.stats, { sent: 3, duplicates: 0 });
  t.is(h.smtp.duplicates(), 0);

  const rows = await h.db('notifications').where({ case_number: caseNumber });
  t.deepEqual([...new Set(rows.map((r) => r.recipient_party as string))].sort(), [
    'department:hrss',
    'leadership:director',
    'supervisor:monitor',
    'supervisor:supervision-office',
  ]);
  t.true(rows.every((r) => r.attempts === 1 && r.step === 'red'));
});

test('the department and a supervisor sharing one mailbox are two notifications', async (t) => {
  const shared = { ...HRSS, email: OFFICE.email };
  const contacts = { ...CONTACTS, departments: { hrss: shared }, supervisors: [OFFICE] };
  const h = await startHarness(t, { contacts, now: '2026-10-19T10:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());

  await h.notifyStaff({ ...redRequest(caseNumber), step: 'yellow', dueAt: endOf('2026-10-16') });

  const toOffice = h.smtp.received.filter((m) => m.to.includes(OFFICE.email));
  t.is(toOffice.length, 2);
  t.not(toOffice[0].messageId, toOffice[1].messageId);
  const bodies = toOffice.map((m) => m.parsed!.text!);
  t.true(bodies.some((b) => b.startsWith('人社局值班室：') && b.includes('请尽快办结')));
  t.true(bodies.some((b) => b.startsWith('督查科：') && b.includes('请督促办理')));
});

test('a retry after the gateway was down sends only what was missing', async (t) => {
  const h = await startHarness(t, { now: '2026-11-04T10:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());
  h.gateway.failNext(1);

  const err = await t.throwsAsync(h.notifyStaff(redRequest(caseNumber)));
  t.like(err, { type: 'notification_unavailable', nonRetryable: false });
  t.is(h.gateway.messages.length, 2);
  t.is(h.smtp.received.length, 4);

  await h.notifyStaff(redRequest(caseNumber));
  t.is(h.gateway.messages.length, 3);
  t.is(h.smtp.received.length, 4);
  t.like(h.gateway.stats, { sent: 3, unavailable: 1, duplicates: 0 });
  const pending = await h.db('notifications').where({ case_number: caseNumber, status: 'pending' });
  t.is(pending.length, 0);
});

test('a worker that dies after the gateway took a staff SMS still sends it once', async (t) => {
  const worker = dyingAfterFirstSms();
  const h = await startHarness(t, { now: '2026-11-04T10:00:00+08:00', wrapSms: worker.wrap });
  worker.db = h.db;
  const caseNumber = await h.submit(buildCompany());

  await t.throwsAsync(h.notifyStaff(redRequest(caseNumber)), { message: /not sent yet/ });
  t.is(worker.killed, 1);
  await h.gateway.settled();
  await h.notifyStaff(redRequest(caseNumber));

  t.like(h.gateway.stats, { sent: 3, duplicates: 1 });
  t.deepEqual(sorted(inboxes(h)), EVERY_PARTY_ONCE);
  const pending = await h.db('notifications').where({ case_number: caseNumber, status: 'pending' });
  t.is(pending.length, 0);
});

test('the department is told its task, its due date and the working days it is late', async (t) => {
  // Yellow: promised end of 10-16 (Fri); on 10-22 the 19th to the 22nd are 4 working days late.
  const h = await startHarness(t, { now: '2026-10-22T10:00:00+08:00' });
  const applicant = buildPerson({ email: 'lilei@example.com' });
  const caseNumber = await h.submit(applicant);

  await h.notifyStaff({ ...redRequest(caseNumber), step: 'yellow', dueAt: endOf('2026-10-16') });

  const [sms] = h.gateway.messages.filter((m) => m.to === '+8613900000110');
  t.is(
    sms.text,
    `【深圳市行政服务大厅】黄牌预警：深圳市人力资源和社会保障局办理的办件${caseNumber}` +
      '（劳务派遣经营许可）已超过承诺办结时间2026年10月16日，超期4个工作日，请尽快办结。',
  );
  t.is(sms.segments, segmentsOf(sms.text));
  t.true(sms.segments <= 2);
  const [row] = await h
    .db('notifications')
    .where({ case_number: caseNumber, channel: 'sms', recipient_party: 'department:hrss' });
  t.is(row.segments, sms.segments);

  const mail = h.smtp.received.find((m) => m.to.includes(HRSS.email))!.parsed!;
  t.is(mail.subject, `黄牌预警：办件 ${caseNumber}（劳务派遣经营许可）已超过承诺办结时间`);
  for (const line of [
    '办理环节：劳务派遣经营许可审查',
    '承诺办结时间：2026年10月16日',
    '已超期：4个工作日',
  ]) {
    t.true(mail.text!.includes(line), line);
  }
  // Nothing of the applicant: staff look the case up in the register.
  const texts = [
    ...h.gateway.messages.map((m) => m.text),
    ...h.smtp.received.map((m) => `${m.parsed!.subject}\n${m.parsed!.text}`),
  ];
  for (const text of texts) {
    for (const secret of [applicant.name, '李*', applicant.idNumber, applicant.phone]) {
      t.false(text.includes(secret), `${secret} in: ${text}`);
    }
  }
});

test('a reminder counts the working days left before the promised date', async (t) => {
  // On Thu 10-15 the promised date is end of Fri 10-16: one working day after today.
  const h = await startHarness(t, { now: '2026-10-15T09:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());

  const result = await h.notifyStaff({
    ...redRequest(caseNumber),
    step: 'reminder',
    dueAt: endOf('2026-10-16'),
  });

  t.deepEqual(result.notifications.map((n) => n.party).sort(), [
    'department:hrss',
    'department:hrss',
  ]);
  const [sms] = h.gateway.messages;
  t.true(sms.text.includes('承诺办结时间为2026年10月16日，尚余1个工作日，请抓紧办理。'));
  t.is(h.smtp.received.length, 1);
});

test('an urging reaches the department only; its escalation reaches leadership only', async (t) => {
  const h = await startHarness(t, { now: '2026-10-20T10:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());
  const urging = {
    ...redRequest(caseNumber),
    dueAt: endOf('2026-10-16'),
    replyBy: '2026-10-21T09:00:00.000Z',
    message: '请说明超期原因并于明日办结',
  };

  await h.notifyStaff({ ...urging, step: 'urged', eventKey: `${caseNumber}/${ITEM}#5` });
  t.deepEqual(sorted(inboxes(h)), { '+8613900000110': 1, 'duty@hrss.test': 1 });
  const urged = h.smtp.received[0].parsed!.text!;
  t.true(urged.includes('请于2026年10月21日 17:00前办理'));
  t.true(urged.includes('督办意见：请说明超期原因并于明日办结'));
  t.false(h.gateway.messages[0].text.includes('请说明超期原因'));

  await h.notifyStaff({ ...urging, step: 'urgingEscalated', eventKey: `${caseNumber}/${ITEM}#6` });
  t.deepEqual(sorted(inboxes(h)), {
    '+8613900000110': 1,
    '+8613900000301': 1,
    'director@lead.test': 1,
    'duty@hrss.test': 1,
  });
  const escalated = h.gateway.messages.find((m) => m.to === '+8613900000301')!;
  t.true(escalated.text.includes('深圳市人力资源和社会保障局未在2026年10月21日 17:00前回复'));
});

test('a department with no contact is recorded unaddressed, listed for supervisors', async (t) => {
  const contacts = { departments: {}, supervisors: [], leadership: [DIRECTOR] };
  const h = await startHarness(t, { contacts, now: '2026-11-04T10:00:00+08:00' });
  const caseNumber = await h.submit(buildCompany());

  const result = await h.notifyStaff(redRequest(caseNumber));
  const again = await h.notifyStaff(redRequest(caseNumber));

  t.deepEqual(result.unaddressed, [
    { party: 'department:hrss', channel: 'email', reason: 'noContact' },
    { party: 'supervisor:none', channel: 'email', reason: 'noContact' },
  ]);
  t.deepEqual(again.unaddressed, result.unaddressed);
  t.deepEqual(sorted(inboxes(h)), { '+8613900000301': 1, 'director@lead.test': 1 });
  const listed = await h.call(
    `/notifications?status=failed&caseNumber=${caseNumber}`,
    'dev-supervisor',
  );
  t.is(listed.status, 200);
  t.is(listed.body.total, 2);
  const parties = listed.body.notifications.map(
    (n: { recipientParty: string }) => n.recipientParty,
  );
  t.deepEqual(parties.sort(), ['department:hrss', 'supervisor:none']);
  for (const n of listed.body.notifications) {
    t.like(n, { status: 'failed', step: 'red', recipient: '', attempts: 0 });
    t.regex(n.lastError, /^unaddressed: no contact for /);
  }
});

test('a contact reachable only by SMS in a hall without SMS is recorded unaddressed', async (t) => {
  const contacts = {
    departments: { hrss: { name: '值班室', mobile: '13900000110' } },
    supervisors: [],
    leadership: [],
  };
  const h = await startHarness(t, { contacts, sms: false });
  const caseNumber = await h.submit(buildCompany());

  const result = await h.notifyStaff({ ...redRequest(caseNumber), step: 'urged' });

  t.deepEqual(result.unaddressed, [
    { party: 'department:hrss', channel: 'sms', reason: 'channelOff' },
  ]);
  const [row] = await h.db('notifications').where({ case_number: caseNumber });
  t.like(row, { status: 'failed', recipient: '+8613900000110', channel: 'sms' });
  t.is(
    row.client_reference,
    notificationReferenceOf(
      caseNumber,
      `${caseNumber}/${ITEM}#9`,
      'sms',
      '+8613900000110',
      'department:hrss',
    ),
  );
});

test('the shipped hall.json names a duty contact for every department of the catalog', (t) => {
  const hall = JSON.parse(readFileSync(path.join(DATA, 'hall.json'), 'utf8'));
  const contacts = parseStaffContacts(hall.staffContacts);
  for (const code of catalog.departments.keys()) {
    const duty = contacts.departments[code];
    t.truthy(duty?.email ?? duty?.mobile, code);
  }
  t.true(contacts.supervisors.length > 0);
  t.true(contacts.leadership.length > 0);
});

test('malformed staff contacts are refused at start-up with every problem at once', (t) => {
  const err = t.throws(
    () =>
      parseStaffContacts({
        departments: { hrss: { name: '值班室', email: 'not-an-address', mobile: '12345' } },
        supervisors: [
          { id: 'a', name: '甲' },
          { id: 'a', name: '乙' },
        ],
      }),
    { instanceOf: StaffContactsInvalidError },
  );
  t.deepEqual(err.problems.length, 2);
  t.regex(err.message, /staffContacts\.departments\.hrss\.email/);
  t.regex(err.message, /staffContacts\.departments\.hrss\.mobile/);
  const dup = t.throws(() =>
    parseStaffContacts({
      supervisors: [
        { id: 'a', name: '甲' },
        { id: 'a', name: '乙' },
      ],
    }),
  );
  t.regex(dup.message, /supervisors: a appears twice/);
});

test('the staff contacts migration goes down and up again', async (t) => {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const name = '20261203000060_staff_contacts.ts';

  await db.migrate.down({ ...migrationConfig, name });
  t.false(await db.schema.hasColumn('notifications', 'recipient_party'));
  await migrateLatest(db);
  t.true(await db.schema.hasColumn('notifications', 'recipient_party'));
});

// ---------------------------------------------------------------------------------------------
// A whole hall on the dev server, its worker sending to the emulators with the shipped contacts.

const shipped = parseStaffContacts(
  JSON.parse(readFileSync(path.join(DATA, 'hall.json'), 'utf8')).staffContacts,
);
const e164 = (mobile: string) => `+86${mobile}`;

async function hallWithEmulators(t: ExecutionContext) {
  const smtp = await startSmtp(t);
  const gateway = await startGateway(t, { secret: DEV_SMS_API_SECRET, deliveryDelayMs: 10 });
  const hall = await startTestHall(t, { SMTP_URL: smtp.url, SMS_GATEWAY_URL: gateway.url });
  return { hall, smtp, gateway };
}

/** Every address of the parties, each with how many messages it should have received. */
function expected(parties: { email?: string; mobile?: string }[], times: number[]) {
  const out: Record<string, number> = {};
  parties.forEach((p, i) => {
    if (p.email) out[p.email] = (out[p.email] ?? 0) + times[i];
    if (p.mobile) out[e164(p.mobile)] = (out[e164(p.mobile)] ?? 0) + times[i];
  });
  return Object.fromEntries(Object.entries(out).sort());
}

test('a late task warns reminder, yellow, red to each party once, retry included', async (t) => {
  const { hall, smtp, gateway } = await hallWithEmulators(t);
  // The first staff SMS fails once: the activity is retried by Temporal (10 s later).
  gateway.failNext(1);
  const created = await hall.call('POST', '/cases', 'dev-clerk-hrss', {
    item: ITEM,
    applicant: buildCompany(),
    channels: [],
    materials: ['application-form', 'business-licence'],
    receivedAt: '2026-09-28T10:00:00+08:00',
  });
  t.is(created.status, 201);
  const caseNumber: string = created.body.case.caseNumber;
  await hall.call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-hrss', { decision: 'accept' });

  // reminder → department; yellow → + supervisors; red → + leadership.
  const parties = [shipped.departments.hrss, ...shipped.supervisors, ...shipped.leadership];
  const times = [3, ...shipped.supervisors.map(() => 2), ...shipped.leadership.map(() => 1)];
  const want = expected(parties, times);
  const total = Object.values(want).reduce((a, b) => a + b, 0);
  const db = hall.runtime.db;
  await eventually(
    () => db('notifications').where({ case_number: caseNumber }).whereNot({ status: 'pending' }),
    (rows) => rows.length === total,
    60_000,
  );

  t.deepEqual(sorted(inboxes({ smtp, gateway })), want);
  t.is(smtp.duplicates(), 0);
  t.like(gateway.stats, { unavailable: 1, duplicates: 0 });
  const steps = smtp.received
    .filter((m) => m.to.includes(shipped.departments.hrss.email!))
    .map((m) => m.parsed!.subject!.slice(0, 4));
  t.deepEqual(steps, ['临近办结', '黄牌预警', '红牌超时']);
  const rows = await db('notifications').where({ case_number: caseNumber });
  t.true(rows.every((r) => r.recipient_party !== 'applicant'));
  t.is(rows.filter((r) => r.attempts > 1).length, 1);
});

test('an urging reaches the department, and a missed reply reaches leadership', async (t) => {
  const { hall, smtp, gateway } = await hallWithEmulators(t);
  const created = await hall.call('POST', '/cases', 'dev-clerk-hrss', {
    item: ITEM,
    applicant: buildCompany(),
    channels: [],
    materials: ['application-form', 'business-licence'],
  });
  const caseNumber: string = created.body.case.caseNumber;
  await hall.call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-hrss', { decision: 'accept' });
  await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.tasks?.[0]?.status === 'open',
  );
  const replyBy = new Date(Date.now() + 4000).toISOString();
  const urged = await hall.call(
    'POST',
    `/cases/${caseNumber}/tasks/${ITEM}/urgings`,
    'dev-supervisor',
    { message: '请加快审查进度', replyBy },
  );
  t.is(urged.status, 201);

  const db = hall.runtime.db;
  const sent = (step: string) =>
    db('notifications').where({ case_number: caseNumber, step }).whereNot({ status: 'pending' });
  const duty = shipped.departments.hrss;
  const toDepartment = expected([duty], [1]);
  await eventually(
    () => sent('urged'),
    (rows) => rows.length === Object.keys(toDepartment).length,
  );
  t.deepEqual(sorted(inboxes({ smtp, gateway })), toDepartment);

  const toLeadership = expected(
    shipped.leadership,
    shipped.leadership.map(() => 1),
  );
  await eventually(
    () => sent('urgingEscalated'),
    (rows) => rows.length === Object.keys(toLeadership).length,
  );
  t.deepEqual(sorted(inboxes({ smtp, gateway })), { ...toDepartment, ...toLeadership });
  const escalations = smtp.received.filter((m) => m.parsed!.subject!.startsWith('督办逾期未复'));
  t.deepEqual(
    escalations.flatMap((m) => m.to),
    shipped.leadership.filter((l) => l.email).map((l) => l.email),
  );
});

// ---------------------------------------------------------------------------------------------
// Histories recorded on the workflow code before staff were told (v1; recorded with the
// time-skipping server): the notifications added to the warning and urging callbacks are
// behind patched(), so cases already running replay.

test('a task warned, urged and escalated on v1 replays with staff notices in', async (t) => {
  const history = readHistoryFile('task-warned-urged-v1.json');
  const bundle = await workflowBundle();
  await t.notThrowsAsync(
    Worker.runReplayHistory({ workflowBundle: bundle }, history, 'task-warned-urged'),
  );
});

test('a joint case warned on its own clock on v1 replays with staff notices in', async (t) => {
  const history = readHistoryFile('case-joint-warned-v1.json');
  const bundle = await workflowBundle();
  await t.notThrowsAsync(
    Worker.runReplayHistory({ workflowBundle: bundle }, history, 'case-joint-warned'),
  );
});
