/**
 * Across the isolated networks: two spool directories, each side with its own register, and
 * the ferry between them. Department messages go outer → hall through the exchange's inbound
 * path; public status goes hall → outer; every bundle is answered on the reverse route. The
 * hooks into the hall's workflows are recorders here.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { outerPortalRoutes, spoolRoutes } from '../api/exchange/spool';
import { portalRoutes } from '../api/portal/router';
import type { RouteSpec } from '../api/route';
import { runFerryCommand } from '../cli/ferry';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { migrateLatest, migrationConfig } from '../lib/db';
import type { ExchangeHooks } from '../lib/exchange/apply';
import { BUNDLE_XSD_PATH, bundleFileName, composeAcks } from '../lib/exchange/bundle';
import { devSpoolKey } from '../lib/exchange/bundleConfig';
import { exchangeSpoolHandler } from '../lib/exchange/bundleReceive';
import { exportPublicStatus, runHallSpoolPass } from '../lib/exchange/bundleStatus';
import { SpoolStore } from '../lib/exchange/bundleStore';
import { composeMessage } from '../lib/exchange/compose';
import { devExchangeSecret } from '../lib/exchange/config';
import { ferryOnce, runFerry } from '../lib/exchange/ferry';
import { parseExchangeBody } from '../lib/exchange/parse';
import { isValidSignature } from '../lib/exchange/sign';
import { openConfiguredSpool, Spool } from '../lib/exchange/spool';
import { ExchangeStore } from '../lib/exchange/store';
import type { ExchangeMessage } from '../lib/exchange/types';
import { EXCHANGE_XSD_PATH, validateAgainstSchema } from '../lib/exchange/xsd';
import { RegisterStore } from '../lib/store';
import { serveRoutes } from './support/api';
import { freshDatabase } from './support/hall';

const catalog = loadCatalog(path.join(REPO_ROOT, 'data'));
const MARKET = devExchangeSecret('market');
const KEYS = {
  'hall->outer': devSpoolKey('hall', 'outer'),
  'outer->hall': devSpoolKey('outer', 'hall'),
};

interface Sides {
  hall: Spool;
  outer: Spool;
  hallDb: Knex;
  outerDb: Knex;
  hallDir: string;
  outerDir: string;
  /** The hall's exchange hooks, as called. */
  calls: { hook: keyof ExchangeHooks; messageId: string }[];
  /** The message acks the outer side was handed back. */
  acksBack: Buffer[];
  /** One ferry pass outer → hall; answers the names moved. */
  toHall: () => Promise<string[]>;
  /** One ferry pass hall → outer. */
  toOuter: () => Promise<string[]>;
  count: (db: Knex, table: string) => Promise<number>;
}

