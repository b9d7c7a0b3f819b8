import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCatalog, CatalogError, loadCatalog } from '../lib/catalog/load';

const DATA = path.join(__dirname, '..', 'data');
const raw = () => JSON.parse(readFileSync(path.join(DATA, 'catalog.json'), 'utf8'));
const promises = () => JSON.parse(readFileSync(path.join(DATA, 'promises.json'), 'utf8'));

test('the shipped catalog loads: 15 departments, 31 items, three joint bundles', (t) => {
  const catalog = loadCatalog(DATA);
  t.is(catalog.departments.size, 15);
  t.is(catalog.items.size, 31);
  const joint = [...catalog.items.values()].filter((i) => i.kind === 'joint').map((i) => i.code);
  t.deepEqual(joint.sort(), [
    'joint-construction-parallel-approval',
    'joint-open-private-hospital',
    'joint-open-restaurant',
  ]);
});

test('promised limits come from promises.json and default to the statutory limit', (t) => {
  const catalog = loadCatalog(DATA);
  const food = catalog.items.get('market-food-business-licence')!;
  t.deepEqual(food.statutoryLimit, { days: 10, unit: 'workingDays' });
  t.deepEqual(food.promisedLimit, { days: 5, unit: 'workingDays' });
  const tax = catalog.items.get('tax-registration')!;
  t.deepEqual(tax.promisedLimit, tax.statutoryLimit);
});

test('a law that counts from receipt is kept apart from one that counts from acceptance', (t) => {
  const catalog = loadCatalog(DATA);
  t.is(catalog.items.get('housing-construction-permit')!.clockStartsAt, 'receipt');
  t.is(catalog.items.get('market-food-business-licence')!.clockStartsAt, 'acceptance');
});

test('every bad entry is listed at once, not only the first', (t) => {
  const cat = raw();
  cat.items[0].department = 'no-such-department';
  cat.items[1].statutoryLimit.unit = 'fortnights';
  const prom = promises();
  prom.promisedLimits['market-food-business-licence'] = { days: 50, unit: 'workingDays' };
  prom.promisedLimits['no-such-item'] = { days: 1, unit: 'workingDays' };
  const error = t.throws(() => buildCatalog(cat, prom), { instanceOf: CatalogError });
  const text = error!.problems.join('\n');
  t.regex(text, /unknown department no-such-department/);
  t.regex(text, /statutoryLimit\.unit/);
  t.regex(text, /promised 50 workingDays exceeds statutory 10/);
  t.regex(text, /promises no-such-item: no such item/);
  t.true(error!.problems.length >= 4);
});

test('a cycle among a joint item’s tasks is a catalog error found at load time', (t) => {
  const cat = raw();
  const restaurant = cat.items.find((i: { code: string }) => i.code === 'joint-open-restaurant');
  const registration = restaurant.tasks.find(
    (task: { item: string }) => task.item === 'market-enterprise-registration',
  );
  registration.dependsOn = ['urban-shop-sign-filing'];
  const error = t.throws(() => buildCatalog(cat, promises()), { instanceOf: CatalogError });
  t.regex(error!.problems.join('\n'), /joint-open-restaurant: task dependency cycle/);
});

test('a promised limit in another unit than the statutory one is refused', (t) => {
  const prom = promises();
  prom.promisedLimits['market-food-business-licence'] = { days: 5, unit: 'calendarDays' };
  const error = t.throws(() => buildCatalog(raw(), prom), { instanceOf: CatalogError });
  t.regex(
    error!.problems.join('\n'),
    /promised limit is in calendarDays, statutory in workingDays/,
  );
});
