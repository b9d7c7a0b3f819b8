/**
 * Test harness: a whole hall in one test process, on a fresh register database, against the dev
 * server that scripts/test.sh starts (TEST_TEMPORAL_ADDRESS). Each call gets its own database and
 * task queue, so test files run in parallel without seeing each other's cases.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import knex, { type Knex } from 'knex';
import { startApi } from '../../cli/api';
import { createHallWorker } from '../../cli/worker';
import { loadConfig, type Config } from '../../lib/config';
import { migrateLatest } from '../../lib/db';
import { openRuntime, type Runtime } from '../../lib/runtime';

/** The admin connection tests create their databases with (the onedoor role has CREATEDB). */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://onedoor:onedoor@127.0.0.1:54329/onedoor';
/** The dev server the tests run against. */
export const TEST_TEMPORAL_ADDRESS = process.env.TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7233';

/** A fresh, migrated database; dropped at teardown. */
export async function freshDatabase(t: ExecutionContext): Promise<{ url: string; db: Knex }> {
  const name = `onedoor_t_${randomBytes(5).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = knex({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 10 } });
  t.teardown(async () => {
    await db.destroy();
    // A straggling connection of another role may refuse FORCE; a leftover test database is
    // harmless, so the teardown never fails a test for it.
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.destroy();
  });
  return { url: url.toString(), db };
}

/** A running hall for one test. */
export interface TestHall {
  config: Config;
  runtime: Runtime;
  client: Client;
  url: string;
  /** Calls the API as the holder of a dev token; answers status and JSON body. */
  call: (
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ) => Promise<{ status: number; body: any }>;
  /** Stops the worker (as a crash would, if `kill` is not awaited) and starts a new one. */
  restartWorker: () => Promise<void>;
}

/** Starts a hall (worker + API) on a fresh database and a task queue of its own. */
export async function startTestHall(
  t: ExecutionContext,
  overrides: Record<string, string> = {},
): Promise<TestHall> {
  const { url: databaseUrl, db } = await freshDatabase(t);
  await migrateLatest(db);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    // Each test hall numbers its cases apart: they share one Temporal namespace.
    CASE_NUMBER_PREFIX: `T${randomBytes(3).toString('hex').toUpperCase()}`,
    API_PORT: '0',
    DOCUMENTS_PDF: 'off',
    // No mail server or SMS gateway runs for most tests: their channels are off unless a test
    // starts the emulators and passes their URLs.
    SMTP_URL: '',
    SMS_GATEWAY_URL: '',
    LOG_LEVEL: 'silent',
    ...overrides,
  });
  const runtime = await openRuntime(config);
  await runtime.store.seedCatalog(runtime.catalog);
  t.teardown(() => runtime.db.destroy());

  const workerConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  let current: { worker: Worker; running: Promise<void>; close: () => Promise<void> } | undefined;
  const startWorker = async () => {
    const { worker, close } = await createHallWorker(config, runtime, workerConnection);
    current = { worker, running: worker.run(), close };
  };
  const stopWorker = async () => {
    if (!current) return;
    current.worker.shutdown();
    await current.running;
    await current.close();
    current = undefined;
  };
  await startWorker();
  t.teardown(async () => {
    await stopWorker();
    await workerConnection.close();
  });

  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  t.teardown(() => connection.close());
  const server: Server = await startApi(config, runtime, client);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call: TestHall['call'] = async (method, path, token, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  return {
    config,
    runtime,
    client,
    url,
    call,
    restartWorker: async () => {
      await stopWorker();
      await startWorker();
    },
  };
}

/** Waits until a condition on the API holds (cases settle asynchronously after a conclusion). */
export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}