async function startSides(t: ExecutionContext): Promise<Sides> {
  const [{ db: hallDb }, { db: outerDb }] = await Promise.all([freshDatabase(t), freshDatabase(t)]);
  await Promise.all([migrateLatest(hallDb), migrateLatest(outerDb)]);
  const root = await mkdtemp(path.join(tmpdir(), 'onedoor-ferry-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const hallDir = path.join(root, 'inner');
  const outerDir = path.join(root, 'outer');

  const calls: Sides['calls'] = [];
  const record = (hook: keyof ExchangeHooks, m: ExchangeMessage) =>
    void calls.push({ hook, messageId: m.messageId });
  const hooks: ExchangeHooks = {
    startSupervision: async (m) => {
      record('startSupervision', m);
      return { receiptNumber: `R-${m.sequence}` };
    },
    signalStatus: async (m) => record('signalStatus', m),
    acknowledgeTask: async (m) => record('acknowledgeTask', m),
  };
  const hall = await Spool.open({
    dir: hallDir,
    side: 'hall',
    keys: KEYS,
    store: new SpoolStore(hallDb),
    handlers: {
      messages: exchangeSpoolHandler({
        store: new ExchangeStore(hallDb),
        hooks,
        secrets: { market: MARKET },
      }),
    },
  });
  const acksBack: Buffer[] = [];
  const outer = await Spool.open({
    dir: outerDir,
    side: 'outer',
    keys: KEYS,
    store: new SpoolStore(outerDb),
    handlers: { messageAcks: async (document) => void acksBack.push(document) },
  });
  const moved = async (from: string, to: string) => {
    const report = await ferryOnce({ from, to });
    if (report.failed.length > 0) throw new Error(JSON.stringify(report.failed));
    return report.moved;
  };
  return {
    hall,
    outer,
    hallDb,
    outerDb,
    hallDir,
    outerDir,
    calls,
    acksBack,
    toHall: () => moved(outerDir, hallDir),
    toOuter: () => moved(hallDir, outerDir),
    count: async (db, table) =>
      Number(((await db(table).count({ n: '*' })) as { n: string }[])[0].n),
  };
}

const at = (minute: number) => `2026-12-03T09:${String(minute).padStart(2, '0')}:00+08:00`;

/** A market caseAccepted, signed with the market's development secret. */
function accepted(sequence: number, caseNumber = `SCJG-2026-${String(sequence).padStart(4, '0')}`) {
  return composeMessage(
    {
      type: 'caseAccepted',
      messageId: `market-spool-${sequence}`,
      department: 'market',
      sequence,
      caseNumber,
      timestamp: at(sequence),
      itemCode: 'market-food-business-licence',
      acceptedAt: at(sequence),
      counter: 'W001',
      applicant: {
        type: 'company',
        name: '深圳市一门餐饮管理有限公司',
        creditCode: '91440300MA5G8K2X7Q',
      },
      materials: ['application-form'],
      channels: ['sms'],
    },
    MARKET,
  );
}

function examining(sequence: number, caseNumber: string) {
  return composeMessage(
    {
      type: 'statusChanged',
      messageId: `market-spool-${sequence}`,
      department: 'market',
      sequence,
      caseNumber,
      timestamp: at(sequence),
      status: 'examining',
      at: at(sequence),
    },
    MARKET,
  );
}

const bundleAt = (dir: string, sub: string, name: string) => path.join(dir, sub, name);
const outerToHall = (n: number) => bundleFileName({ sender: 'outer', receiver: 'hall', number: n });
const hallToOuter = (n: number) => bundleFileName({ sender: 'hall', receiver: 'outer', number: n });

/** Validates a bundle file with xmllint, and the exchange batch inside it on its own. */
async function assertValidBundle(t: ExecutionContext, file: string): Promise<void> {
  const bytes = await readFile(file);
  t.deepEqual(await validateAgainstSchema(bytes, { xsdPath: BUNDLE_XSD_PATH }), { valid: true });
  const batch = /<batch [\s\S]*<\/batch>/.exec(bytes.toString('utf8'));
  if (batch) {
    const verdict = await validateAgainstSchema(batch[0], { xsdPath: EXCHANGE_XSD_PATH });
    t.deepEqual(verdict, { valid: true }, path.basename(file));
  }
}

/** A Koa app over route specs, as createApp mounts them; answers its base URL. */
const serve = (t: ExecutionContext, routes: RouteSpec<any, any, any>[]) =>
  serveRoutes(t, routes, { catalog });

async function waitFor(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not done in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

// Messages outer → hall, answers hall → outer

test('messages cross to the hall once and their acks come back by the same route', async (t) => {
  const s = await startSides(t);
  const elements = [accepted(1), examining(2, 'SCJG-2026-0001')];

  t.deepEqual(await s.outer.sendMessages('hall', 'market', elements), [1]);
  await assertValidBundle(t, bundleAt(s.outerDir, 'outbound', outerToHall(1)));
  const out: string[] = [];
  const code = await runFerryCommand(
    ['--from', s.outerDir, '--to', s.hallDir, '--once'],
    { write: (text) => out.push(text) },
    { write: (text) => out.push(text) },
  );
  t.is(code, 0);
  t.deepEqual(out, [`moved ${outerToHall(1)}\n`]);
  t.deepEqual(await readdir(path.join(s.outerDir, 'outbound')), []);

  const reports = await s.hall.importInbound();

  t.is(reports.length, 1);
  t.like(reports[0], { file: outerToHall(1), outcome: 'imported', number: 1, ackNumber: 1 });
  t.deepEqual(
    s.calls.map((c) => c.hook),
    ['startSupervision', 'signalStatus'],
  );
  const rows = await s.hallDb('exchange_messages').orderBy('sequence').select('message_id', 'via');
  t.deepEqual(rows, [
    { message_id: 'market-spool-1', via: 'spool' },
    { message_id: 'market-spool-2', via: 'spool' },
  ]);
  t.deepEqual(await readdir(path.join(s.hallDir, 'inbound')), []);
  t.deepEqual(await readdir(path.join(s.hallDir, 'archive')), [outerToHall(1)]);
  await assertValidBundle(t, bundleAt(s.hallDir, 'outbound', hallToOuter(1)));
  t.is((await s.outer.store.unacknowledged('outer', 'hall')).length, 1);

  t.deepEqual(await s.toOuter(), [hallToOuter(1)]);
  t.like(await s.outer.importInbound(), [{ outcome: 'imported', kind: 'acknowledgement' }]);

  const sent = await s.outer.store.findSent('outer', 'hall', 1);
  t.is(sent?.ackOutcome, 'imported');
  t.deepEqual(await s.outer.store.unacknowledged('outer', 'hall'), []);
  t.is(s.acksBack.length, 1);
  const acks = (await parseExchangeBody(s.acksBack[0])).messages.map((m) => ({
    message: m.message,
    signed: isValidSignature(MARKET, m.canonical, m.signature),
  }));
  t.deepEqual(
    acks.map((a) => [a.message.type, (a.message as { acknowledges?: string }).acknowledges]),
    [
      ['acknowledgement', 'market-spool-1'],
      ['acknowledgement', 'market-spool-2'],
    ],
  );
  t.true(acks.every((a) => a.signed));
  // Acknowledgements are not acknowledged: nothing more goes back to the hall.
  t.deepEqual(await readdir(path.join(s.outerDir, 'outbound')), []);
});

test('a duplicated bundle is applied once and answered again as a duplicate', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  const copy = path.join(s.outerDir, 'kept-copy');
  await copyFile(bundleAt(s.outerDir, 'outbound', outerToHall(1)), copy);
  await s.toHall();
  await s.hall.importInbound();

  await copyFile(copy, bundleAt(s.outerDir, 'outbound', outerToHall(1)));
  await s.toHall();
  const again = await s.hall.importInbound();

  t.like(again, [{ outcome: 'duplicate', number: 1, ackNumber: 2 }]);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 1);
  t.deepEqual(
    s.calls.map((c) => c.hook),
    ['startSupervision'],
  );
  const routes = await s.hall.store.listRoutes();
  t.deepEqual(routes, [
    { sender: 'hall', receiver: 'outer', lastSent: 2, lastReceived: 0, duplicates: 0 },
    { sender: 'outer', receiver: 'hall', lastSent: 0, lastReceived: 1, duplicates: 1 },
  ]);
  const [event] = await s.hall.store.listEvents({ kind: 'duplicate', limit: 5 });
  t.like(event, { sender: 'outer', receiver: 'hall', number: 1, flagged: false });

  // Both answers reach the outer side; the first (imported) stands.
  t.deepEqual(await s.toOuter(), [hallToOuter(1), hallToOuter(2)]);
  await s.outer.importInbound();
  t.is((await s.outer.store.findSent('outer', 'hall', 1))?.ackOutcome, 'imported');
  const duplicateAck = await readFile(bundleAt(s.outerDir, 'archive', hallToOuter(2)), 'utf8');
  t.regex(duplicateAck, /<outcome>duplicate<\/outcome>/);
  // The repeated answer carries the same message acknowledgement as the first.
  t.is(s.acksBack.length, 2);
  t.is(s.acksBack[0].toString(), s.acksBack[1].toString());
});

test('a removed bundle number shows as a gap to supervisors until it arrives', async (t) => {
  const s = await startSides(t);
  for (const n of [1, 2, 3]) await s.outer.sendMessages('hall', 'market', [accepted(n)]);
  const second = bundleAt(s.outerDir, 'outbound', outerToHall(2));
  const kept = path.join(s.outerDir, 'kept-2');
  await copyFile(second, kept);
  await rm(second);

  await s.toHall();
  const reports = await s.hall.importInbound();

  t.deepEqual(
    reports.map((r) => [r.number, r.outcome]),
    [
      [1, 'imported'],
      [3, 'imported'],
    ],
  );
  const url = await serve(t, spoolRoutes(s.hallDb));
  const view = await getJson(`${url}/exchange/spool`, 'dev-supervisor');
  t.is(view.status, 200);
  const route = view.body.routes.find((r: any) => r.sender === 'outer');
  t.like(route, { receiver: 'hall', lastReceived: 3, missing: [2] });
  const gap = view.body.events.find((e: any) => e.kind === 'gap');
  t.like(gap, { number: 3, firstMissing: 2, lastMissing: 2, flagged: true });
  t.is((await getJson(`${url}/exchange/spool`, 'dev-clerk')).status, 403);
  t.is((await getJson(`${url}/exchange/spool?kind=nonsense`, 'dev-supervisor')).status, 422);

  await copyFile(kept, second);
  await s.toHall();
  t.like(await s.hall.importInbound(), [{ number: 2, outcome: 'imported' }]);
  t.deepEqual(await s.hall.store.missing('outer', 'hall'), []);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 3);
});

