/**
 * The XML exchange with department systems, through its HTTP routes on a fresh register: what it
 * takes, what it refuses and why, and that a refusal writes nothing but its dead letter. The
 * hooks into the hall's workflows are recorders here; the department is the simulator.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { exchangeRoutes } from '../api/exchange/router';
import {
  startDepartmentSimulator,
  type DepartmentSimulator,
  type SimulatedMessage,
} from '../emulators/departmentSimulator';
import { loadCatalog } from '../lib/catalog/load';
import { REPO_ROOT } from '../lib/config';
import { migrateLatest, migrationConfig } from '../lib/db';
import { DomainError } from '../lib/errors';
import type { ExchangeHooks } from '../lib/exchange/apply';
import { composeBatch, composeMessage, xmlDocument } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { deliverHallMessage, prepareTaskAssigned } from '../lib/exchange/outbound';
import { parseExchangeBody, type ExchangeLimits } from '../lib/exchange/parse';
import { pollOutbox } from '../lib/exchange/poller';
import { isValidSignature } from '../lib/exchange/sign';
import { ExchangeStore } from '../lib/exchange/store';
import type { ExchangeMessage } from '../lib/exchange/types';
import { EXCHANGE_XSD_PATH, validateAgainstSchema } from '../lib/exchange/xsd';
import { serveRoutes } from './support/api';
import { freshDatabase } from './support/hall';

const catalog = loadCatalog(path.join(REPO_ROOT, 'data'));
const SECRETS = { market: devExchangeSecret('market'), planning: devExchangeSecret('planning') };
const SAMPLES = path.join(REPO_ROOT, 'exchange', 'samples');

interface HookCall {
  hook: keyof ExchangeHooks;
  messageId: string;
  type: string;
}

interface ExchangeHall {
  url: string;
  db: Knex;
  store: ExchangeStore;
  calls: HookCall[];
  /** Makes the next hook call throw this error (once). */
  failNextHook: (err: Error) => void;
  market: DepartmentSimulator;
  post: (body: string, contentType?: string) => Promise<{ status: number; text: string }>;
  get: (path: string, token?: string) => Promise<{ status: number; body: any }>;
  counts: () => Promise<{ messages: number; sequences: number; rejections: number }>;
}

