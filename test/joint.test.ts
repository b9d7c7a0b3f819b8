/**
 * Joint cases through the API (一门受理、抄告相关): one counter accepts, the related departments
 * get their tasks at once — by webhook where they run their own system — and the results join.
 */
import test from 'ava';
import { startDepartmentSystem } from '../emulators/departmentSystem';
import { buildCompany } from './support/builders';
import { acceptedCase, jointConstruction } from './support/cases';
import { startSmtp } from './support/emulators';
import { eventually, startTestHall, type TestHall } from './support/hall';

const RESTAURANT = {
  item: 'joint-open-restaurant',
  applicant: buildCompany(),
  materials: ['joint-application-form', 'investor-ids', 'premises-document'],
};
const CLERK = 'dev-clerk-market';

/** The tasks as the case workflow holds them (the register follows a moment later). */
async function taskStatuses(hall: TestHall, caseNumber: string): Promise<Record<string, string>> {
  const detail = await hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor');
  return Object.fromEntries(
    detail.body.live.tasks.map((t: { code: string; status: string }) => [t.code, t.status]),
  );
}

test('a restaurant opens dependent tasks after registration, each by its channel', async (t) => {
  const fireSystem = await startDepartmentSystem();
  t.teardown(() => fireSystem.close());
  const hall = await startTestHall(t, {
    DEPARTMENT_ENDPOINTS: JSON.stringify({ fire: fireSystem.url }),
  });
  const created = await hall.call('POST', '/cases', CLERK, RESTAURANT);
  const caseNumber: string = created.body.case.caseNumber;
  const accepted = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  t.is(accepted.body.case.status, 'accepted');
  // Right after acceptance: registration open, the four that depend on it still waiting.
  t.deepEqual(await taskStatuses(hall, caseNumber), {
    'market-enterprise-registration': 'open',
    'market-food-business-licence': 'waiting',
    'fire-public-assembly-check-commitment': 'waiting',
    'water-drainage-permit': 'waiting',
    'urban-shop-sign-filing': 'waiting',
  });

  // Fire's own system is down for its first three tries: the others must not wait for it.
  fireSystem.failNext(3);
  await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-market', {
    task: 'market-enterprise-registration',
    decision: 'approve',
  });
  const opened = await eventually(
    () => taskStatuses(hall, caseNumber),
    (s) =>
      s['urban-shop-sign-filing'] === 'open' &&
      s['fire-public-assembly-check-commitment'] === 'open',
  );
  t.is(opened['water-drainage-permit'], 'open');
  t.is(opened['market-food-business-licence'], 'open');
  const inbox = await eventually(
    () => hall.call('GET', '/inbox', 'dev-officer-urban'),
    (r) => r.body.tasks.length > 0,
  );
  t.deepEqual(
    inbox.body.tasks.map((x: { caseNumber: string; task: string }) => [x.caseNumber, x.task]),
    [[caseNumber, 'urban-shop-sign-filing']],
  );
  const urban = await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-urban', {
    decision: 'approve',
  });
  t.is(urban.status, 200);

  const undelivered = await hall.call(
    'GET',
    '/supervision/cases?undelivered=true',
    'dev-supervisor',
  );
  t.true(
    undelivered.body.tasks.some(
      (x: { task: string }) => x.task === 'fire-public-assembly-check-commitment',
    ),
  );
  // With backoff (2 s, 4 s, 8 s) the fourth try goes through.
  await eventually(
    async () => fireSystem.received.length,
    (n) => n >= 1,
    40_000,
  );
  t.like(fireSystem.received[0], {
    kind: 'taskAssigned',
    caseNumber,
    taskCode: 'fire-public-assembly-check-commitment',
    department: 'fire',
  });
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) =>
      r.body.tasks.find(
        (x: { taskCode: string }) => x.taskCode === 'fire-public-assembly-check-commitment',
      )?.deliveryChannel === 'webhook',
  );
  // Water has no system of its own: its officers read the hall inbox.
  const waterRow = detail.body.tasks.find(
    (x: { taskCode: string }) => x.taskCode === 'water-drainage-permit',
  );
  t.is(waterRow.deliveryChannel, 'inbox');

  for (const [department, task] of [
    ['market', 'market-food-business-licence'],
    ['fire', 'fire-public-assembly-check-commitment'],
    ['water', 'water-drainage-permit'],
  ]) {
    const res = await hall.call(
      'POST',
      `/cases/${caseNumber}/conclusion`,
      `dev-officer-${department}`,
      {
        task,
        decision: 'approve',
      },
    );
    t.is(res.status, 200, `${department} concludes`);
  }
  const done = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.case.status === 'concluded',
  );
  t.is(done.body.case.outcome, 'approved');
});