test('a bundle lost on the way, or its answer, is written again after the period', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  await rm(bundleAt(s.outerDir, 'outbound', outerToHall(1)));
  t.deepEqual(await s.outer.resendOverdue('hall', 60_000), []);

  t.deepEqual(await s.outer.resendOverdue('hall', 0), [1]);
  await s.toHall();
  t.like(await s.hall.importInbound(), [{ outcome: 'imported', number: 1, ackNumber: 1 }]);
  await rm(bundleAt(s.hallDir, 'outbound', hallToOuter(1)));

  t.deepEqual(await s.outer.resendOverdue('hall', 0), [1]);
  await s.toHall();
  t.like(await s.hall.importInbound(), [{ outcome: 'duplicate', number: 1, ackNumber: 2 }]);
  t.deepEqual(await s.toOuter(), [hallToOuter(2)]);
  await s.outer.importInbound();

  t.is((await s.outer.store.findSent('outer', 'hall', 1))?.ackOutcome, 'duplicate');
  t.deepEqual(await s.outer.resendOverdue('hall', 0), []);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 1);
  // The hall's own number 1 never reached the outer side: a gap there, with 2 received.
  t.deepEqual(await s.outer.store.missing('hall', 'outer'), [1]);
});

// What is refused, with its reason, and applied not at all

