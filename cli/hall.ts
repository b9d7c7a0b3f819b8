import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { loadCatalog } from '../lib/catalog/load';
import {
  startDepartmentSimulator,
  type DepartmentSimulator,
} from '../emulators/departmentSimulator';
import {
  HallClient,
  loadApplications,
  playApplication,
  playThroughExchange,
  routeOf,
  type PlayResult,
  type ReferenceApplication,
} from './driver';
import { runSeed } from './seed';

const BIN = path.join(REPO_ROOT, 'bin', 'onedoor.js');
/** Where the demo's emulator of the departments' own systems listens. */
const DEPARTMENT_SYSTEM_PORT = 8140;
/** The department the demo plays as a system that cannot push: the hall polls its outbox. */
const POLLED_DEPARTMENT = 'tax';
/** Where that department's outbox is served (by its simulator, in this process). */
const POLLED_OUTBOX_PORT = 8141;

function startChild(name: string, args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [BIN, name, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: process.env,
  });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`onedoor ${name} exited (${signal ?? code}); stopping the hall\n`);
      process.exit(1);
    }
  });
  return child;
}

let stopping = false;

async function waitForApi(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API did not answer at ${url} within ${timeoutMs / 1000} s`);
}

/** How the batch reaches the hall: the API client, and the simulators of own-system departments. */
interface Players {
  client: HallClient;
  bankUrl: string;
  leadOf: (item: string) => string;
  routeOf: (app: ReferenceApplication) => 'intake' | 'exchange';
  simulators: Map<string, DepartmentSimulator>;
  polled: Set<string>;
  run: string;
}

function play(players: Players, app: ReferenceApplication): Promise<PlayResult> {
  const department = players.leadOf(app.item);
  const simulator = players.simulators.get(department);
  if (players.routeOf(app) === 'exchange' && simulator) {
    return playThroughExchange(players.client, simulator, app, {
      polled: players.polled.has(department),
      run: players.run,
    });
  }
  return playApplication(players.client, app, department, players.bankUrl);
}

/** Plays the batch with a few applications in flight at once, as several counters would. */
async function playBatch(
  players: Players,
  dataPath: string,
  concurrency: number,
): Promise<PlayResult[]> {
  const apps = loadApplications(dataPath);
  const bar = new cliProgress.SingleBar(
    { format: 'cases {bar} {value}/{total} | {last}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(apps.length, 0, { last: '' });
  const results: PlayResult[] = [];
  let next = 0;
  const lane = async () => {
    while (next < apps.length) {
      const app = apps[next++];
      let result: PlayResult;
      try {
        result = await play(players, app);
      } catch (err) {
        result = { id: app.id, skipped: [], error: (err as Error).message };
      }
      results.push(result);
      bar.increment(1, {
        last: `${app.id} ${result.caseNumber ?? ''} ${result.status ?? result.error}`,
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  bar.stop();
  return results.sort((a, b) => a.id.localeCompare(b.id));
}

function printSummary(results: PlayResult[], departmentOf: (id: string) => string): void {
  const byOutcome = new Table({
    head: [
      'department',
      'approved',
      'denied',
      'refused',
      'withdrawn',
      'in progress',
      'errors',
      'via exchange',
    ],
  });
  const rows = new Map<string, number[]>();
  for (const r of results) {
    const d = departmentOf(r.id);
    const row = rows.get(d) ?? [0, 0, 0, 0, 0, 0, 0];
    const col = r.error
      ? 5
      : (({ approved: 0, denied: 1, refusedToAccept: 2, withdrawn: 3 } as Record<string, number>)[
          r.outcome ?? ''
        ] ?? 4);
    row[col]++;
    if (r.via === 'exchange' && !r.error) row[6]++;
    rows.set(d, row);
  }
  for (const [d, row] of [...rows].sort()) byOutcome.push([d, ...row.map(String)]);
  const totals = [...rows.values()].reduce(
    (acc, row) => acc.map((v, i) => v + row[i]),
    [0, 0, 0, 0, 0, 0, 0],
  );
  byOutcome.push(['total', ...totals.map(String)]);
  process.stdout.write(`\n${byOutcome.toString()}\n`);
  const pushed = results.filter((r) => r.via === 'exchange' && !r.error).length;
  process.stdout.write(
    `  ${pushed} of ${results.length} came through the exchange (caseAccepted, statusChanged, ` +
      `caseConcluded from the departments' own systems; ${POLLED_DEPARTMENT}'s polled from its ` +
      "outbox); the rest through the hall's intake\n",
  );
  for (const r of results.filter((x) => x.error)) process.stdout.write(`  ${r.id}: ${r.error}\n`);
  for (const r of results.filter((x) => x.skipped.length > 0)) {
    process.stdout.write(`  ${r.id} ${r.caseNumber}: not played yet: ${r.skipped.join('; ')}\n`);
  }
}

/**
 * `onedoor hall [--once]`: the main job. Seeds the register, starts the worker and the API as
 * their own processes, plays the reference applications through the API, prints a summary, and
 * keeps the hall running until Ctrl-C (or exits after the batch with --once).
 */
export async function runHall(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      once: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '4' },
    },
  });
  const config = loadConfig();
  const catalog = loadCatalog(config.DATA_PATH);
  await runSeed([]);

  // Departments with their own system receive their tasks as exchange messages, here from an
  // emulator of those systems running as its own process; the others work from the hall inbox.
  const children: ChildProcess[] = [];
  if (Object.keys(config.DEPARTMENT_ENDPOINTS).length === 0) {
    const port = DEPARTMENT_SYSTEM_PORT;
    children.push(startChild('department-system', ['--port', String(port)]));
    const endpoints = Object.fromEntries(
      [...catalog.departments.values()]
        .filter((d) => d.hasOwnSystem)
        .map((d) => [d.code, `http://127.0.0.1:${port}/tasks/${d.code}`]),
    );
    // The worker is a child process: it reads its endpoints from the environment it is given.
    process.env.DEPARTMENT_ENDPOINTS = JSON.stringify(endpoints);
  }
  // The outside world's mail server and SMS gateway, as processes of their own (emulators):
  // started only when the configuration points at their loopback defaults.
  if (config.SMTP_URL === 'smtp://127.0.0.1:2525') {
    children.push(startChild('smtp-server', ['--port', '2525']));
  }
  if (config.SMS_GATEWAY_URL === 'http://127.0.0.1:8125') {
    const reports = `${config.PUBLIC_URL}/notifications/sms/delivery-reports`;
    children.push(startChild('sms-gateway', ['--port', '8125', '--callback-url', reports]));
  }
  if (config.BANK_URL === 'http://127.0.0.1:8130') {
    const callbacks = `${config.PUBLIC_URL}/bank/callbacks`;
    children.push(
      startChild('bank', [
        '--port',
        '8130',
        '--secret',
        config.BANK_SECRET,
        '--callback-url',
        callbacks,
      ]),
    );
  }
  // The departments' own systems as the exchange sees them: a simulator each, in this process
  // (the demo's driver plays their side as it plays the counters'). One of them cannot push:
  // the worker polls its outbox on a schedule.
  const url = `http://${config.API_HOST}:${config.API_PORT}`;
  const ownSystems = [...catalog.departments.values()].filter((d) => d.hasOwnSystem);
  const polled = new Set<string>();
  if (Object.keys(config.EXCHANGE_OUTBOXES).length === 0) {
    polled.add(POLLED_DEPARTMENT);
    const outbox = `http://127.0.0.1:${POLLED_OUTBOX_PORT}/outbox`;
    process.env.EXCHANGE_OUTBOXES = JSON.stringify({ [POLLED_DEPARTMENT]: outbox });
    process.env.EXCHANGE_POLL_INTERVAL_MS ??= '2000';
  } else {
    for (const d of Object.keys(config.EXCHANGE_OUTBOXES)) polled.add(d);
  }
  const simulators = new Map<string, DepartmentSimulator>();
  for (const d of ownSystems) {
    const port = d.code === POLLED_DEPARTMENT && polled.has(d.code) ? POLLED_OUTBOX_PORT : 0;
    simulators.set(
      d.code,
      // A real system keeps its counter across restarts; the clock stands in for it here, so
      // each run's sequence starts above the last run's (and the hall's poll cursor).
      await startDepartmentSimulator({
        department: d.code,
        hallUrl: url,
        port,
        firstSequence: Date.now(),
      }),
    );
  }

  children.push(startChild('worker'), startChild('api'));
  const stop = () => {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    for (const sim of simulators.values()) void sim.close();
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(0);
  });

  await waitForApi(url);
  const client = new HallClient(url);
  const leadOf = (item: string) => catalog.items.get(item)?.department ?? 'market';
  const players: Players = {
    client,
    bankUrl: config.BANK_URL,
    leadOf,
    routeOf: (app) => routeOf(app, catalog.items.get(app.item)!, (d) => simulators.has(d)),
    simulators,
    polled,
    // Each run's department case numbers are new: the register keeps the cases of earlier runs.
    run: Date.now().toString(36),
  };
  const results = await playBatch(players, config.DATA_PATH, Number(values.concurrency));
  const apps = new Map(loadApplications(config.DATA_PATH).map((a) => [a.id, a]));
  printSummary(results, (id) => leadOf(apps.get(id)!.item));

  const dbUrl = new URL(config.DATABASE_URL);
  const curl = `curl -H 'Authorization: Bearer dev-supervisor' ${url}`;
  const someCase = results.find((r) => r.caseNumber)?.caseNumber ?? '';
  process.stdout.write(
    [
      '',
      'Where to look next:',
      `  API           ${url}/docs   (token e.g. "Authorization: Bearer dev-supervisor")`,
      `  a case        ${curl}/cases/${someCase}`,
      `  supervision   ${curl}/supervision/cases?level=red`,
      `  Temporal UI   ${config.TEMPORAL_UI_URL}`,
      `  register      psql ${dbUrl.toString()}   (tables cases, department_tasks, audit_trail)`,
      '',
    ].join('\n'),
  );
  const failed = results.filter((r) => r.error).length;
  if (values.once) {
    stop();
    return failed > 0 ? 1 : 0;
  }
  process.stdout.write('The hall keeps running; Ctrl-C stops it.\n');
  await new Promise(() => undefined);
  return 0;
}