test('a related department denies: the case is denied, open tasks cancelled once', async (t) => {
  const ecologySystem = await startDepartmentSystem();
  t.teardown(() => ecologySystem.close());
  const housingSystem = await startDepartmentSystem();
  t.teardown(() => housingSystem.close());
  const hall = await startTestHall(t, {
    DEPARTMENT_ENDPOINTS: JSON.stringify({
      planning: ecologySystem.url,
      housing: housingSystem.url,
    }),
  });
  const caseNumber = await acceptedCase(hall, 'dev-clerk-planning', jointConstruction());
  const reasons = '项目选址位于饮用水水源二级保护区，环境影响报告表不予批准';
  const denied = await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-ecology', {
    decision: 'deny',
    reasons,
  });
  t.is(denied.status, 200);
  const detail = await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) =>
      r.body.case.status === 'concluded' &&
      r.body.tasks.every((x: { status: string }) => x.status !== 'open'),
  );
  t.is(detail.body.case.outcome, 'denied');
  t.regex(detail.body.case.reasons, new RegExp(reasons));
  const statuses = Object.fromEntries(
    detail.body.tasks.map((x: { taskCode: string; status: string }) => [x.taskCode, x.status]),
  );
  t.deepEqual(statuses, {
    'planning-construction-project-planning-permit': 'cancelled',
    'ecology-eia-form-approval': 'concluded',
    'housing-fire-design-review': 'cancelled',
    'civil-air-defence-basement-approval': 'cancelled',
    'water-drainage-permit': 'cancelled',
  });
  const cancellations = detail.body.timeline.filter(
    (e: { action: string }) => e.action === 'taskCancelled',
  );
  t.is(cancellations.length, 4);
  t.is(new Set(cancellations.map((e: { taskCode: string }) => e.taskCode)).size, 4);
  // Planning's own system got its assignment and one cancellation; housing's task never opened
  // (it waited for the planning permit), so housing's system heard nothing.
  await eventually(
    async () => ecologySystem.received.length,
    (n) => n >= 2,
  );
  t.deepEqual(
    ecologySystem.received.map((m) => m.kind),
    ['taskAssigned', 'taskCancelled'],
  );
  t.is(housingSystem.received.length, 0);
  const late = await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-water', {
    decision: 'approve',
  });
  t.true([409].includes(late.status));
});

const HOSPITAL = {
  item: 'joint-open-private-hospital',
  applicant: buildCompany(),
  channels: ['email'],
  materials: [
    'joint-application-form',
    'feasibility-study',
    'site-report-and-plan',
    'staff-list-and-certificates',
    'eia-form',
    'drainage-drawings',
  ],
};
const SHOP_SIGN = 'urban-shop-sign-filing';