test('a bundle with changed content is refused for its hash, answered, sent again', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  const file = bundleAt(s.outerDir, 'outbound', outerToHall(1));
  const good = await readFile(file, 'utf8');
  await writeFile(file, good.replace('<counter>W001</counter>', '<counter>W009</counter>'));

  await s.toHall();
  const [report] = await s.hall.importInbound();

  t.like(report, { outcome: 'refused', reason: 'hash_mismatch', number: 1, ackNumber: 1 });
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  t.is(await s.count(s.hallDb, 'exchange_rejections'), 0);
  t.deepEqual(s.calls, []);
  t.deepEqual(await s.hall.store.missing('outer', 'hall'), []);
  t.is((await readdir(path.join(s.hallDir, 'refused'))).length, 1);
  const [event] = await s.hall.store.listEvents({ kind: 'refused', limit: 5 });
  t.like(event, { reason: 'hash_mismatch', number: 1, flagged: true });

  await s.toOuter();
  await s.outer.importInbound();
  const refused = await s.outer.store.findSent('outer', 'hall', 1);
  t.like(refused, { ackOutcome: 'refused', ackReason: 'hash_mismatch' });

  // The sender writes the same bundle again, byte for byte; this time it is taken.
  await s.outer.resend('hall', 1);
  t.is(await readFile(file, 'utf8'), good);
  await s.toHall();
  t.like(await s.hall.importInbound(), [{ outcome: 'imported', number: 1 }]);
  await s.toOuter();
  await s.outer.importInbound();
  t.is((await s.outer.store.findSent('outer', 'hall', 1))?.ackOutcome, 'imported');
});

test('a bundle with a changed header is refused for its signature, unanswered', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  const file = bundleAt(s.outerDir, 'outbound', outerToHall(1));
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('<number>1</number>', '<number>7</number>'));

  await s.toHall();
  const [report] = await s.hall.importInbound();

  t.like(report, { outcome: 'refused', reason: 'bad_signature' });
  t.is(report.ackNumber, undefined);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  t.is(await s.count(s.hallDb, 'spool_bundles'), 0);
  t.deepEqual(await s.hall.store.listRoutes(), []);
  const [event] = await s.hall.store.listEvents({ kind: 'refused', limit: 5 });
  t.like(event, { reason: 'bad_signature', flagged: true, number: null });
});

