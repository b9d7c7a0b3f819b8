/**
 * A joint case's applicant is told each department's conclusion (issue 6): a whole hall on the
 * dev server, its worker sending to the SMTP and SMS gateway emulators.
 */
import test from 'ava';
import { DEV_SMS_API_SECRET } from '../lib/notify/smsGateway';
import { buildCompany } from './support/builders';
import { startGateway, startSmtp } from './support/emulators';
import { eventually, startTestHall } from './support/hall';

const CONSTRUCTION = {
  item: 'joint-construction-parallel-approval',
  applicant: buildCompany(),
  channels: ['sms', 'email'],
  materials: [
    'joint-application-form',
    'land-use-proof',
    'design-scheme',
    'eia-form',
    'fire-design-documents',
    'shelter-design-scheme',
  ],
};
const PLANNING = 'planning-construction-project-planning-permit';
const ECOLOGY = 'ecology-eia-form-approval';
const CLERK = 'dev-clerk-planning';
// As the catalog names the departments (data/catalog.json).
const PLANNING_NAME = '深圳市规划和自然资源局';
const ECOLOGY_NAME = '深圳市生态环境局';

test('each department concluding a joint case tells the applicant once per channel', async (t) => {
  const smtp = await startSmtp(t);
  const gateway = await startGateway(t, { secret: DEV_SMS_API_SECRET, deliveryDelayMs: 10 });
  const hall = await startTestHall(t, { SMTP_URL: smtp.url, SMS_GATEWAY_URL: gateway.url });
  const created = await hall.call('POST', '/cases', CLERK, CONSTRUCTION);
  t.is(created.status, 201);
  const caseNumber: string = created.body.case.caseNumber;
  const at = `/cases/${caseNumber}`;
  await hall.call('POST', `${at}/intake`, CLERK, { decision: 'accept' });
  await eventually(
    () => hall.call('GET', at, 'dev-supervisor'),
    (r) =>
      [PLANNING, ECOLOGY].every(
        (code) =>
          r.body.tasks?.find((x: { taskCode: string }) => x.taskCode === code)?.status === 'open',
      ),
  );

  // Planning approves (and its officer sends the same conclusion twice); then ecology denies,
  // which ends the case: the three other tasks are cancelled, not concluded.
  const conclude = (department: string, body: unknown) =>
    hall.call('POST', `${at}/conclusion`, `dev-officer-${department}`, body);
  const approval = { task: PLANNING, decision: 'approve' };
  t.is((await conclude('planning', approval)).status, 200);
  t.is((await conclude('planning', approval)).status, 200);
  const denial = { task: ECOLOGY, decision: 'deny', reasons: '项目选址位于饮用水水源保护区' };
  t.is((await conclude('ecology', denial)).status, 200);

  // Wait for the case's own result to be told too: anything the tasks sent is in by then.
  const db = hall.runtime.db;
  const settled = (step: string) =>
    db('notifications').where({ case_number: caseNumber, step }).whereNot({ status: 'pending' });
  await eventually(
    () => settled('denied'),
    (rows) => rows.length === 2,
    60_000,
  );
  const rows = await settled('taskConcluded');
  t.is(rows.length, 4);

  const texts = gateway.messages
    .filter((m) => m.text.includes('环节已办结'))
    .map((m) => [m.to, m.text] as const);
  t.is(texts.length, 2);
  t.true(texts.every(([to]) => to === '+8613800000002'));
  const sms = (name: string) => texts.filter(([, text]) => text.includes(name));
  t.is(sms(PLANNING_NAME).length, 1);
  t.regex(sms(PLANNING_NAME)[0][1], /准予许可/);
  t.is(sms(ECOLOGY_NAME).length, 1);
  t.regex(sms(ECOLOGY_NAME)[0][1], /不予许可/);

  const mails = smtp.received.filter((m) => m.parsed?.subject?.startsWith('办理环节已办结'));
  t.is(mails.length, 2);
  t.true(mails.every((m) => m.to.includes('office@example.com')));
  const mail = (name: string) => mails.filter((m) => (m.parsed?.text ?? '').includes(name));
  t.is(mail(PLANNING_NAME).length, 1);
  t.regex(
    mail(PLANNING_NAME)[0].parsed!.text!,
    /核发建设工程规划许可证”环节已办结，办理结果：准予许可/,
  );
  t.is(mail(ECOLOGY_NAME).length, 1);
  t.regex(mail(ECOLOGY_NAME)[0].parsed!.text!, /办理结果：不予许可/);
});
