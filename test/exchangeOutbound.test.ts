/**
 * The hall's task messages to departments with their own system (抄告相关 through the XML
 * exchange): a joint case's task goes out as a signed taskAssigned, its end as a taskCancelled
 * (format 1.1), each valid against the schema, retried until acknowledged; a second
 * acknowledgement changes nothing; departments without a system keep the hall inbox.
 */
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createDepartmentActivities, type TaskMessage } from '../activities/departments';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { hallCaseNumberOf } from '../api/exchange/hooks';
import { REPO_ROOT } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { receiveExchange } from '../lib/exchange/receive';
import { ExchangeStore } from '../lib/exchange/store';
import { EXCHANGE_XSD_1_0_PATH, validateAgainstSchema } from '../lib/exchange/xsd';
import { buildCompany } from './support/builders';
import { acceptedCase, foodLicenceAccepted, jointConstruction } from './support/cases';
import { eventually, freshDatabase, startTestHall, type TestHall } from './support/hall';

const FIRE_TASK = 'fire-public-assembly-check-commitment';

async function assertValid(t: ExecutionContext, xml: string): Promise<void> {
  t.deepEqual(await validateAgainstSchema(xmlDocument(xml)), { valid: true }, xml.slice(0, 300));
}

async function outboundOf(hall: TestHall, caseNumber: string) {
  return hall.runtime
    .db('exchange_outbound')
    .where({ case_number: caseNumber })
    .orderBy('sequence')
    .select('message_id', 'recipient', 'type', 'xml', 'acknowledged_at', 'ack_status');
}

async function taskRow(hall: TestHall, caseNumber: string, taskCode: string) {
  const detail = await hall.call('GET', `/cases/${caseNumber}`, 'dev-supervisor');
  return detail.body.tasks.find((x: { taskCode: string }) => x.taskCode === taskCode);
}

test('fire gets its joint task as a signed taskAssigned and concludes by exchange', async (t) => {
  const fire = await startDepartmentSimulator({ department: 'fire' });
  t.teardown(() => fire.close());
  // Water has no system of its own: an endpoint named for it is not used.
  const water = await startDepartmentSimulator({ department: 'water' });
  t.teardown(() => water.close());
  const hall = await startTestHall(t, {
    DEPARTMENT_ENDPOINTS: JSON.stringify({ fire: fire.inboundUrl, water: water.inboundUrl }),
  });
  fire.connect(hall.url);
  fire.failNext(1);
  const caseNumber = await acceptedCase(hall, 'dev-clerk-market', {
    item: 'joint-open-restaurant',
    applicant: buildCompany(),
    materials: ['joint-application-form', 'investor-ids', 'premises-document'],
  });
  await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-market', {
    task: 'market-enterprise-registration',
    decision: 'approve',
  });

  // Down for the first try: the second (after 2 s of backoff) is acknowledged.
  await eventually(
    () => taskRow(hall, caseNumber, FIRE_TASK),
    (row) => row?.deliveryChannel === 'webhook',
    30_000,
  );
  const [sent] = await outboundOf(hall, caseNumber);
  t.like(sent, { recipient: 'fire', type: 'taskAssigned', ack_status: 'accepted' });
  t.truthy(sent.acknowledged_at);
  await assertValid(t, sent.xml);
  t.is(fire.received.length, 1);
  const task = fire.received[0];
  t.like(task, {
    type: 'taskAssigned',
    messageId: sent.message_id,
    department: 'hall',
    caseNumber,
    recipient: 'fire',
    taskCode: FIRE_TASK,
    itemCode: FIRE_TASK,
    role: 'related',
  });
  const opened = await taskRow(hall, caseNumber, FIRE_TASK);
  t.is(task.type === 'taskAssigned' && task.openedAt, opened.openedAt);
  t.is((await taskRow(hall, caseNumber, 'water-drainage-permit')).deliveryChannel, 'inbox');
  t.is(water.received.length, 0);

  // Fire's system also pushes its acknowledgement on its own: answered, and nothing moves.
  const ackAgain = await fire.send(fire.acknowledge(task));
  t.is(ackAgain.status, 200);
  t.regex(ackAgain.body, /<status>accepted<\/status>/);
  const [after] = await outboundOf(hall, caseNumber);
  t.deepEqual(after.acknowledged_at, sent.acknowledged_at);

  // Fire decides in its own system and tells the hall under the hall's case number.
  const concluded = await fire.send(
    fire.caseConcluded({
      caseNumber,
      taskCode: FIRE_TASK,
      decision: 'approve',
      officer: 'fire-officer-7',
      concludedAt: new Date().toISOString(),
    }),
  );
  t.is(concluded.status, 200);
  t.regex(concluded.body, /<status>accepted<\/status>/);
  const decided = await eventually(
    () => taskRow(hall, caseNumber, FIRE_TASK),
    (row) => row?.status === 'concluded',
  );
  t.like(decided, { decision: 'approve', officer: 'fire-officer-7' });
});