test('a bundle signed with another key, or addressed to another side, is refused', async (t) => {
  const s = await startSides(t);
  const strangerDir = path.join(s.outerDir, '..', 'stranger');
  const stranger = await Spool.open({
    dir: strangerDir,
    side: 'outer',
    keys: {
      'outer->hall': 'a-key-the-hall-does-not-know',
      'outer->elsewhere': devSpoolKey('outer', 'elsewhere'),
    },
    store: new SpoolStore(s.outerDb),
  });
  await stranger.sendMessages('hall', 'market', [accepted(1)]);
  await stranger.sendMessages('elsewhere', 'market', [accepted(2)]);
  await ferryOnce({ from: strangerDir, to: s.hallDir });

  const reports = await s.hall.importInbound();

  t.deepEqual(
    reports.map((r) => [r.file.split('.')[1], r.outcome, r.reason]),
    [
      ['elsewhere', 'refused', 'unknown_route'],
      ['hall', 'refused', 'bad_signature'],
    ],
  );
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  t.is(await s.count(s.hallDb, 'spool_bundles'), 0);
});

test('a bundle file over the size limit is refused unread', async (t) => {
  const s = await startSides(t);
  const small = await Spool.open({
    dir: s.hallDir,
    side: 'hall',
    keys: KEYS,
    store: new SpoolStore(s.hallDb),
    maxBundleBytes: 4096,
  });
  const elements = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => accepted(n));
  await s.outer.sendMessages('hall', 'market', elements);
  await s.toHall();
  const { size } = await stat(bundleAt(s.hallDir, 'inbound', outerToHall(1)));
  t.true(size > 4096);

  const [report] = await small.importInbound();

  t.like(report, { outcome: 'refused', reason: 'too_large', number: undefined });
  t.regex(report.detail!, /at most 4096$/);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  t.deepEqual(await readdir(path.join(s.hallDir, 'inbound')), []);
});

test('a bundle truncated mid-copy is never imported', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  const name = outerToHall(1);
  const whole = await readFile(bundleAt(s.outerDir, 'outbound', name));
  const half = whole.subarray(0, Math.floor(whole.length / 2));
  const inbound = path.join(s.hallDir, 'inbound');

  // A ferry stopped mid-copy leaves its temporary file: no reader takes it.
  await writeFile(path.join(inbound, `.${name}.crashed.partial`), half);
  t.deepEqual(await s.hall.importInbound(), []);
  // A half file under the bundle's own name (a copy by other means) is refused whole.
  await writeFile(path.join(inbound, name), half);
  const [report] = await s.hall.importInbound();
  t.like(report, { outcome: 'refused', reason: 'malformed' });
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  t.deepEqual(s.calls, []);

  t.deepEqual(await s.toHall(), [name]);
  t.like(await s.hall.importInbound(), [{ outcome: 'imported', number: 1 }]);
  t.is(await s.count(s.hallDb, 'exchange_messages'), 1);
});

test('the ferry keeps the source when the copy cannot be put in place', async (t) => {
  const s = await startSides(t);
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  const name = outerToHall(1);
  // A directory where the file should land: the rename fails after the copy was written.
  await mkdir(path.join(s.hallDir, 'inbound', name));

  const report = await ferryOnce({ from: s.outerDir, to: s.hallDir });

  t.deepEqual(report.moved, []);
  t.is(report.failed[0]?.name, name);
  t.deepEqual(await readdir(path.join(s.outerDir, 'outbound')), [name]);
  t.deepEqual(await readdir(path.join(s.hallDir, 'inbound')), [name]);
  await rm(path.join(s.hallDir, 'inbound', name), { recursive: true });
  t.deepEqual(await s.toHall(), [name]);
  t.deepEqual(await readdir(path.join(s.outerDir, 'outbound')), []);
});

