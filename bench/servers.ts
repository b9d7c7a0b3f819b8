/**
 * The servers a bench starts for itself and takes down at its cleanup: a Temporal dev server of
 * its own (never the shared one or the hall's), a fresh register database, and the hall on them
 * (worker and API in the bench's process) or a bare worker for bench/bareWorkflows.ts. Not a
 * bench: bench/run.ts does not run it.
 *
 * The hall's modules that log are loaded when first needed, not at the top: the hall's logger
 * takes LOG_LEVEL when first imported, and a bench run on its own wants warnings only.
 */
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import knex from 'knex';
import { loadConfig, REPO_ROOT, type Config } from '../lib/config';
import { openRuntime, type Runtime } from '../lib/runtime';
import type { BareActivities } from './bareWorkflows';
import { type Cleanup, sleep } from './harness';

/** The PostgreSQL cluster the benches create their databases in. */
export const ADMIN_DATABASE_URL =
  process.env.DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';

/** A random hex tag for names that must not clash between runs. */
export const randomId = (bytes = 4): string => randomBytes(bytes).toString('hex');

const exec = promisify(execFile);
const DEV_SERVER_SCRIPT = path.join(REPO_ROOT, 'scripts', 'temporal-dev.sh');

/** A running dev server of a bench's own. */
export interface DevServer {
  address: string;
  /** Its process, for CPU accounting; undefined once it is gone. */
  pid(): number | undefined;
  /** Where it logs (scripts/temporal-dev.sh). */
  logFile: string;
}

/**
 * Starts a dev server of the bench's own (scripts/temporal-dev.sh) named `name` on `port` (its
 * UI on `uiPort`, by default port + 1000), on a throwaway SQLite file (`db` under
 * .data/temporal, by default NAME-RANDOM.db); stopped and the file removed at cleanup. With
 * `replaceLeftover`, first stops a server of the same name and removes the file, which a killed
 * run of a bench with a fixed file name leaves behind.
 */
export async function startDevServer(
  cleanup: Cleanup,
  options: { name: string; port: number; uiPort?: number; db?: string; replaceLeftover?: boolean },
): Promise<DevServer> {
  const { name, port, uiPort = port + 1000 } = options;
  const db = path.join(REPO_ROOT, '.data', 'temporal', options.db ?? `${name}-${randomId()}.db`);
  // The script does nothing when TEMPORAL_ADDRESS is set: this server must be the bench's own.
  const env = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  const removeDb = () =>
    Promise.all(['', '-wal', '-shm', '-journal'].map((s) => rm(`${db}${s}`, { force: true })));
  const stop = () => exec('bash', [DEV_SERVER_SCRIPT, 'stop', '--name', name], { env });
  if (options.replaceLeftover) {
    await stop();
    await removeDb();
  }
  cleanup.add(`removing the ${name} dev server db`, removeDb);
  cleanup.add(`stopping the ${name} dev server`, stop);
  const args = ['--port', String(port), '--ui-port', String(uiPort), '--db', db, '--name', name];
  try {
    await exec('bash', [DEV_SERVER_SCRIPT, 'start', ...args], { env });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`the ${name} dev server did not start:\n${stderr.trim()}`);
  }
  const pidFile = path.join(REPO_ROOT, '.data', `temporal-${name}.pid`);
  return {
    address: `127.0.0.1:${port}`,
    pid: () => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
    logFile: path.join(REPO_ROOT, '.data', `temporal-${name}.log`),
  };
}