test('a denied joint case sends planning a taskCancelled (1.1) naming its task', async (t) => {
  const planning = await startDepartmentSimulator({ department: 'planning' });
  t.teardown(() => planning.close());
  const hall = await startTestHall(t, {
    DEPARTMENT_ENDPOINTS: JSON.stringify({ planning: planning.inboundUrl }),
  });
  const caseNumber = await acceptedCase(hall, 'dev-clerk-planning', jointConstruction());
  await eventually(
    async () => planning.received.length,
    (n) => n >= 1,
  );
  await hall.call('POST', `/cases/${caseNumber}/conclusion`, 'dev-officer-ecology', {
    decision: 'deny',
    reasons: '项目选址位于饮用水水源二级保护区',
  });

  await eventually(
    async () => planning.received.length,
    (n) => n >= 2,
  );
  t.deepEqual(
    planning.received.map((m) => m.type),
    ['taskAssigned', 'taskCancelled'],
  );
  const [assigned, cancelled] = planning.received;
  t.like(cancelled, {
    caseNumber,
    recipient: 'planning',
    taskCode: 'planning-construction-project-planning-permit',
    assignment: assigned.messageId,
  });
  const rows = await eventually(
    () => outboundOf(hall, caseNumber),
    (r) => r.length === 2 && r.every((x) => x.acknowledged_at),
  );
  t.deepEqual(
    rows.map((r) => [r.type, r.ack_status]),
    [
      ['taskAssigned', 'accepted'],
      ['taskCancelled', 'accepted'],
    ],
  );
  t.regex(rows[1].xml, /^<taskCancelled xmlns="urn:onedoor:exchange:1.0" version="1.1">/);
  for (const row of rows) await assertValid(t, row.xml);
  // A system that pins 1.0 still validates the assignment; the cancellation is new in 1.1.
  const pinned = { xsdPath: EXCHANGE_XSD_1_0_PATH };
  t.deepEqual(await validateAgainstSchema(xmlDocument(rows[0].xml), pinned), { valid: true });
  t.false((await validateAgainstSchema(xmlDocument(rows[1].xml), pinned)).valid);
  const row = await taskRow(hall, caseNumber, 'planning-construction-project-planning-permit');
  t.is(row.status, 'cancelled');
});

test('a case accepted in the market system gets no taskAssigned back', async (t) => {
  const marketInbound = await startDepartmentSimulator({ department: 'market' });
  t.teardown(() => marketInbound.close());
  const hall = await startTestHall(t, {
    DEPARTMENT_ENDPOINTS: JSON.stringify({ market: marketInbound.inboundUrl }),
  });
  const market = await startDepartmentSimulator({ department: 'market', hallUrl: hall.url });
  t.teardown(() => market.close());
  const departmentCase = `SC${Date.now()}`;

  const pushed = await market.send(foodLicenceAccepted(market, departmentCase));

  t.is(pushed.status, 200);
  const caseNumber = hallCaseNumberOf('market', departmentCase);
  const row = await eventually(
    () => taskRow(hall, caseNumber, 'market-food-business-licence'),
    (r) => r?.deliveryChannel !== undefined && r?.deliveryChannel !== null,
  );
  t.is(row.deliveryChannel, 'ownSystem');
  t.is(marketInbound.received.length, 0);
  t.deepEqual(await outboundOf(hall, caseNumber), []);
});

