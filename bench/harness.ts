/**
 * What the benches share apart from servers (those are in bench/servers.ts): their flags, the
 * undo stack that leaves nothing behind, lanes of concurrent clients, nearest-rank percentiles,
 * the table of figures, the machine and its load, and the summary each bench hands bench/run.ts.
 * Not a bench: bench/run.ts does not run it.
 */
import Table from 'cli-table3';
import os from 'node:os';

// ---------------------------------------------------------------------------------------------
// Flags

/**
 * The values of the flags a bench knows (`--flag V` or `--flag=V`; the last one wins), by the
 * key each flag names; `parse` turns each value's text into the value or throws. Every other
 * argument is another bench's: bench/run.ts hands every bench the same argv.
 */
export function readFlags<K extends string, V = string>(
  argv: string[],
  flags: Record<string, K>,
  parse: (text: string, flag: string) => V = (text) => text as V,
): Partial<Record<K, V>> {
  const values: Partial<Record<K, V>> = {};
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i].indexOf('=');
    const flag = eq < 0 ? argv[i] : argv[i].slice(0, eq);
    if (!Object.hasOwn(flags, flag)) continue;
    const text = eq < 0 ? argv[++i] : argv[i].slice(eq + 1);
    if (text === undefined) throw new Error(`${flag} needs a value`);
    values[flags[flag]] = parse(text, flag);
  }
  return values;
}

/** Flags whose values are whole numbers of at least `min` (positive integers by default). */
export function integerFlags<K extends string>(
  argv: string[],
  flags: Record<string, K>,
  min = 1,
): Partial<Record<K, number>> {
  return readFlags(argv, flags, (text, flag) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new Error(
        min === 1 ? `${flag} needs a positive integer` : `${flag} needs an integer ≥ ${min}`,
      );
    }
    return value;
  });
}

// ---------------------------------------------------------------------------------------------
// Cleanup

/** A stack of things to undo, run last-in first-out even when an earlier undo fails. */
export class Cleanup {
  private readonly steps: { what: string; undo: () => Promise<unknown> }[] = [];

  add(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  /**
   * A stack of its own for one part of a bench, undone when the part ends (its `run`) or, if
   * the bench is interrupted first, with this one.
   */
  nested(what: string): Cleanup {
    const part = new Cleanup();
    this.add(what, () => part.run());
    return part;
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (err) {
        console.error(`cleanup: ${step.what} failed: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Runs `body` with a cleanup that runs when it ends, and also on Ctrl-C or SIGTERM (then the
 * process exits 130) and on an uncaught exception: a connection library that throws from a
 * timer (the gRPC channel of a dev server that went away) would otherwise end the process with
 * its database and dev server left behind.
 */
export async function withCleanup<T>(
  label: string,
  body: (cleanup: Cleanup) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  const interrupted = () => {
    void cleanup.run().finally(() => process.exit(130));
  };
  const crashed = (err: unknown) => {
    console.error(`${label}: crashed:`, err);
    void cleanup.run().finally(() => process.exit(1));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.once('uncaughtException', crashed);
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    process.off('uncaughtException', crashed);
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks `probe` every `everyMs` until it answers true; throws after `timeoutMs`. */
export async function until(
  probe: () => Promise<boolean>,
  what: string,
  { timeoutMs, everyMs }: { timeoutMs: number; everyMs: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * Runs job(0) … job(n - 1), `concurrency` at a time, each lane taking the next index when its
 * job is done; answers the wall time in ms. A job that throws fails the whole run.
 */
export async function inLanes(
  n: number,
  concurrency: number,
  job: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return performance.now() - started;
}

/** The figures of one phase of a bench: what each play answered, the failures, the wall time. */
export interface Phase<T> {
  timings: T[];
  failures: string[];
  wallMs: number;
}

/** Plays n cases with `concurrency` clients; a failed case is counted, not thrown. */
export async function drive<T>(
  n: number,
  concurrency: number,
  play: (i: number) => Promise<T>,
): Promise<Phase<T>> {
  const timings: T[] = [];
  const failures: string[] = [];
  const wallMs = await inLanes(n, concurrency, async (i) => {
    try {
      timings.push(await play(i));
    } catch (err) {
      failures.push(`case ${i}: ${(err as Error).message}`);
    }
  });
  return { timings, failures, wallMs };
}

/** Plays n cases that are not counted (bundles, pools, caches warm); any failure throws. */
export async function warmUp(
  label: string,
  n: number,
  concurrency: number,
  play: (i: number) => Promise<unknown>,
): Promise<void> {
  const warm = await drive(n, concurrency, play);
  if (warm.failures.length > 0) throw new Error(`${label} warm-up failed: ${warm.failures[0]}`);
}

// ---------------------------------------------------------------------------------------------
// Figures

/** Nearest-rank percentile, p in 0–100: of 100 samples p99 is the 99th, of 10 the slowest. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (samples: number[]): number => percentile(samples, 50);

export const mean = (samples: number[]): number =>
  samples.length === 0 ? NaN : samples.reduce((a, b) => a + b, 0) / samples.length;

/** A borderless table of figures: the first column left, the others right, unless told. */
export function figureTable(head: string[], colAligns?: Table.HorizontalAlignment[]): Table.Table {
  return new Table({
    head,
    colAligns: colAligns ?? head.map((_, i) => (i === 0 ? 'left' : 'right')),
    style: { head: [], border: [] },
  });
}

/** `12 cores (model), 31.2 GiB, Node v20.x`. */
export function machine(): string {
  const cpus = os.cpus();
  return (
    `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`
  );
}

/** The load average now (1, 5, 15 min), e.g. `0.8 0.6 0.5`. */
export const loadAverage = (digits = 1): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(digits))
    .join(' ');

// ---------------------------------------------------------------------------------------------
// Summary

/** A goal a bench measures itself against, and whether this run met it. */
export interface Goal {
  goal: string;
  met: boolean;
}

/** What a bench's run(argv) may answer for the summary bench/run.ts prints at the end. */
export interface BenchSummary {
  /** Its headline figures, one short phrase each. */
  figures: string[];
  goals?: Goal[];
}

/** Runs a bench's `run` when its file is the entry point (`npx tsx bench/NAME.ts ...`). */
export function runIfMain(mod: NodeModule, run: (argv: string[]) => Promise<unknown>): void {
  if (require.main !== mod) return;
  run(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
