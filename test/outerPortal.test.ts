/**
 * The two networks as they run: the hall (API + worker with SPOOL_DIR), the ferry between the
 * spools, and `onedoor outer-portal` on a database of its own. An applicant on the outer network
 * looks the case up there and gets what the hall's portal answers; the outer side's answers reach
 * the hall by the same route, so the hall owes it nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import { startOuterPortal } from '../cli/outerPortal';
import { loadConfig } from '../lib/config';
import { migrateLatest } from '../lib/db';
import { ferryOnce } from '../lib/exchange/ferry';
import { buildApplication } from './support/builders';
import { eventually, freshDatabase, startTestHall } from './support/hall';

const CLERK = 'dev-clerk-market';

interface SpoolView {
  routes: { sender: string; receiver: string; lastSent: number; unacknowledged: unknown[] }[];
}

test('the outer portal answers a lookup as the hall does, from bundles alone', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'onedoor-outer-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const innerDir = path.join(root, 'inner');
  const outerDir = path.join(root, 'outer');
  const hall = await startTestHall(t, { SPOOL_DIR: innerDir, SPOOL_INTERVAL_SECONDS: '1' });

  const { url: outerUrl, db: outerDb } = await freshDatabase(t);
  await migrateLatest(outerDb);
  const outerConfig = loadConfig({
    ...process.env,
    DATABASE_URL: outerUrl,
    SPOOL_DIR: outerDir,
    SPOOL_SIDE: 'outer',
    SPOOL_PEER: 'hall',
    SPOOL_INTERVAL_SECONDS: '1',
    API_PORT: '0',
    LOG_LEVEL: 'silent',
  });
  const outer = await startOuterPortal(outerConfig, outerDb);
  t.teardown(() => outer.stop());
  const outerBase = `http://127.0.0.1:${(outer.server.address() as AddressInfo).port}`;

  const { body } = await hall.call('POST', '/cases', CLERK, buildApplication());
  const caseNumber: string = body.case.caseNumber;
  await hall.call('POST', `/cases/${caseNumber}/intake`, CLERK, { decision: 'accept' });
  const [receipt] = await hall.runtime
    .db('documents')
    .where({ case_number: caseNumber, kind: 'receipt' });
  const lookup = async (base: string, code = String(receipt.verification_code)) => {
    const res = await fetch(`${base}/portal/cases/${caseNumber}?code=${code}`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const inHall = await eventually(
    () => lookup(hall.url),
    (r) => r.body.departments?.[0]?.status === 'open',
  );

  // Nothing but files crosses: the ferry in both directions, the sides' own timers.
  const found = await eventually(
    async () => {
      await ferryOnce({ from: innerDir, to: outerDir });
      await ferryOnce({ from: outerDir, to: innerDir });
      return lookup(outerBase);
    },
    (r) => isDeepStrictEqual(r, inHall),
    30_000,
  );
  t.deepEqual(found, inHall);
  t.is((await lookup(outerBase, 'AAAAAAAA')).status, 404);

  const routes = await eventually(
    async () => {
      await ferryOnce({ from: outerDir, to: innerDir });
      return (await hall.call('GET', '/exchange/spool', 'dev-supervisor')).body as SpoolView;
    },
    (v) => v.routes.some((r) => r.sender === 'hall' && r.lastSent > 0 && !r.unacknowledged.length),
    30_000,
  );
  const toOuter = routes.routes.find((r) => r.sender === 'hall' && r.receiver === 'outer');
  t.deepEqual(toOuter?.unacknowledged, []);
});
