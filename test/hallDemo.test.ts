/**
 * The demo's split of the reference batch: the applications of departments with their own
 * system are played by those systems through the exchange, the rest through the hall's intake.
 */
import test from 'ava';
import { loadApplications, playThroughExchange, routeOf, HallClient } from '../cli/driver';
import { startDepartmentSimulator } from '../emulators/departmentSimulator';
import { loadCatalog } from '../lib/catalog/load';
import { loadConfig } from '../lib/config';
import { pollScheduleIdOf } from '../cli/outboxPolling';
import { startTestHall } from './support/hall';

const { DATA_PATH } = loadConfig({});
const catalog = loadCatalog(DATA_PATH);
const apps = loadApplications(DATA_PATH);
const hasOwnSystem = (d: string) => catalog.departments.get(d)?.hasOwnSystem === true;

test('22 reference applications go through the exchange, none joint or with fees', (t) => {
  const viaExchange = apps
    .filter((a) => routeOf(a, catalog.items.get(a.item)!, hasOwnSystem) === 'exchange')
    .map((a) => a.id);

  // Counted by hand from data/applications.json and the catalog's hasOwnSystem: market 1, 25,
  // 29, 43; planning 5–8 (37 pays a fee); housing 9, 10, 45; fire 12, 27; hrss 18, 30, 44;
  // exit-entry 20, 31, 41, 42 (36 pays); tax 24, 26. Joint cases 38–40 stay at the counter.
  const expected = [
    1, 5, 6, 7, 8, 9, 10, 12, 18, 20, 24, 25, 26, 27, 29, 30, 31, 41, 42, 43, 44, 45,
  ];
  t.deepEqual(
    viaExchange,
    expected.map((n) => `APP-${String(n).padStart(4, '0')}`),
  );
});

test('a pushing and a polled department system play their cases to the end', async (t) => {
  const tax = await startDepartmentSimulator({ department: 'tax' });
  t.teardown(() => tax.close());
  const hall = await startTestHall(t, {
    EXCHANGE_OUTBOXES: JSON.stringify({ tax: tax.outboxUrl }),
    EXCHANGE_POLL_INTERVAL_MS: '1000',
  });
  const schedule = hall.client.schedule.getHandle(
    pollScheduleIdOf(hall.config.TEMPORAL_TASK_QUEUE, 'tax'),
  );
  t.teardown(() => schedule.delete().catch(() => undefined));
  tax.connect(hall.url);
  const market = await startDepartmentSimulator({ department: 'market', hallUrl: hall.url });
  t.teardown(() => market.close());
  const client = new HallClient(hall.url);
  const app = (id: string) => apps.find((a) => a.id === id)!;
  const run = Date.now().toString(36);

  // 0025: immediate, decided on the spot; 0029: corrected in market's own system first;
  // 0024: tax, which cannot push.
  const results = await Promise.all([
    playThroughExchange(client, market, app('APP-0025'), { polled: false, run }),
    playThroughExchange(client, market, app('APP-0029'), { polled: false, run }),
    playThroughExchange(client, tax, app('APP-0024'), { polled: true, run }),
  ]);

  t.deepEqual(
    results.map((r) => [r.caseNumber, r.status, r.outcome, r.via]),
    [
      [`MARKET-APP-0025-${run}`, 'collected', 'approved', 'exchange'],
      [`MARKET-APP-0029-${run}`, 'collected', 'approved', 'exchange'],
      [`TAX-APP-0024-${run}`, 'collected', 'approved', 'exchange'],
    ],
  );
  const corrected = await hall.runtime.store.getCase(`MARKET-APP-0029-${run}`);
  t.true(corrected?.materials.includes('food-safety-rules'));
  const via = await hall.runtime
    .db('exchange_messages')
    .whereIn('department', ['market', 'tax'])
    .select('department', 'via', 'type')
    .orderBy(['department', 'sequence']);
  t.deepEqual(
    via.filter((r) => r.department === 'tax').map((r) => [r.type, r.via]),
    [
      ['caseAccepted', 'poll'],
      ['statusChanged', 'poll'],
      ['caseConcluded', 'poll'],
    ],
  );
  t.is(via.filter((r) => r.department === 'market' && r.via === 'push').length, 6);
});
