// `onedoor due`, in-process through runDue and end to end through bin/onedoor.js. The expected
// dates are the hand-counted ones of lib/calendar/due.test.ts, which also reruns this file with
// TZ set to Asia/Shanghai, UTC and America/New_York.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { runDue } from './due';

function run(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runDue(
    argv,
    { write: (text: string) => (out += text) },
    { write: (text: string) => (err += text) },
  );
  return { code, out, err };
}

const repo = path.resolve(__dirname, '..');
const bin = path.join(repo, 'bin', 'onedoor.js');

test('it prints the due date and the number of working days counted', (t) => {
  const { code, out, err } = run('--from', '2026-09-28', '--days', '20');
  t.is(code, 0);
  t.is(out, '2026-10-30\ncounted: 20 working days from 2026-09-28\n');
  t.is(err, '');
});

test('a longer limit after an extension is counted the same way', (t) => {
  t.is(run('--from', '2026-09-28', '--days', '30').out.split('\n')[0], '2026-11-13');
});

test('a suspension given as from/to is not counted', (t) => {
  const { out } = run('--from', '2026-09-28', '--days', '20', '--suspend', '2026-10-12/2026-10-16');
  t.is(out.split('\n')[0], '2026-11-06');
});

test('suspensions may be repeated and a single day stands for itself', (t) => {
  const { out } = run(
    '--from',
    '2026-09-28',
    '--days',
    '20',
    '--suspend',
    '2026-10-12/2026-10-14',
    '--suspend',
    '2026-10-15',
    '--suspend',
    '2026-10-16',
  );
  t.is(out.split('\n')[0], '2026-11-06');
});

test('calendar days ending inside National Day move to the next working day', (t) => {
  const { out } = run('--from', '2026-09-28', '--days', '5', '--unit', 'calendarDays');
  t.is(out, '2026-10-08\ncounted: 5 calendar days from 2026-09-28\n');
});

test('a due date in an unpublished year says so on the second line', (t) => {
  const { code, out } = run('--from', '2026-12-01', '--days', '30');
  t.is(code, 0);
  t.deepEqual(out.split('\n'), [
    '2027-01-13',
    'provisional: 2027 not yet published',
    'counted: 30 working days from 2026-12-01',
    '',
  ]);
});

test('an ISO instant is taken in the hall zone', (t) => {
  // 16:30Z on 09-27 is 00:30 on 09-28 in Beijing.
  const { out } = run('--from', '2026-09-27T16:30:00Z', '--days', '20');
  t.is(out, '2026-10-30\ncounted: 20 working days from 2026-09-28\n');
});

test('--tz changes the zone the start is read in', (t) => {
  const { out } = run('--from', '2026-09-27T20:00:00Z', '--days', '20', '--tz', 'UTC');
  t.is(out.split('\n')[0], '2026-10-29');
});

test('an open-ended suspension prints what remains instead of a date', (t) => {
  const { code, out } = run('--from', '2026-09-28', '--days', '20', '--suspend', '2026-10-12/');
  t.is(code, 0);
  t.is(
    out,
    'suspended since 2026-10-12: 15 working days still to count\n' +
      'counted: 5 working days from 2026-09-28\n',
  );
});

test('--help prints the usage and succeeds', (t) => {
  const { code, out } = run('--help');
  t.is(code, 0);
  t.regex(out, /^usage: onedoor due/);
});

for (const [title, argv, message] of [
  ['a missing --from is refused', ['--days', '20'], /--from is required/],
  ['a missing --days is refused', ['--from', '2026-09-28'], /--days is required/],
  ['a non-numeric --days is refused', ['--from', '2026-09-28', '--days', '2x'], /whole number/],
  ['a negative --days is refused', ['--from', '2026-09-28', '--days', '-3'], /--days/],
  ['an impossible date is refused', ['--from', '2026-02-30', '--days', '1'], /not a real date/],
  [
    'an instant without an offset is refused',
    ['--from', '2026-09-28T10:00', '--days', '1'],
    /ISO instant with an offset/,
  ],
  [
    'an unknown unit is refused',
    ['--from', '2026-09-28', '--days', '1', '--unit', 'weeks'],
    /--unit/,
  ],
  ['an unknown option is refused', ['--from', '2026-09-28', '--days', '1', '--fast'], /--fast/],
  ['a stray argument is refused', ['--from', '2026-09-28', '--days', '1', 'extra'], /extra/],
  [
    'an unknown time zone is refused',
    ['--from', '2026-09-28', '--days', '1', '--tz', 'Mars/Base'],
    /--tz/,
  ],
  [
    'a malformed suspension is refused',
    ['--from', '2026-09-28', '--days', '1', '--suspend', '2026-10-12..2026-10-16'],
    /--suspend/,
  ],
  [
    'a suspension that ends before it starts is refused',
    ['--from', '2026-09-28', '--days', '1', '--suspend', '2026-10-16/2026-10-12'],
    /ends before it starts/,
  ],
] as const) {
  test(`${title}, with exit code 2`, (t) => {
    const { code, out, err } = run(...argv);
    t.is(code, 2);
    t.is(out, '');
    t.regex(err, message);
  });
}

test('bin/onedoor.js is an executable node script', (t) => {
  t.true(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'));
  t.notThrows(() => accessSync(bin, constants.X_OK));
});

test('bin/onedoor.js dispatches due to runDue', (t) => {
  const child = spawnSync(process.execPath, [bin, 'due', '--from', '2026-02-13', '--days', '20'], {
    encoding: 'utf8',
  });
  t.is(child.status, 0, child.stderr);
  t.is(child.stdout, '2026-03-19\ncounted: 20 working days from 2026-02-13\n');
});

test('bin/onedoor.js passes on the exit code 2 of bad arguments', (t) => {
  const child = spawnSync(process.execPath, [bin, 'due', '--days', 'x'], { encoding: 'utf8' });
  t.is(child.status, 2);
  t.regex(child.stderr, /onedoor due:/);
});

test('bin/onedoor.js lists the known commands for an unknown one', (t) => {
  const child = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
  t.is(child.status, 2);
  t.regex(child.stderr, /unknown command "frobnicate"/);
  t.regex(child.stderr, /^ {2}due {2}/m);
});