/** A fresh, empty database `PREFIX_RANDOM` of the bench's own; dropped at cleanup. */
export async function freshDatabase(
  cleanup: Cleanup,
  prefix: string,
): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomId()}`;
  const admin = knex({ client: 'pg', connection: ADMIN_DATABASE_URL, pool: { min: 0, max: 1 } });
  cleanup.add('closing the admin connection', () => admin.destroy());
  await admin.raw(`CREATE DATABASE ${name}`);
  cleanup.add(`dropping ${name}`, () => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/**
 * The hall's configuration for a bench: its own task queue (QUEUE-RANDOM), the API on a free
 * port of 127.0.0.1, documents stored as HTML only, development tokens on. No mail server or
 * SMS gateway runs here: both channels off, as in the tests (the notify activities still run
 * and record each notice as not sent by that channel). `overrides` win.
 */
export function benchConfig(
  databaseUrl: string,
  temporalAddress: string,
  queue: string,
  overrides: Record<string, string> = {},
): Config {
  return loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: `${queue}-${randomId(3)}`,
    API_PORT: '0',
    API_HOST: '127.0.0.1',
    DOCUMENTS_PDF: 'off',
    SMTP_URL: '',
    SMS_GATEWAY_URL: '',
    DEV_TOKENS: 'on',
    ...overrides,
  });
}

/** The register on the configured database (migrated unless told), its catalog seeded. */
export async function openRegister(
  cleanup: Cleanup,
  config: Config,
  { migrate = true, seed = true } = {},
): Promise<Runtime> {
  const runtime = await openRuntime(config, { migrate });
  cleanup.add('closing the register pool', () => runtime.db.destroy());
  if (seed) await runtime.store.seedCatalog(runtime.catalog);
  return runtime;
}

/** A Temporal client; its connection closed at cleanup. */
export async function connectClient(
  cleanup: Cleanup,
  address: string,
  namespace = 'default',
): Promise<Client> {
  const connection = await Connection.connect({ address });
  cleanup.add('closing the client connection', () => connection.close());
  return new Client({ connection, namespace });
}

async function connectWorker(cleanup: Cleanup, address: string): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  const connection = await NativeConnection.connect({ address });
  cleanup.add('closing the worker connection', () => connection.close());
  return connection;
}

/** Runs `worker` until cleanup; a dev server that broke down may never answer its last polls. */
function runUntilCleanup(
  cleanup: Cleanup,
  what: string,
  worker: { run(): Promise<void>; shutdown(): void },
): void {
  const running = worker.run();
  cleanup.add(`stopping the ${what}`, async () => {
    worker.shutdown();
    await Promise.race([running, sleep(30_000)]);
  });
}

/** The hall's worker (cli/worker.ts) on the runtime, in this process, until cleanup. */
export async function startHallWorker(
  cleanup: Cleanup,
  config: Config,
  runtime: Runtime,
): Promise<void> {
  process.env.LOG_LEVEL ??= 'warn';
  const { createHallWorker } = await import('../cli/worker');
  const connection = await connectWorker(cleanup, config.TEMPORAL_ADDRESS);
  const { worker, close } = await createHallWorker(config, runtime, connection);
  cleanup.add('closing the document service', close);
  runUntilCleanup(cleanup, 'hall worker', worker);
}

/** The hall's API (cli/api.ts) on the runtime, closed at cleanup. Answers its base URL. */
export async function startHallApi(
  cleanup: Cleanup,
  config: Config,
  runtime: Runtime,
  temporal: Client,
): Promise<string> {
  process.env.LOG_LEVEL ??= 'warn';
  const { startApi } = await import('../cli/api');
  const server = await startApi(config, runtime, temporal);
  cleanup.add('closing the API', () => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The whole hall of a bench: register, worker, client and API, all undone at cleanup. */
export async function startHall(
  cleanup: Cleanup,
  config: Config,
): Promise<{ runtime: Runtime; temporal: Client; apiUrl: string }> {
  const runtime = await openRegister(cleanup, config);
  await startHallWorker(cleanup, config, runtime);
  const temporal = await connectClient(cleanup, config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);
  const apiUrl = await startHallApi(cleanup, config, runtime, temporal);
  return { runtime, temporal, apiUrl };
}

/** No-op activities named after the hall's: a bare phase measures Temporal alone. */
const bareActivities: BareActivities = {
  recordEvent: async () => true,
  computeClock: async () => '',
  computeDeadline: async () => '',
  notify: async () => '',
  deliverTask: async () => '',
  issueDocument: async () => '',
};

/**
 * A worker of bench/bareWorkflows.ts with no-op activities on its own task queue (QUEUE-RANDOM)
 * until cleanup, and a client. Answers the task queue and the client.
 */
export async function startBareWorker(
  cleanup: Cleanup,
  address: string,
  queue: string,
): Promise<{ taskQueue: string; client: Client }> {
  const { bundleWorkflowCode, DefaultLogger, Worker } = await import('@temporalio/worker');
  const taskQueue = `${queue}-${randomId(3)}`;
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./bareWorkflows'),
    logger: new DefaultLogger('WARN'),
  });
  const connection = await connectWorker(cleanup, address);
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowBundle,
    activities: bareActivities,
  });
  runUntilCleanup(cleanup, 'bare worker', worker);
  const client = await connectClient(cleanup, address);
  return { taskQueue, client };
}