test('the running ferry carries both ways until stopped; a missing spool is refused', async (t) => {
  const s = await startSides(t);
  const stop = new AbortController();
  const moved: string[] = [];
  const running = runFerry(
    [
      { from: s.outerDir, to: s.hallDir },
      { from: s.hallDir, to: s.outerDir },
    ],
    { intervalMs: 20, signal: stop.signal, onPass: (r) => void moved.push(...r.moved) },
  );
  t.teardown(() => stop.abort());

  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  await waitFor(() => moved.includes(outerToHall(1)));
  await s.hall.importInbound();
  await waitFor(() => moved.includes(hallToOuter(1)));
  stop.abort();
  await running;

  t.deepEqual(moved, [outerToHall(1), hallToOuter(1)]);
  t.deepEqual(await readdir(path.join(s.outerDir, 'inbound')), [hallToOuter(1)]);
  const errors: string[] = [];
  const missing = path.join(s.hallDir, 'nowhere');
  const code = await runFerryCommand(
    ['--from', missing, '--to', s.hallDir, '--once'],
    { write: () => undefined },
    { write: (text) => errors.push(text) },
  );
  t.is(code, 2);
  t.deepEqual(errors, [`onedoor ferry: ${path.join(missing, 'outbound')} is not a directory\n`]);
});

test('an acknowledgement of a bundle never sent is reported', async (t) => {
  const s = await startSides(t);
  const ack = { acknowledges: 42, contentSha256: 'ab'.repeat(32), outcome: 'imported' as const };
  await s.outer.send('hall', 'acknowledgement', composeAcks([ack]), 1);
  await s.toHall();

  t.like(await s.hall.importInbound(), [{ outcome: 'imported', kind: 'acknowledgement' }]);

  const [event] = await s.hall.store.listEvents({ kind: 'unknown_ack', limit: 5 });
  t.like(event, { sender: 'hall', receiver: 'outer', number: 42, flagged: true });
  // Not answered: an acknowledgement is never acknowledged.
  t.deepEqual(await readdir(path.join(s.hallDir, 'outbound')), []);
});

test('a batch the exchange refuses whole is answered refused and dead-lettered', async (t) => {
  const s = await startSides(t);
  const tax = composeMessage(
    {
      type: 'statusChanged',
      messageId: 'tax-spool-1',
      department: 'tax',
      sequence: 1,
      caseNumber: 'TAX-2026-0001',
      timestamp: at(1),
      status: 'examining',
      at: at(1),
    },
    devExchangeSecret('tax'),
  );
  await s.outer.sendMessages('hall', 'tax', [tax]);
  await s.toHall();

  const [report] = await s.hall.importInbound();

  t.like(report, { outcome: 'refused', reason: 'unknown_department', number: 1, ackNumber: 1 });
  t.is(await s.count(s.hallDb, 'exchange_messages'), 0);
  const [rejection] = await s
    .hallDb('exchange_rejections')
    .select('reason', 'via', 'remote_address');
  t.deepEqual(rejection, {
    reason: 'unknown_department',
    via: 'spool',
    remote_address: 'spool:outer->hall#1',
  });
  await s.toOuter();
  await s.outer.importInbound();
  t.like(await s.outer.store.findSent('outer', 'hall', 1), {
    ackOutcome: 'refused',
    ackReason: 'unknown_department',
  });
  // Sending it again cannot help, so it is not resent by itself; a copy is told the same.
  t.deepEqual(await s.outer.resendOverdue('hall', 0), []);
  await s.outer.resend('hall', 1);
  await s.toHall();
  t.like(await s.hall.importInbound(), [{ outcome: 'duplicate', number: 1 }]);
  await s.toOuter();
  await s.outer.importInbound();
  t.like(await s.outer.store.findSent('outer', 'hall', 1), {
    ackOutcome: 'duplicate',
    ackReason: 'unknown_department',
  });
  t.is(await s.count(s.hallDb, 'exchange_rejections'), 1);
});

// Public status hall → outer portal

