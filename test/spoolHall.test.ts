/**
 * The running hall across isolated networks: with SPOOL_DIR set, the API process passes over its
 * spool by itself, so a case accepted at the counter reaches the outer portal through the ferry,
 * and the outer side's answer comes back by the same route.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import { migrateLatest } from '../lib/db';
import { devSpoolKey } from '../lib/exchange/bundleConfig';
import { lookUpPublicStatus } from '../lib/exchange/bundleStatus';
import { SpoolStore } from '../lib/exchange/bundleStore';
import { ferryOnce } from '../lib/exchange/ferry';
import { Spool } from '../lib/exchange/spool';
import { buildApplication } from './support/builders';
import { acceptedCase, receiptOf } from './support/cases';
import { eventually, freshDatabase, startTestHall } from './support/hall';

const CLERK = 'dev-clerk-market';
const SUPERVISOR = 'dev-supervisor';

test('a case accepted at the counter reaches the outer portal through the ferry', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'onedoor-spool-hall-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const innerDir = path.join(root, 'inner');
  const outerDir = path.join(root, 'outer');
  const hall = await startTestHall(t, { SPOOL_DIR: innerDir, SPOOL_INTERVAL_SECONDS: '1' });

  const { db: outerDb } = await freshDatabase(t);
  await migrateLatest(outerDb);
  const outerStore = new SpoolStore(outerDb);
  const outer = await Spool.open({
    dir: outerDir,
    side: 'outer',
    keys: {
      'hall->outer': devSpoolKey('hall', 'outer'),
      'outer->hall': devSpoolKey('outer', 'hall'),
    },
    store: outerStore,
  });

  const caseNumber = await acceptedCase(hall, CLERK, buildApplication());
  const receipt = await receiptOf(hall, caseNumber);
  const code = String(receipt.verification_code);
  // The hall's portal answer once the department's task is open: what the outer side must show.
  const onPortal = await eventually(
    async () => {
      const res = await fetch(`${hall.url}/portal/cases/${caseNumber}?code=${code}`);
      return (await res.json()) as { departments?: { status: string }[] };
    },
    (found) => found.departments?.[0]?.status === 'open',
  );

  // The hall's own passes write the bundle; the ferry carries it; the outer side imports it.
  const seen = await eventually(
    async () => {
      await ferryOnce({ from: innerDir, to: outerDir });
      await outer.importInbound();
      return lookUpPublicStatus(outerStore, caseNumber, code);
    },
    (status) => isDeepStrictEqual(status, onPortal),
    30_000,
  );
  t.deepEqual(seen, onPortal);
  t.is(await lookUpPublicStatus(outerStore, caseNumber, 'AAAAAAAA'), undefined);

  // Nothing personal crossed: the applicant's name and numbers are in no bundle file.
  const archived = path.join(outerDir, 'archive');
  for (const name of await readdir(archived)) {
    const text = await readFile(path.join(archived, name), 'utf8');
    for (const personal of ['深圳市测试餐饮有限公司', '91440300MA5000022Q', '13800000002']) {
      t.false(text.includes(personal), `${personal} in ${name}`);
    }
  }

  // The outer side's answer goes back by the same route; the hall then owes nothing.
  await outer.flush();
  await ferryOnce({ from: outerDir, to: innerDir });
  const routes = await eventually(
    async () => (await hall.call('GET', '/exchange/spool', SUPERVISOR)).body,
    (view) => sentToOuter(view) > 0 && unanswered(view) === 0,
    30_000,
  );
  t.true(sentToOuter(routes) > 0);
  t.is(unanswered(routes), 0);
});

interface SpoolView {
  routes?: { sender: string; receiver: string; unacknowledged?: unknown[] }[];
}

/** Whether the hall → outer route is known to the hall's register (it sent on it). */
function sentToOuter(view: SpoolView): number {
  return (view.routes ?? []).filter((r) => r.sender === 'hall' && r.receiver === 'outer').length;
}

/** Bundles the hall sent that the other side has not answered yet, over every route. */
function unanswered(view: SpoolView): number {
  return (view.routes ?? []).reduce((n, r) => n + (r.unacknowledged?.length ?? 0), 0);
}