/** A hall with only the exchange routes, mounted as createApp mounts them, and a market system. */
async function startExchangeHall(
  t: ExecutionContext,
  limits?: Partial<ExchangeLimits>,
): Promise<ExchangeHall> {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const store = new ExchangeStore(db);
  const calls: HookCall[] = [];
  let failure: Error | undefined;
  const record = (hook: keyof ExchangeHooks, message: ExchangeMessage) => {
    if (failure) {
      const err = failure;
      failure = undefined;
      throw err;
    }
    calls.push({ hook, messageId: message.messageId, type: message.type });
  };
  const hooks: ExchangeHooks = {
    startSupervision: async (m) => {
      record('startSupervision', m);
      return { hallCaseNumber: `SZ-SMZX-${m.caseNumber}`, receiptNumber: `R-${m.sequence}` };
    },
    signalStatus: async (m) => record('signalStatus', m),
    acknowledgeTask: async (m) => record('acknowledgeTask', m),
  };
  const deps = {
    store,
    hooks,
    secrets: SECRETS,
    limits: {
      maxBodyBytes: 1024 * 1024,
      maxDepth: 16,
      maxBatch: 500,
      validationTimeoutMs: 5000,
      ...limits,
    },
  };

  const url = await serveRoutes(t, exchangeRoutes(deps), { catalog, jsonLimit: '1mb' });

  const market = await startDepartmentSimulator({ department: 'market', hallUrl: url });
  t.teardown(() => market.close());

  return {
    url,
    db,
    store,
    calls,
    failNextHook: (err) => {
      failure = err;
    },
    market,
    post: async (body, contentType = 'application/xml') => {
      const res = await fetch(`${url}/exchange/messages`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      return { status: res.status, text: await res.text() };
    },
    get: async (p, token) => {
      const res = await fetch(`${url}${p}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const text = await res.text();
      return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
    },
    counts: async () => {
      const count = async (table: string) =>
        Number(((await db(table).count({ n: '*' })) as { n: string }[])[0].n);
      return {
        messages: await count('exchange_messages'),
        sequences: await count('department_sequences'),
        rejections: await count('exchange_rejections'),
      };
    },
  };
}

/** Reads an acknowledgement document as the department would, checking its signature. */
async function readAcks(document: string, department = 'market') {
  const parsed = await parseExchangeBody(Buffer.from(document));
  return parsed.messages.map((m) => {
    if (m.message.type !== 'acknowledgement') throw new Error(`not an ack: ${m.message.type}`);
    return {
      ...m.message,
      signed: isValidSignature(devExchangeSecret(department), m.canonical, m.signature),
    };
  });
}

async function assertValid(t: ExecutionContext, document: string): Promise<void> {
  const verdict = await validateAgainstSchema(document);
  t.deepEqual(verdict, { valid: true }, document.slice(0, 400));
}

const acceptance = (market: DepartmentSimulator, caseNumber = 'SCJG-2026-0001') =>
  market.caseAccepted({
    caseNumber,
    itemCode: 'market-food-business-licence',
    acceptedAt: '2026-12-03T09:30:00+08:00',
    counter: 'W001',
    applicant: {
      type: 'company',
      name: '深圳市一门餐饮管理有限公司',
      creditCode: '91440300MA5G8K2X7Q',
    },
    materials: ['application-form', 'business-licence-copy'],
    channels: ['sms'],
  });

const examining = (market: DepartmentSimulator, caseNumber = 'SCJG-2026-0001') =>
  market.statusChanged({ caseNumber, status: 'examining', at: '2026-12-04T10:00:00+08:00' });

/** A caseAccepted written by hand (for payloads the simulator would never write). */
function handWritten(inner: { name?: string; extra?: string }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
${inner.extra ?? ''}<caseAccepted xmlns="urn:onedoor:exchange:1.0" version="1.0">
  <messageId>market-hand-1</messageId>
  <department>market</department>
  <sequence>1</sequence>
  <caseNumber>SCJG-2026-0009</caseNumber>
  <timestamp>2026-12-03T09:30:00+08:00</timestamp>
  <itemCode>market-food-business-licence</itemCode>
  <acceptedAt>2026-12-03T09:30:00+08:00</acceptedAt>
  <applicant><type>person</type><name>${inner.name ?? 'Li Wei'}</name></applicant>
  <signature algorithm="HMAC-SHA256">AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</signature>
</caseAccepted>
`;
}

async function assertNothingApplied(t: ExecutionContext, hall: ExchangeHall, rejections = 1) {
  t.deepEqual(await hall.counts(), { messages: 0, sequences: 0, rejections });
  t.deepEqual(hall.calls, []);
}

// The format

test('every sample in exchange/samples is schema-valid and correctly signed', async (t) => {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.xml'));
  t.true(files.length >= 8);
  for (const file of files) {
    const document = readFileSync(path.join(SAMPLES, file));
    t.deepEqual(await validateAgainstSchema(document), { valid: true }, file);
    const parsed = await parseExchangeBody(document);
    for (const m of parsed.messages) {
      // What the hall sends is signed with its recipient's secret.
      const department = 'recipient' in m.message ? m.message.recipient : m.message.department;
      t.true(isValidSignature(devExchangeSecret(department), m.canonical, m.signature), file);
    }
  }
});

test('GET /exchange/schema serves the shipped XSD to anyone', async (t) => {
  const hall = await startExchangeHall(t);
  const res = await hall.get('/exchange/schema');
  t.is(res.status, 200);
  t.is(res.body, readFileSync(EXCHANGE_XSD_PATH, 'utf8'));
});

// What the hall takes

test('a caseAccepted starts supervision once, with a signed, valid acknowledgement', async (t) => {
  const hall = await startExchangeHall(t);
  const message = acceptance(hall.market);

  const res = await hall.market.send(message);

  t.is(res.status, 200);
  await assertValid(t, res.body);
  const [ack] = await readAcks(res.body);
  t.like(ack, {
    status: 'accepted',
    acknowledges: message.messageId,
    recipient: 'market',
    department: 'hall',
    hallCaseNumber: 'SZ-SMZX-SCJG-2026-0001',
    receiptNumber: `R-${message.sequence}`,
    signed: true,
  });
  t.deepEqual(hall.calls, [
    { hook: 'startSupervision', messageId: message.messageId, type: 'caseAccepted' },
  ]);
  t.deepEqual(await hall.counts(), { messages: 1, sequences: 1, rejections: 0 });
});

test('a batch out of order is applied in sequence order, answered in body order', async (t) => {
  const hall = await startExchangeHall(t);
  const accepted = acceptance(hall.market);
  const status = examining(hall.market);
  const concluded = hall.market.caseConcluded({
    caseNumber: 'SCJG-2026-0001',
    decision: 'approve',
    concludedAt: '2026-12-05T16:00:00+08:00',
  });

  const res = await hall.market.send([concluded, accepted, status]);

  t.is(res.status, 200);
  await assertValid(t, res.body);
  const acks = await readAcks(res.body);
  t.deepEqual(
    acks.map((a) => [a.acknowledges, a.status, a.signed]),
    [concluded, accepted, status].map((m) => [m.messageId, 'accepted', true]),
  );
  t.deepEqual(
    hall.calls.map((c) => c.type),
    ['caseAccepted', 'statusChanged', 'caseConcluded'],
  );
  const [row] = await hall.db('department_sequences').select('last_sequence', 'last_type');
  t.deepEqual(row, { last_sequence: String(concluded.sequence), last_type: 'caseConcluded' });
});

test('every message the hall produces validates against the schema', async (t) => {
  const hall = await startExchangeHall(t);
  const accepted = acceptance(hall.market);
  const applied = await hall.market.send(accepted);
  // The same message with bytes changed after signing: refused for its signature.
  const tampered = { ...accepted, element: accepted.element.replace('W001', 'W002') };
  const refused = await hall.market.send(tampered);
  hall.failNextHook(new Error('temporal unreachable'));
  const retry = await hall.market.send(examining(hall.market));
  const batch = await hall.market.send([examining(hall.market), accepted]);
  const task = await prepareTaskAssigned(
    {
      eventKey: 'SZ-SMZX-20261203-00042:task:market',
      caseNumber: 'SZ-SMZX-20261203-00042',
      recipient: 'market',
      taskCode: 'market-food-business-licence',
      itemCode: 'market-food-business-licence',
      title: '食品经营许可 <联办> & co',
      role: 'related',
      openedAt: '2026-12-03T10:58:00.000Z',
      promisedDueAt: '2026-12-17T15:59:59.999Z',
    },
    { store: hall.store, secrets: SECRETS },
  );

  const statuses = [];
  for (const document of [applied.body, refused.body, retry.body, batch.body, task.document]) {
    await assertValid(t, document);
  }
  for (const document of [applied.body, refused.body, retry.body]) {
    statuses.push((await readAcks(document))[0].status);
  }
  t.deepEqual(statuses, ['accepted', 'refused', 'retry']);
  t.is(retry.status, 503);
});

// What the hall refuses, each with its reason and nothing written but the dead letter

test('an XXE payload is refused before any parser sees it, and nothing is written', async (t) => {
  const hall = await startExchangeHall(t);
  const xxe = handWritten({
    extra: '<!DOCTYPE caseAccepted [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n',
    name: '&xxe;',
  });

  const res = await hall.post(xxe);

  t.is(res.status, 422);
  const error = JSON.parse(res.text).error;
  t.like(error, { code: 'validation_failed', reason: 'dtd_forbidden', flagged: true });
  t.notRegex(res.text, /root:/);
  await assertNothingApplied(t, hall);
  const [dead] = await hall.db('exchange_rejections').select('reason', 'department', 'excerpt');
  t.is(dead.reason, 'dtd_forbidden');
  t.is(dead.department, 'market');
  t.regex(dead.excerpt, /ENTITY xxe SYSTEM/);
});

test('a billion-laughs entity expansion is refused at once, and nothing is written', async (t) => {
  const hall = await startExchangeHall(t);
  const lol = ['<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) {
    const prev = i === 1 ? 'lol' : `lol${i - 1}`;
    lol.push(`<!ENTITY lol${i} "${`&${prev};`.repeat(10)}">`);
  }
  const bomb = handWritten({ extra: `<!DOCTYPE lolz [\n${lol.join('\n')}\n]>\n`, name: '&lol9;' });

  const begin = Date.now();
  const res = await hall.post(bomb);

  t.true(Date.now() - begin < 2000);
  t.is(res.status, 422);
  t.like(JSON.parse(res.text).error, { reason: 'dtd_forbidden' });
  await assertNothingApplied(t, hall);
});

test('a declaration hidden in lower case or in a comment is refused too', async (t) => {
  const hall = await startExchangeHall(t);
  for (const extra of ['<!doctype x>\n', '<!-- <!ENTITY e "x"> -->\n']) {
    const res = await hall.post(handWritten({ extra }));
    t.like(JSON.parse(res.text).error, { reason: 'dtd_forbidden' });
  }
  await assertNothingApplied(t, hall, 2);
});

test('a message with a bad signature is refused and flagged, and nothing is applied', async (t) => {
  const hall = await startExchangeHall(t);
  const forged = acceptance(hall.market);
  // The same message signed with another department's secret.
  const element = composeMessage(forged.message, devExchangeSecret('planning'));

  const res = await hall.post(xmlDocument(element));

  t.is(res.status, 200);
  await assertValid(t, res.text);
  const [ack] = await readAcks(res.text);
  t.like(ack, { status: 'refused', reason: 'bad_signature', signed: true });
  await assertNothingApplied(t, hall);
  const [dead] = await hall.db('exchange_rejections').select('reason', 'flagged', 'message_id');
  t.deepEqual(dead, { reason: 'bad_signature', flagged: true, message_id: forged.messageId });
});

test('a replay (same id and content) is acknowledged alike and changes nothing', async (t) => {
  const hall = await startExchangeHall(t);
  const message = acceptance(hall.market);
  const first = await hall.market.send(message);

  const again = await hall.market.send(message);
  const inBatch = await hall.market.send([message]);

  t.is(again.body, first.body);
  t.true(inBatch.body.includes(first.body.replace(/^<\?xml[^>]*>\n/, '').trim()));
  t.is(hall.calls.length, 1);
  t.deepEqual(await hall.counts(), { messages: 1, sequences: 1, rejections: 0 });
});

test('a reused id with new content is refused and flagged; the first message stands', async (t) => {
  const hall = await startExchangeHall(t);
  const message = acceptance(hall.market);
  await hall.market.send(message);
  const before = await hall.db('exchange_messages').first();
  const altered: ExchangeMessage = { ...message.message, caseNumber: 'SCJG-2026-0002' };

  const res = await hall.post(xmlDocument(composeMessage(altered, SECRETS.market)));

  const [ack] = await readAcks(res.text);
  t.like(ack, { status: 'refused', reason: 'reused_message_id', signed: true });
  t.deepEqual(await hall.db('exchange_messages').first(), before);
  t.deepEqual(await hall.counts(), { messages: 1, sequences: 1, rejections: 1 });
  t.is(hall.calls.length, 1);
  const [dead] = await hall.db('exchange_rejections').select('reason', 'flagged');
  t.deepEqual(dead, { reason: 'reused_message_id', flagged: true });
});

test('an older sequence never overwrites a newer state of the same case', async (t) => {
  const hall = await startExchangeHall(t);
  await hall.market.send(acceptance(hall.market));
  const older = examining(hall.market);
  const newer = hall.market.caseConcluded({
    caseNumber: 'SCJG-2026-0001',
    decision: 'deny',
    reasons: 'The premises fail the layout rules.',
    concludedAt: '2026-12-05T16:00:00+08:00',
  });
  await hall.market.send(newer);

  const res = await hall.market.send(older);

  const [ack] = await readAcks(res.body);
  t.like(ack, { status: 'refused', reason: 'stale_sequence' });
  t.regex(ack.detail ?? '', new RegExp(`not after ${newer.sequence}`));
  const [row] = await hall.db('department_sequences').select('last_sequence', 'last_message_id');
  t.deepEqual(row, { last_sequence: String(newer.sequence), last_message_id: newer.messageId });
  t.deepEqual(
    hall.calls.map((c) => c.type),
    ['caseAccepted', 'caseConcluded'],
  );
  t.deepEqual(await hall.counts(), { messages: 2, sequences: 1, rejections: 1 });
});

test('an oversized batch is refused whole before validation, and nothing is written', async (t) => {
  const hall = await startExchangeHall(t, { maxBatch: 5 });
  const messages = Array.from({ length: 6 }, (_, i) => acceptance(hall.market, `SCJG-2026-01${i}`));

  const res = await hall.market.send(messages);

  t.is(res.status, 422);
  const error = JSON.parse(res.body).error;
  t.like(error, { code: 'validation_failed', reason: 'batch_too_large' });
  t.regex(error.message, /6 messages; at most 5/);
  await assertNothingApplied(t, hall);
});

test('a body over the size limit is refused unread', async (t) => {
  const hall = await startExchangeHall(t, { maxBodyBytes: 4096 });
  const messages = Array.from({ length: 8 }, (_, i) => acceptance(hall.market, `SCJG-2026-02${i}`));

  const res = await hall.market.send(messages);

  t.is(res.status, 422);
  t.like(JSON.parse(res.body).error, { reason: 'too_large' });
  await assertNothingApplied(t, hall);
});

test('elements nested past the depth limit are refused before validation', async (t) => {
  const hall = await startExchangeHall(t);
  const deep = `${'<a>'.repeat(40)}${'</a>'.repeat(40)}`;

  const res = await hall.post(handWritten({ name: deep }));

  t.like(JSON.parse(res.text).error, { reason: 'too_deep' });
  await assertNothingApplied(t, hall);
});

test('a body invalid against the schema is refused with the validator lines', async (t) => {
  const hall = await startExchangeHall(t);
  const invalid = acceptance(hall.market)
    .element.replace('<itemCode>', '<itemcode>')
    .replace('</itemCode>', '</itemcode>');

  const res = await hall.post(xmlDocument(invalid));

  const error = JSON.parse(res.text).error;
  t.is(error.reason, 'schema_invalid');
  t.regex(error.message, /itemcode/);
  await assertNothingApplied(t, hall);
});

test('a body that is not XML, or from a department with no secret, is refused whole', async (t) => {
  const hall = await startExchangeHall(t);
  const json = await hall.post('{"caseNumber":"x"}', 'application/json');
  const health = composeMessage(
    { ...acceptance(hall.market).message, department: 'health' },
    'x'.repeat(16),
  );
  const unknown = await hall.post(xmlDocument(health));

  t.like(JSON.parse(json.text).error, { reason: 'unsupported_media_type' });
  t.like(JSON.parse(unknown.text).error, { reason: 'unknown_department', flagged: true });
  await assertNothingApplied(t, hall, 2);
});

test('a denial without reasons is refused', async (t) => {
  const hall = await startExchangeHall(t);
  const denial = hall.market.caseConcluded({
    caseNumber: 'SCJG-2026-0001',
    decision: 'deny',
    concludedAt: '2026-12-05T16:00:00+08:00',
  });

  const [ack] = await readAcks((await hall.market.send(denial)).body);

  t.like(ack, { status: 'refused', reason: 'missing_reasons' });
  await assertNothingApplied(t, hall);
});

test("a hook's refusal is a refusal; its passing fault is a retry a resend applies", async (t) => {
  const hall = await startExchangeHall(t);
  const message = acceptance(hall.market);
  hall.failNextHook(new DomainError('unknown_item', 'no such item in the catalog'));
  const refused = await readAcks((await hall.market.send(message)).body);
  const other = acceptance(hall.market, 'SCJG-2026-0003');
  hall.failNextHook(new Error('connection refused'));

  const retry = await hall.market.send(other);
  const resent = await hall.market.send(other);

  t.like(refused[0], { status: 'refused', reason: 'refused_by_hall' });
  t.regex(refused[0].detail ?? '', /unknown_item/);
  t.is(retry.status, 503);
  t.like((await readAcks(retry.body))[0], { status: 'retry' });
  t.like((await readAcks(resent.body))[0], { status: 'accepted' });
  t.deepEqual(await hall.counts(), { messages: 1, sequences: 1, rejections: 1 });
});

// Dead letters

test('supervisors see every rejection; a department officer sees only its own', async (t) => {
  const hall = await startExchangeHall(t);
  await hall.post(handWritten({ extra: '<!DOCTYPE x>\n' }));
  const planning = await startDepartmentSimulator({ department: 'planning', hallUrl: hall.url });
  t.teardown(() => planning.close());
  const at = '2026-12-03T09:00:00Z';
  const older = planning.statusChanged({ caseNumber: 'GH-1', status: 'examining', at });
  const newer = planning.statusChanged({ caseNumber: 'GH-1', status: 'reviewing', at });
  await planning.send(newer);
  await planning.send(older);

  const all = await hall.get('/exchange/rejections', 'dev-supervisor');
  const market = await hall.get('/exchange/rejections', 'dev-officer-market');
  const sneaky = await hall.get('/exchange/rejections?department=market', 'dev-officer-planning');
  const flagged = await hall.get('/exchange/rejections?flagged=true', 'dev-supervisor');
  const anonymous = await hall.get('/exchange/rejections');

  t.deepEqual(
    all.body.rejections.map((r: { reason: string }) => r.reason),
    ['stale_sequence', 'dtd_forbidden'],
  );
  t.deepEqual(
    market.body.rejections.map((r: { reason: string }) => r.reason),
    ['dtd_forbidden'],
  );
  t.deepEqual(
    sneaky.body.rejections.map((r: { department: string }) => r.department),
    ['planning'],
  );
  t.deepEqual(
    flagged.body.rejections.map((r: { reason: string }) => r.reason),
    ['dtd_forbidden'],
  );
  t.is(anonymous.status, 401);
});

// Polling mode and the hall's own messages

test('the poller takes an outbox with the same guarantees and moves its cursor on', async (t) => {
  const hall = await startExchangeHall(t);
  const accepted = acceptance(hall.market);
  const status = examining(hall.market);
  const deps = { store: hall.store, hooks: hallHooks(hall), secrets: SECRETS };

  const first = await pollOutbox('market', hall.market.outboxUrl, deps);
  const idle = await pollOutbox('market', hall.market.outboxUrl, deps);
  // A message the department also pushed is a replay when polled: nothing new.
  const concluded = hall.market.caseConcluded({
    caseNumber: 'SCJG-2026-0001',
    decision: 'approve',
    concludedAt: '2026-12-05T16:00:00+08:00',
  });
  await hall.market.send(concluded);
  const third = await pollOutbox('market', hall.market.outboxUrl, deps);

  t.like(first, { after: 0, cursor: status.sequence, fetched: 2, applied: 2 });
  t.like(idle, { after: status.sequence, cursor: status.sequence, fetched: 0 });
  t.like(third, { cursor: concluded.sequence, fetched: 1, applied: 1 });
  t.deepEqual(
    hall.calls.map((c) => c.messageId),
    [accepted.messageId, status.messageId, concluded.messageId],
  );
  const via = await hall.db('exchange_messages').orderBy('sequence').pluck('via');
  t.deepEqual(via, ['poll', 'poll', 'push']);
});

test('the poller refuses an outbox serving another department, and keeps its cursor', async (t) => {
  const hall = await startExchangeHall(t);
  acceptance(hall.market);
  const deps = { store: hall.store, hooks: hallHooks(hall), secrets: SECRETS };

  const report = await pollOutbox('planning', hall.market.outboxUrl, deps);

  t.regex(report.error ?? '', /^wrong_department/);
  t.is(await hall.store.pollCursor('planning'), 0);
  await assertNothingApplied(t, hall);
});

test('a taskAssigned is resent with the same bytes; a double ack is harmless', async (t) => {
  const hall = await startExchangeHall(t);
  const assignment = {
    eventKey: 'SZ-SMZX-20261203-00042:open:market-food-business-licence',
    caseNumber: 'SZ-SMZX-20261203-00042',
    recipient: 'market',
    taskCode: 'market-food-business-licence',
    itemCode: 'market-food-business-licence',
    title: '食品经营许可',
    role: 'related' as const,
  };
  const deps = { store: hall.store, secrets: SECRETS };
  const prepared = await prepareTaskAssigned(assignment, deps);
  const target = { url: hall.market.inboundUrl, department: 'market', secret: SECRETS.market };
  hall.market.failNext(1);

  const down = await deliverHallMessage(prepared, target);
  const again = await prepareTaskAssigned(assignment, deps);
  const delivered = await deliverHallMessage(again, target);
  const task = hall.market.received[0];
  const ackOnce = await hall.market.send(hall.market.acknowledge(task));
  const ackTwice = await hall.market.send(hall.market.acknowledge(task));

  t.is(down.status, 'retry');
  t.is(again.document, prepared.document);
  t.is(delivered.status, 'accepted');
  t.is(task.messageId, prepared.messageId);
  t.like((await readAcks(ackOnce.body))[0], { status: 'accepted' });
  t.like((await readAcks(ackTwice.body))[0], { status: 'accepted' });
  t.deepEqual(
    hall.calls.map((c) => c.hook),
    ['acknowledgeTask'],
  );
  const outbound = await hall.store.findOutbound(prepared.messageId);
  t.truthy(outbound?.acknowledgedAt);
});

// The schema of the register

test('the exchange migration goes down and up again', async (t) => {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const name = '20261203000040_exchange.ts';
  const tables = [
    'exchange_messages',
    'exchange_rejections',
    'department_sequences',
    'exchange_outbound',
    'exchange_poll_cursors',
  ];

  await db.migrate.down({ ...migrationConfig, name });
  for (const table of tables) t.false(await db.schema.hasTable(table), table);
  await db.migrate.up({ ...migrationConfig, name });
  for (const table of tables) t.true(await db.schema.hasTable(table), table);
});

/** The hall's recording hooks, for calling the inbound path directly (the poller). */
function hallHooks(hall: ExchangeHall): ExchangeHooks {
  const record = (hook: keyof ExchangeHooks) => async (m: ExchangeMessage) => {
    hall.calls.push({ hook, messageId: m.messageId, type: m.type });
  };
  return {
    startSupervision: record('startSupervision'),
    signalStatus: record('signalStatus'),
    acknowledgeTask: record('acknowledgeTask'),
  };
}

// Kept apart from the simulator: a batch of the same element twice is one message, one ack.
test('a batch with one message twice applies it once and answers both alike', async (t) => {
  const hall = await startExchangeHall(t);
  const message: SimulatedMessage = acceptance(hall.market);
  const body = composeBatch(
    { batchId: 'market-b-dup', department: 'market', timestamp: '2026-12-03T09:31:00+08:00' },
    [message.element, message.element],
  );

  const res = await hall.post(body);

  const acks = await readAcks(res.text);
  t.is(acks.length, 2);
  t.is(acks[0].messageId, acks[1].messageId);
  t.is(hall.calls.length, 1);
});

test('bodies validated together share xmllint runs, each keeping its own verdict', async (t) => {
  const good = readFileSync(path.join(SAMPLES, 'caseAccepted.xml'), 'utf8');
  const bad = good.replace('<itemCode>', '<itemcode>').replace('</itemCode>', '</itemcode>');
  const broken = good.replace('</caseAccepted>', '');
  const documents = Array.from({ length: 30 }, (_, i) => [good, bad, broken][i % 3]);

  const verdicts = await Promise.all(documents.map((d) => validateAgainstSchema(d)));

  verdicts.forEach((v, i) => {
    if (i % 3 === 0) t.deepEqual(v, { valid: true });
    else t.false(v.valid);
  });
  const badErrors = verdicts[1].valid ? [] : verdicts[1].errors;
  t.regex(badErrors.join('\n'), /^-:\d+: element itemcode/m);
});

test('a body in another encoding than UTF-8 is refused', async (t) => {
  const hall = await startExchangeHall(t);
  const element = acceptance(hall.market).element;
  const utf16 = Buffer.from(`\ufeff${xmlDocument(element)}`, 'utf16le');
  const latin1 = xmlDocument(element).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"');

  for (const body of [utf16, latin1]) {
    const res = await fetch(`${hall.url}/exchange/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body,
    });
    t.like(((await res.json()) as { error: object }).error, { reason: 'encoding' });
  }
  await assertNothingApplied(t, hall, 2);
});