/** The hall's delivery activity alone, against a department system answering as told. */
async function deliveryBench(t: ExecutionContext, answer: 'refused' | 'accepted') {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const store = new ExchangeStore(db);
  const bodies: string[] = [];
  let down = 1;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      if (down-- > 0) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      const acknowledges = /<messageId>([^<]+)<\/messageId>/.exec(body)![1];
      const ack = composeMessage(
        {
          type: 'acknowledgement',
          messageId: `housing-ack-${bodies.length}`,
          department: 'housing',
          sequence: bodies.length,
          caseNumber: 'SZ-SMZX-20261203-00007',
          timestamp: new Date().toISOString(),
          recipient: 'hall',
          acknowledges,
          status: answer,
          reason: answer === 'refused' ? 'unknown_item' : undefined,
        },
        devExchangeSecret('housing'),
      );
      res.setHeader('content-type', 'application/xml');
      res.end(xmlDocument(ack));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/exchange`;
  const { deliverTask } = createDepartmentActivities(
    { housing: url },
    {
      store,
      secrets: { housing: devExchangeSecret('housing') },
      ownSystems: new Set(['housing']),
      taskContext: async () => ({ source: 'counter', department: 'planning', role: 'related' }),
    },
  );
  const message: TaskMessage = {
    kind: 'taskAssigned',
    caseNumber: 'SZ-SMZX-20261203-00007',
    taskCode: 'housing-fire-design-review',
    department: 'housing',
    itemCode: 'housing-fire-design-review',
    title: '特殊建设工程消防设计审查',
    eventKey: 'SZ-SMZX-20261203-00007/housing-fire-design-review#taskAssigned',
  };
  return { store, bodies, deliverTask, message };
}

test('delivery retries while the system is down, never once it has acknowledged', async (t) => {
  const { store, bodies, deliverTask, message } = await deliveryBench(t, 'accepted');

  const down = await t.throwsAsync(() => deliverTask(message));
  const delivered = await deliverTask(message);
  const retriedAfterCrash = await deliverTask(message);

  t.regex(down?.message ?? '', /housing system did not acknowledge: housing answered HTTP 503/);
  t.is(bodies.length, 2);
  t.is(bodies[0], bodies[1], 'the retry sends the very same bytes');
  t.like(delivered, { channel: 'webhook', messageId: 'hall-task-1', sequence: 1 });
  t.deepEqual(retriedAfterCrash, delivered);
  t.is((await store.findOutbound('hall-task-1'))?.ackStatus, 'accepted');
});

test('a refusal by the department system is final and kept with the message', async (t) => {
  const { store, bodies, deliverTask, message } = await deliveryBench(t, 'refused');

  await t.throwsAsync(() => deliverTask(message));
  const refused = await t.throwsAsync(() => deliverTask(message));

  t.like(refused, { type: 'department_refused', nonRetryable: true });
  t.regex(refused?.message ?? '', /housing system refused hall-task-1: unknown_item/);
  t.is(bodies.length, 2);
  t.is((await store.findOutbound('hall-task-1'))?.ackStatus, 'refused');
});

test('a department without a system of its own keeps the inbox, endpoint or not', async (t) => {
  const { deliverTask, message, bodies } = await deliveryBench(t, 'accepted');

  const delivery = await deliverTask({ ...message, department: 'water' });

  t.is(delivery.channel, 'inbox');
  t.is(bodies.length, 0);
});

test('format 1.1 only adds: every 1.0 sample is valid under the 1.0 schema', async (t) => {
  const dir = path.join(REPO_ROOT, 'exchange', 'samples');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.xml')).sort();

  const pinned = await Promise.all(
    files.map(async (f) => {
      const verdict = await validateAgainstSchema(await readFile(path.join(dir, f)), {
        xsdPath: EXCHANGE_XSD_1_0_PATH,
      });
      return [f, verdict.valid];
    }),
  );

  t.deepEqual(
    pinned.filter(([, valid]) => !valid).map(([f]) => f),
    ['taskCancelled.xml'],
  );
  t.true(pinned.length >= 10);
});

test('a taskCancelled sent to the hall is refused as not for it; nothing applied', async (t) => {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const store = new ExchangeStore(db);
  const calls: string[] = [];
  const hooks = {
    startSupervision: async () => void calls.push('startSupervision'),
    signalStatus: async () => void calls.push('signalStatus'),
    acknowledgeTask: async () => void calls.push('acknowledgeTask'),
  };
  const element = composeMessage(
    {
      type: 'taskCancelled',
      messageId: 'market-cancel-1',
      department: 'market',
      sequence: 1,
      caseNumber: 'SCJG-2026-0009',
      timestamp: '2026-12-03T10:00:00+08:00',
      recipient: 'hall',
      taskCode: 'market-food-business-licence',
      cancelledAt: '2026-12-03T10:00:00+08:00',
    },
    devExchangeSecret('market'),
  );

  const result = await receiveExchange(Buffer.from(xmlDocument(element)), {
    store,
    hooks,
    secrets: { market: devExchangeSecret('market') },
  });

  t.like(result.outcomes[0], { outcome: 'refused', reason: 'not_for_hall' });
  t.deepEqual(calls, []);
  t.is((await db('exchange_messages').count({ n: '*' }))[0].n, '0');
  const [rejection] = await store.listRejections({ limit: 5 });
  t.like(rejection, { reason: 'not_for_hall', messageId: 'market-cancel-1' });
});
