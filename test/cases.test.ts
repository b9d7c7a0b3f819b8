import test from 'ava';
import { buildApplication, buildCompany, buildPerson } from './support/builders';
import { acceptedCase, receiptOf } from './support/cases';
import { eventually, startTestHall } from './support/hall';

const CLERK = 'dev-clerk-market';
const OFFICER = 'dev-officer-market';

test('a promised case goes through acceptance and approval to collection', async (t) => {
  const hall = await startTestHall(t);
  const created = await hall.call('POST', '/cases', CLERK, buildApplication());
  t.is(created.status, 201);
  const caseNumber: string = created.body.case.caseNumber;
  t.regex(caseNumber, new RegExp(`^${hall.config.CASE_NUMBER_PREFIX}-\\d{8}-\\d{5}$`));

  const accepted = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  t.is(accepted.status, 200);
  t.is(accepted.body.case.status, 'accepted');

  const concluded = await hall.call('POST', `/cases/${caseNumber}/conclusion`, OFFICER, {
    decision: 'approve',
  });
  t.is(concluded.status, 200);
  t.is(concluded.body.task.outcome, 'approved');

  await eventually(
    () => hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor'),
    (r) => r.body.case.status === 'concluded',
  );
  const collected = await hall.call('POST', `/cases/${caseNumber}/collection`, CLERK);
  t.is(collected.body.case.status, 'collected');

  const detail = await hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor');
  t.is(detail.body.case.outcome, 'approved');
  t.true(detail.body.confirmed);
  t.deepEqual(
    detail.body.timeline.map((e: { action: string }) => e.action),
    [
      'submitted',
      'accepted',
      'tasksPlanned',
      'taskOpened',
      'taskConcluded',
      'concluded',
      'collected',
    ],
  );
  t.is(detail.body.tasks.length, 1);
  t.like(detail.body.tasks[0], {
    department: 'market',
    status: 'concluded',
    decision: 'approve',
    officer: 'officer-market',
  });
  const docs = await hall.runtime.db('documents').where({ case_number: caseNumber }).orderBy('id');
  t.deepEqual(
    docs.map((d) => d.kind),
    ['receipt', 'approvalNotice'],
  );
});

test('an unknown item is refused with 422 naming it, and leaves no case behind', async (t) => {
  const hall = await startTestHall(t);
  const res = await hall.call(
    'POST',
    '/cases',
    'dev-clerk',
    buildApplication({ item: 'no-such-item' }),
  );
  t.is(res.status, 422);
  t.is(res.body.error.code, 'unknown_item');
  t.regex(res.body.error.message, /no-such-item/);
  const [{ n }] = await hall.runtime.db('cases').count({ n: '*' });
  t.is(Number(n), 0);
});

test('missing and malformed fields are listed all at once', async (t) => {
  const hall = await startTestHall(t);
  const res = await hall.call('POST', '/cases', CLERK, {
    applicant: { type: 'person', name: '', idNumber: '1' },
    materials: 'application-form',
  });
  t.is(res.status, 422);
  t.is(res.body.error.code, 'validation_failed');
  const paths = res.body.error.problems.map((p: { path: string }) => p.path).sort();
  t.deepEqual(paths, ['body.applicant.name', 'body.item', 'body.materials']);
});

test('an identity number with a wrong check digit is refused with 422', async (t) => {
  const hall = await startTestHall(t);
  const person = buildPerson({ idNumber: '440304199809147581' });
  const res = await hall.call('POST', '/cases', 'dev-clerk', {
    item: 'exit-entry-ordinary-passport',
    applicant: person,
    materials: [],
  });
  t.is(res.status, 422);
  t.is(res.body.error.code, 'invalid_identity_number');
  t.is(res.body.error.problems[0].path, 'body.applicant.idNumber');
});

test('a credit code with a wrong check character is refused with 422', async (t) => {
  const hall = await startTestHall(t);
  const res = await hall.call(
    'POST',
    '/cases',
    CLERK,
    buildApplication({ applicant: buildCompany({ creditCode: '91440300MA5000022R' }) }),
  );
  t.is(res.status, 422);
  t.is(res.body.error.code, 'invalid_credit_code');
});

test('a second intake decision is refused with 409 and changes nothing', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await acceptedCase(hall, CLERK, buildApplication());
  const again = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'refuseToAccept',
    reasonCode: 'other',
    reasons: '重复',
  });
  t.is(again.status, 409);
  t.is(again.body.error.code, 'already_decided');
  const detail = await hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor');
  t.is(detail.body.case.status, 'accepted');
  t.false(detail.body.timeline.some((e: { action: string }) => e.action === 'refusedToAccept'));
});

