/**
 * What both parts of the supervision bench (bench/supervision.ts) share: its options, the
 * item it opens, its dev server's name, how it talks and how it calls the hall's API.
 */
import type { Config } from '../../lib/config';
import type { Cleanup } from '../harness';
import { benchConfig, freshDatabase, randomId } from '../servers';

/** The options of bench/supervision.ts (its header lists the flags). */
export interface Options {
  register: number;
  requests: number;
  rearm: number;
  fallback: number;
  budgetS: number;
  concurrency: number;
  part: 'list' | 'rearm' | 'all';
  temporalPort: number;
  uiPort: number;
}

export const ITEM = 'market-food-business-licence';
/** The name of the bench's own dev server (scripts/temporal-dev.sh --name). */
export const TEMPORAL_NAME = 'benchsup';
/**
 * No progress for this long means the run is stuck. A dev server starved of CPU can break down
 * for good (its SQLite store then answers every query with "interrupted (9)"): better a clear
 * failure than a bench that hangs.
 */
export const STALL_MS = 180_000;

export const say = (line: string) => console.log(`supervision bench: ${line}`);
export const fmt = (n: number) => n.toLocaleString('en-US');
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One call to the hall's API; answers the status and the parsed body. */
export async function call(
  base: string,
  method: string,
  pathAndQuery: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The hall's configuration for a part: its own task queue and case number prefix. */
export function hallConfig(databaseUrl: string, temporalAddress: string): Config {
  return benchConfig(databaseUrl, temporalAddress, 'bench-sup', {
    CASE_NUMBER_PREFIX: `BSUP${randomId(2).toUpperCase()}`,
  });
}

/** A fresh register database of the part's own (onedoor_bench_sup_TAG_RANDOM), named. */
export async function partDatabase(cleanup: Cleanup, tag: string): Promise<string> {
  const { name, url } = await freshDatabase(cleanup, `onedoor_bench_sup_${tag}`);
  say(`database ${name}`);
  return url;
}
