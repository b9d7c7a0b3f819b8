import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { loadConfig, REPO_ROOT } from '../lib/config';
import { loadCatalog } from '../lib/catalog/load';
import { HallClient, loadApplications, playApplication, type PlayResult } from './driver';
import { runSeed } from './seed';

const BIN = path.join(REPO_ROOT, 'bin', 'onedoor.js');
/** Where the demo's emulator of the departments' own systems listens. */
const DEPARTMENT_SYSTEM_PORT = 8140;

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

/** Plays the batch with a few applications in flight at once, as several counters would. */
async function playBatch(
  bankUrl: string,
  client: HallClient,
  leadOf: (item: string) => string,
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
        result = await playApplication(client, app, leadOf(app.item), bankUrl);
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
    head: ['department', 'approved', 'denied', 'refused', 'withdrawn', 'in progress', 'errors'],
  });
  const rows = new Map<string, number[]>();
  for (const r of results) {
    const d = departmentOf(r.id);
    const row = rows.get(d) ?? [0, 0, 0, 0, 0, 0];
    const col = r.error
      ? 5
      : (({ approved: 0, denied: 1, refusedToAccept: 2, withdrawn: 3 } as Record<string, number>)[
          r.outcome ?? ''
        ] ?? 4);
    row[col]++;
    rows.set(d, row);
  }
  for (const [d, row] of [...rows].sort()) byOutcome.push([d, ...row.map(String)]);
  const totals = [...rows.values()].reduce(
    (acc, row) => acc.map((v, i) => v + row[i]),
    [0, 0, 0, 0, 0, 0],
  );
  byOutcome.push(['total', ...totals.map(String)]);
  process.stdout.write(`\n${byOutcome.toString()}\n`);
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

  // Departments with their own system receive their tasks by webhook, here from an emulator of
  // those systems running as its own process; the others work from the hall inbox.
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
  children.push(startChild('worker'), startChild('api'));
  const stop = () => {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(0);
  });

  const url = `http://${config.API_HOST}:${config.API_PORT}`;
  await waitForApi(url);
  const client = new HallClient(url);
  const leadOf = (item: string) => catalog.items.get(item)?.department ?? 'market';
  const results = await playBatch(
    config.BANK_URL,
    client,
    leadOf,
    config.DATA_PATH,
    Number(values.concurrency),
  );
  const apps = new Map(loadApplications(config.DATA_PATH).map((a) => [a.id, a]));
  printSummary(results, (id) => leadOf(apps.get(id)!.item));

  const dbUrl = new URL(config.DATABASE_URL);
  process.stdout.write(
    [
      '',
      'Where to look next:',
      `  API           ${url}/docs   (token e.g. "Authorization: Bearer dev-supervisor")`,
      `  a case        curl -H 'Authorization: Bearer dev-supervisor' ${url}/cases/${results.find((r) => r.caseNumber)?.caseNumber ?? ''}`,
      `  supervision   curl -H 'Authorization: Bearer dev-supervisor' ${url}/supervision/cases?level=red`,
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