test('a task waits for materials handed in at the lead counter, then resumes', async (t) => {
  const smtp = await startSmtp(t);
  const hall = await startTestHall(t, { SMTP_URL: smtp.url });
  const clerk = 'dev-clerk-health';
  const created = await hall.call('POST', '/cases', clerk, HOSPITAL);
  const caseNumber: string = created.body.case.caseNumber;
  const at = `/cases/${caseNumber}`;
  await hall.call('POST', `${at}/intake`, clerk, { decision: 'accept' });
  const signRow = async () => {
    const detail = await hall.call('GET', at, 'dev-supervisor');
    return detail.body.tasks.find((x: { taskCode: string }) => x.taskCode === SHOP_SIGN);
  };
  await eventually(signRow, (row) => row?.status === 'open' && row.promisedDueAt !== null);
  const ask = (token: string, task: string, body: unknown) =>
    hall.call('POST', `${at}/tasks/${task}/materialsRequest`, token, body);
  const reason = '招牌设置位置需核实，请补充全景照片';

  // Nothing was asked yet: a supplement has nothing to go to.
  const early = await hall.call('POST', `${at}/supplement`, clerk, {
    materials: ['panorama-photo'],
  });
  t.is(early.status, 409);
  t.is(early.body.error.code, 'invalid_state');
  // A code that is neither the shop sign filing's material nor the hospital's.
  const unknown = await ask('dev-officer-urban', SHOP_SIGN, {
    materials: ['panorama-photo', 'tax-certificate'],
    reason,
  });
  t.is(unknown.status, 422);
  t.is(unknown.body.error.code, 'unknown_material');
  t.regex(unknown.body.error.message, /tax-certificate/);
  const otherDepartment = await ask('dev-officer-water', SHOP_SIGN, {
    materials: ['panorama-photo'],
    reason,
  });
  t.is(otherDepartment.status, 403);
  t.is((await signRow()).awaiting, null);

  const asked = await ask('dev-officer-urban', SHOP_SIGN, {
    materials: ['panorama-photo', 'feasibility-study'],
    reason,
  });
  t.is(asked.status, 201);
  t.deepEqual(asked.body.task.materialsRequest.outstanding, [
    'panorama-photo',
    'feasibility-study',
  ]);
  const again = await ask('dev-officer-urban', SHOP_SIGN, {
    materials: ['close-up-photo'],
    reason,
  });
  t.is(again.status, 409);
  t.is(again.body.error.code, 'invalid_state');

  // Supervisors see who holds the task up: the applicant.
  const waiting = await eventually(signRow, (row) => row.awaiting === 'applicant');
  t.is(waiting.status, 'open');
  const live = (await hall.call('GET', at, 'dev-supervisor')).body.live;
  t.like(
    live.tasks.find((x: { code: string }) => x.code === SHOP_SIGN),
    { awaiting: 'applicant', requestedMaterials: ['panorama-photo', 'feasibility-study'] },
  );
  const mail = await eventually(
    async () => smtp.received.find((m) => m.parsed?.subject?.startsWith('需补充材料')),
    (m) => m !== undefined,
  );
  t.regex(mail!.parsed!.text ?? '', /全景照片/);
  t.regex(mail!.parsed!.text ?? '', new RegExp(reason));

  // A material the department did not ask for is refused, and nothing changes.
  const notAsked = await hall.call('POST', `${at}/supplement`, clerk, {
    materials: ['close-up-photo'],
  });
  t.is(notAsked.status, 422);
  t.is(notAsked.body.error.code, 'unknown_material');
  const partly = await hall.call('POST', `${at}/supplement`, clerk, {
    materials: ['panorama-photo'],
  });
  t.is(partly.status, 200);
  t.like(
    partly.body.case.tasks.find((x: { code: string }) => x.code === SHOP_SIGN),
    { awaiting: 'applicant', requestedMaterials: ['feasibility-study'] },
  );
  const rest = await hall.call('POST', `${at}/supplement`, clerk, {
    task: SHOP_SIGN,
    materials: ['feasibility-study'],
  });
  t.is(rest.status, 200);

  const resumed = await eventually(signRow, (row) => row.awaiting === null);
  t.truthy(resumed.promisedDueAt);
  const timeline = (await hall.call('GET', at, 'dev-supervisor')).body.timeline as {
    action: string;
    taskCode: string | null;
    stream: string;
  }[];
  t.deepEqual(
    timeline
      .filter((e) => ['materialsRequested', 'supplemented', 'resumed'].includes(e.action))
      .map((e) => [e.action, e.taskCode, e.stream === caseNumber ? 'case' : 'task']),
    [
      ['materialsRequested', SHOP_SIGN, 'task'],
      ['supplemented', SHOP_SIGN, 'case'],
      ['supplemented', SHOP_SIGN, 'case'],
      ['resumed', SHOP_SIGN, 'task'],
    ],
  );
  const late = await hall.call('POST', `${at}/supplement`, clerk, {
    materials: ['panorama-photo'],
  });
  t.is(late.status, 409);

  // A concluded task, and a cancelled one, can no longer ask.
  await hall.call('POST', `${at}/conclusion`, 'dev-officer-urban', {
    task: SHOP_SIGN,
    decision: 'approve',
  });
  await eventually(signRow, (row) => row.status === 'concluded');
  const concluded = await ask('dev-officer-urban', SHOP_SIGN, {
    materials: ['close-up-photo'],
    reason,
  });
  t.is(concluded.status, 409);
  t.is(concluded.body.error.code, 'invalid_state');
  await hall.call('POST', `${at}/withdrawal`, clerk, { reasons: '投资方另选址' });
  await eventually(
    () => hall.call('GET', at, 'dev-supervisor'),
    (r) => r.body.live?.tasks.some((x: { status: string }) => x.status === 'cancelled'),
  );
  const cancelled = await ask('dev-officer-water', 'water-drainage-permit', {
    materials: ['application-form'],
    reason,
  });
  t.is(cancelled.status, 409);
  t.is(cancelled.body.error.code, 'task_cancelled');
});