test('a conclusion by another department is refused with 403', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await acceptedCase(hall, CLERK, buildApplication());
  const res = await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-health', {
    decision: 'approve',
  });
  t.is(res.status, 403);
  t.is(res.body.error.code, 'wrong_department');
});

test('the same conclusion sent twice is one decision', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await acceptedCase(hall, CLERK, buildApplication());
  const deny = { decision: 'deny', reasons: '经营场所不符合食品安全要求' };
  const [first, second] = await Promise.all([
    hall.call('POST', `/cases/${caseNumber}/conclusion`, OFFICER, deny),
    hall.call('POST', `/cases/${caseNumber}/conclusion`, OFFICER, deny),
  ]);
  t.is(first.status, 200);
  t.is(second.status, 200);
  t.deepEqual(first.body.task, second.body.task);
  const conclusions = await hall.runtime
    .db('audit_trail')
    .where({ case_number: caseNumber, action: 'taskConcluded' });
  t.is(conclusions.length, 1);
  const opposite = await hall.call('POST', `/cases/${caseNumber}/conclusion`, OFFICER, {
    decision: 'approve',
  });
  t.true([409].includes(opposite.status));
});

test('a correction names only the item’s materials; a supplement reopens intake', async (t) => {
  const hall = await startTestHall(t);
  const { body } = await hall.call(
    'POST',
    '/cases',
    CLERK,
    buildApplication({ materials: ['application-form'] }),
  );
  const caseNumber = body.case.caseNumber;
  const wrong = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'requestCorrection',
    missing: ['passport-photo'],
  });
  t.is(wrong.status, 422);
  t.is(wrong.body.error.code, 'unknown_material');
  const asked = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'requestCorrection',
    missing: ['business-licence-copy', 'food-safety-rules'],
  });
  t.is(asked.body.case.status, 'correctionRequested');
  t.deepEqual(asked.body.case.missing, ['business-licence-copy', 'food-safety-rules']);
  const early = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  t.is(early.status, 409);
  const supplied = await hall.call('POST', `/cases/${caseNumber}/supplement`, CLERK, {
    materials: ['business-licence-copy', 'food-safety-rules'],
  });
  t.is(supplied.body.case.status, 'submitted');
  const accepted = await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  t.is(accepted.body.case.status, 'accepted');
});

test('refusing another organ’s matter names that organ and closes the case', async (t) => {
  const hall = await startTestHall(t);
  const { body } = await hall.call('POST', '/cases', 'dev-clerk-water', {
    item: 'water-drainage-permit',
    applicant: buildCompany(),
    materials: [],
  });
  const caseNumber = body.case.caseNumber;
  const noOrgan = await hall.call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-water', {
    decision: 'refuseToAccept',
    reasonCode: 'wrongOrgan',
    reasons: '不属于本机关职权范围',
  });
  t.is(noOrgan.status, 422);
  const refused = await hall.call('POST', `/cases/${caseNumber}/intake`, 'dev-clerk-water', {
    decision: 'refuseToAccept',
    reasonCode: 'wrongOrgan',
    reasons: '港区船舶污染物接收作业不属于本机关职权范围',
    competentOrgan: '深圳海事局',
  });
  t.is(refused.body.case.status, 'refusedToAccept');
  const detail = await hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor');
  t.like(detail.body.case, { outcome: 'refusedToAccept', competentOrgan: '深圳海事局' });
  t.truthy(detail.body.case.closedAt);
});

test('a clerk cannot submit another department’s item; no token is 401', async (t) => {
  const hall = await startTestHall(t);
  const other = await hall.call('POST', '/cases', 'dev-clerk-health', buildApplication());
  t.is(other.status, 403);
  const anonymous = await fetch(`${hall.url}/cases`);
  t.is(anonymous.status, 401);
  const officer = await hall.call('POST', '/cases', OFFICER, buildApplication());
  t.is(officer.status, 403);
  t.is(officer.body.error.code, 'forbidden');
});