async function registerCase(db: Knex, caseNumber: string, code: string): Promise<void> {
  await db('cases').insert({
    case_number: caseNumber,
    item_code: 'market-food-business-licence',
    department: 'market',
    kind: 'promised',
    status: 'accepted',
    source: 'counter',
    applicant_type: 'person',
    applicant_name: '李伟',
    applicant: JSON.stringify({ type: 'person', name: '李伟', phone: '13800138000' }),
    channels: JSON.stringify(['sms']),
    materials: JSON.stringify(['application-form']),
    received_at: '2026-12-03T01:30:00Z',
    accepted_at: '2026-12-03T01:40:00Z',
    promised_due_at: '2026-12-17T15:59:59.999Z',
    reasons: '内部意见不公开',
  });
  await db('department_tasks').insert({
    case_number: caseNumber,
    task_code: 'market-food-business-licence',
    department: 'market',
    item_code: 'market-food-business-licence',
    role: 'lead',
    title: '食品经营许可',
    status: 'open',
    officer: '王科员',
  });
  await db('documents').insert({
    document_number: `D-${caseNumber}`,
    case_number: caseNumber,
    kind: 'receipt',
    event_key: `${caseNumber}:receipt`,
    media_type: 'text/html',
    content: Buffer.from('<p>receipt</p>'),
    sha256: '00'.repeat(32),
    verification_code: code,
    issued_at: '2026-12-03T01:40:00Z',
  });
}

test('changed cases reach the outer portal once, with nothing personal', async (t) => {
  const s = await startSides(t);
  const register = new RegisterStore(s.hallDb);
  await registerCase(s.hallDb, 'SZ-SMZX-20261203-00001', 'AB12CD34');
  await registerCase(s.hallDb, 'SZ-SMZX-20261203-00002', 'ZZ99YY88');
  const hallPortal = await serve(t, portalRoutes(register));
  const outerPortal = await serve(t, outerPortalRoutes(s.outerDb));
  const lookup = (base: string, n: string, code: string) =>
    getJson(`${base}/portal/cases/${n}?code=${code}`);

  const first = await exportPublicStatus(s.hall, register, 'outer');

  t.deepEqual(first, { bundles: [1], cases: 2 });
  const file = bundleAt(s.hallDir, 'outbound', hallToOuter(1));
  await assertValidBundle(t, file);
  const text = await readFile(file, 'utf8');
  for (const secret of ['李伟', '13800138000', '内部意见', '王科员', 'AB12CD34']) {
    t.false(text.includes(secret), secret);
  }
  await s.toOuter();
  t.like(await s.outer.importInbound(), [{ kind: 'publicStatus', outcome: 'imported' }]);
  const inner = await lookup(hallPortal, 'SZ-SMZX-20261203-00001', 'ab12cd34');
  t.is(inner.status, 200);
  t.deepEqual(await lookup(outerPortal, 'SZ-SMZX-20261203-00001', 'ab12cd34'), inner);
  t.like(inner.body, { status: 'accepted', promisedDueAt: '2026-12-17T15:59:59.999Z' });
  t.is((await lookup(outerPortal, 'SZ-SMZX-20261203-00001', 'ZZ99YY88')).status, 404);
  t.is((await lookup(outerPortal, 'SZ-SMZX-20261203-00009', 'AB12CD34')).status, 404);

  // Nothing changed: nothing goes out.
  t.deepEqual(await exportPublicStatus(s.hall, register, 'outer'), { bundles: [], cases: 0 });

  await s
    .hallDb('cases')
    .where({ case_number: 'SZ-SMZX-20261203-00002' })
    .update({ status: 'concluded', outcome: 'approved', updated_at: s.hallDb.fn.now() });
  t.deepEqual(await exportPublicStatus(s.hall, register, 'outer'), { bundles: [2], cases: 1 });
  await s.toOuter();
  await s.outer.importInbound();
  const concluded = await lookup(outerPortal, 'SZ-SMZX-20261203-00002', 'ZZ99YY88');
  t.deepEqual(concluded, await lookup(hallPortal, 'SZ-SMZX-20261203-00002', 'ZZ99YY88'));
  t.like(concluded.body, { status: 'concluded', outcome: 'approved' });

  // The hall hears that both status bundles were taken.
  await s.toHall();
  await s.hall.importInbound();
  t.deepEqual(await s.hall.store.unacknowledged('hall', 'outer'), []);
});

test('an older status bundle arriving late never overwrites a newer state', async (t) => {
  const s = await startSides(t);
  const register = new RegisterStore(s.hallDb);
  await registerCase(s.hallDb, 'SZ-SMZX-20261203-00003', 'AB12CD34');
  await exportPublicStatus(s.hall, register, 'outer');
  await s
    .hallDb('cases')
    .where({ case_number: 'SZ-SMZX-20261203-00003' })
    .update({ status: 'concluded', outcome: 'approved', updated_at: s.hallDb.fn.now() });
  await exportPublicStatus(s.hall, register, 'outer');
  const older = bundleAt(s.hallDir, 'outbound', hallToOuter(1));
  const kept = path.join(s.hallDir, 'kept-1');
  await copyFile(older, kept);
  await rm(older);

  await s.toOuter();
  await s.outer.importInbound();
  await copyFile(kept, older);
  await s.toOuter();
  await s.outer.importInbound();

  const found = await s.outer.store.findPublicStatus('SZ-SMZX-20261203-00003');
  t.like(found?.status, { status: 'concluded', outcome: 'approved' });
  t.deepEqual(await s.outer.store.missing('hall', 'outer'), []);
});

test('the spool migration goes down and up again', async (t) => {
  const { db } = await freshDatabase(t);
  await migrateLatest(db);
  const name = '20261203000070_spool.ts';
  const tables = [
    'spool_routes',
    'spool_bundles',
    'spool_events',
    'spool_status_exports',
    'portal_case_status',
  ];
  const spoolRow = {
    message_id: 'market-spool-1',
    department: 'market',
    sequence: 1,
    case_number: 'SCJG-2026-0001',
    type: 'caseAccepted',
    content_sha256: '00'.repeat(32),
    via: 'spool',
    ack: '<acknowledgement/>',
    ack_message_id: 'hall-ack-1',
  };
  await db('exchange_messages').insert(spoolRow);

  await db.migrate.down({ ...migrationConfig, name });
  for (const table of tables) t.false(await db.schema.hasTable(table), table);
  // Down, a message that came through the spool is kept, as pushed; the old rule holds again.
  t.is((await db('exchange_messages').first('via'))?.via, 'push');
  await t.throwsAsync(
    db('exchange_messages').insert({ ...spoolRow, message_id: 'market-spool-2' }),
  );
  await db.migrate.up({ ...migrationConfig, name });
  for (const table of tables) t.true(await db.schema.hasTable(table), table);
  await db('exchange_messages').insert({ ...spoolRow, message_id: 'market-spool-3' });
  const ids = await db('exchange_messages').where({ via: 'spool' }).pluck('message_id');
  t.deepEqual(ids, ['market-spool-3']);
});

test("the hall's spool opens from its settings; one pass imports, answers, exports", async (t) => {
  const s = await startSides(t);
  const dir = path.join(s.hallDir, '..', 'configured');
  const config = loadConfig({ SPOOL_DIR: dir, LOG_LEVEL: 'silent' });
  t.is(await openConfiguredSpool(loadConfig({}), s.hallDb), undefined);
  t.throws(() => loadConfig({ SPOOL_KEYS: '{"hall->outer":"short"}' }), { message: /SPOOL_KEYS/ });
  const register = new RegisterStore(s.hallDb);
  const messages = exchangeSpoolHandler({
    store: new ExchangeStore(s.hallDb),
    hooks: {
      startSupervision: async () => ({}),
      signalStatus: async () => undefined,
      acknowledgeTask: async () => undefined,
    },
    secrets: { market: MARKET },
  });
  const hall = (await openConfiguredSpool(config, s.hallDb, { messages }))!;
  await registerCase(s.hallDb, 'SZ-SMZX-20261203-00004', 'AB12CD34');
  await s.outer.sendMessages('hall', 'market', [accepted(1)]);
  await ferryOnce({ from: s.outerDir, to: dir });

  const pass = await runHallSpoolPass(hall, register, config.SPOOL_PEER);

  t.like(pass.imported, [{ outcome: 'imported', number: 1, ackNumber: 1 }]);
  t.deepEqual(pass.exported, { bundles: [2], cases: 1 });
  await ferryOnce({ from: dir, to: s.outerDir });
  t.deepEqual(
    (await s.outer.importInbound()).map((r) => [r.kind, r.outcome]),
    [
      ['acknowledgement', 'imported'],
      ['publicStatus', 'imported'],
    ],
  );
  t.like((await s.outer.store.findPublicStatus('SZ-SMZX-20261203-00004'))?.status, {
    status: 'accepted',
  });
});