test('concurrent submissions get their own numbers in one unbroken daily sequence', async (t) => {
  const hall = await startTestHall(t);
  const results = await Promise.all(
    Array.from({ length: 12 }, () => hall.call('POST', '/cases', CLERK, buildApplication())),
  );
  t.true(results.every((r) => r.status === 201));
  const numbers = results.map((r) => r.body.case.caseNumber as string);
  t.is(new Set(numbers).size, 12);
  const sequences = numbers.map((n) => Number(n.split('-').at(-1))).sort((a, b) => a - b);
  t.deepEqual(sequences, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

test('the case list filters by status, item and department, pages, and scopes staff', async (t) => {
  const hall = await startTestHall(t);
  const food = await hall.call('POST', '/cases', CLERK, buildApplication());
  await hall.call('POST', `/cases/${food.body.case.caseNumber}/intake`, CLERK, {
    decision: 'accept',
  });
  await hall.call('POST', '/cases', CLERK, buildApplication());
  await hall.call('POST', '/cases', 'dev-clerk-water', {
    item: 'water-drainage-permit',
    applicant: buildCompany(),
    materials: [],
  });

  const accepted = await hall.call('GET', '/cases?status=accepted', 'dev-supervisor');
  t.deepEqual(
    accepted.body.cases.map((c: { caseNumber: string }) => c.caseNumber),
    [food.body.case.caseNumber],
  );
  const water = await hall.call('GET', '/cases?item=water-drainage-permit', 'dev-supervisor');
  t.is(water.body.total, 1);
  const paged = await hall.call('GET', '/cases?pageSize=2&page=2', 'dev-supervisor');
  t.is(paged.body.total, 3);
  t.is(paged.body.cases.length, 1);
  // A market officer asking for water's cases still sees only market's.
  const scoped = await hall.call('GET', '/cases?department=water', OFFICER);
  t.is(scoped.body.total, 2);
  t.true(scoped.body.cases.every((c: { department: string }) => c.department === 'market'));
  const other = await hall.call('GET', `/cases/${food.body.case.caseNumber}`, 'dev-officer-water');
  t.is(other.status, 403);
});

test('the API describes itself in OpenAPI 3.1 from the schemas that validate it', async (t) => {
  const hall = await startTestHall(t);
  const res = await fetch(`${hall.url}/openapi.json`);
  const doc = (await res.json()) as any;
  t.is(doc.openapi, '3.1.0');
  const submit = doc.paths['/cases'].post;
  t.deepEqual(submit['x-roles'], ['clerk']);
  const body = submit.requestBody.content['application/json'].schema;
  t.true(body.required.includes('item'));
  t.truthy(submit.responses['422']);
  t.truthy(doc.paths['/cases/{caseNumber}/intake'].post);
  const docs = await fetch(`${hall.url}/docs`);
  t.is(docs.status, 200);
  t.regex(await docs.text(), /POST \/cases\/\{caseNumber\}\/conclusion/);
});

test('a department’s cases are listed by Temporal visibility with Department', async (t) => {
  const hall = await startTestHall(t);
  const { body } = await hall.call('POST', '/cases', CLERK, buildApplication());
  const caseNumber: string = body.case.caseNumber;
  // Visibility is eventually consistent: the query finds the case within a few seconds.
  const found = await eventually(
    async () => {
      const ids: string[] = [];
      const query = `Department = 'market' AND CaseNumber = '${caseNumber}'`;
      for await (const w of hall.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids;
    },
    (ids) => ids.length === 1,
  );
  t.deepEqual(found, [caseNumber]);
});

test('a lookup with the receipt’s code shows the case and nothing personal', async (t) => {
  const hall = await startTestHall(t);
  const caseNumber = await acceptedCase(hall, CLERK, buildApplication());
  const receipt = await receiptOf(hall, caseNumber);
  const res = await fetch(
    `${hall.url}/portal/cases/${caseNumber}?code=${receipt.verification_code}`,
  );
  t.is(res.status, 200);
  const text = await res.text();
  const found = JSON.parse(text);
  t.like(found, { caseNumber, status: 'accepted', item: 'market-food-business-licence' });
  for (const personal of [
    '深圳市测试餐饮有限公司',
    '91440300MA5000022Q',
    '440303196905095564',
    '13800000002',
  ]) {
    t.false(text.includes(personal), personal);
  }
  const wrong = await fetch(`${hall.url}/portal/cases/${caseNumber}?code=AAAAAAAA`);
  t.is(wrong.status, 404);
  const unknown = await fetch(
    `${hall.url}/portal/cases/NOPE-20261203-00001?code=${receipt.verification_code}`,
  );
  t.is(unknown.status, 404);
});
