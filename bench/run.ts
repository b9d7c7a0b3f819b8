/**
 * `npm run bench`: runs every bench of bench/ in turn, each one a file that exports
 * `run(argv: string[]): Promise<void>`, with the command line's arguments (each bench takes the
 * options it knows and ignores the others). `--only NAME[,NAME]` runs just those (file names
 * without .ts). A file without that export is skipped and named, since importing a script that
 * runs at load would start it with arguments it was not written for. A bench whose run answers
 * a BenchSummary (bench/harness.ts) has its headline figures and goals in the summary printed
 * at the end.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type BenchSummary, readFlags } from './harness';

/** Not benches: this runner, the workflows the case benches bundle, and their shared modules. */
const NOT_BENCHES = new Set(['run', 'bareWorkflows', 'harness', 'servers']);
const EXPORTS_RUN = /^export\s+(async\s+)?function\s+run\s*\(|^export\s+const\s+run\s*=/m;

function onlyOf(argv: string[]): Set<string> | undefined {
  const { only } = readFlags(argv, { '--only': 'only' });
  if (only === undefined) return undefined;
  if (!only) throw new Error('--only needs a bench name');
  return new Set(only.split(','));
}

const isSummary = (value: unknown): value is BenchSummary =>
  typeof value === 'object' && value !== null && Array.isArray((value as BenchSummary).figures);

/** One block at the end: each bench's headline figures and goals, or that it failed. */
function printSummary(names: string[], summaries: Map<string, BenchSummary>, failed: string[]) {
  const ran = names.filter((n) => summaries.has(n) || failed.includes(n));
  if (ran.length === 0) return;
  console.log('\n=== summary');
  for (const name of ran) {
    const summary = summaries.get(name);
    const status = failed.includes(name) ? ' (failed)' : '';
    console.log(`${name}${status}: ${summary?.figures.join('; ') ?? 'no figures'}`);
    for (const { goal, met } of summary?.goals ?? []) {
      console.log(`  goal ${goal}: ${met ? 'met' : 'NOT met'}`);
    }
  }
}

async function main(argv: string[]): Promise<void> {
  // The hall's logger takes its level when first imported; a bench wants warnings only.
  process.env.LOG_LEVEL ??= 'warn';
  const only = onlyOf(argv);
  const names = (await readdir(__dirname))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((name) => !NOT_BENCHES.has(name) && (!only || only.has(name)))
    .sort();
  for (const name of only ?? []) {
    if (!names.includes(name)) throw new Error(`no bench bench/${name}.ts`);
  }

  const failed: string[] = [];
  const summaries = new Map<string, BenchSummary>();
  for (const name of names) {
    const file = path.join(__dirname, `${name}.ts`);
    if (!EXPORTS_RUN.test(await readFile(file, 'utf8'))) {
      console.log(`bench/${name}.ts: skipped (it exports no run(argv) for bench/run.ts to call)`);
      continue;
    }
    console.log(`\n=== bench/${name}.ts`);
    const bench = (await import(file)) as { run: (argv: string[]) => Promise<unknown> };
    // A bench reports failed figures through the exit code; each one's is read on its own.
    process.exitCode = 0;
    try {
      const answer = await bench.run(argv);
      if (isSummary(answer)) summaries.set(name, answer);
    } catch (err) {
      console.error(err);
      process.exitCode = 1;
    }
    if (process.exitCode) failed.push(name);
  }
  printSummary(names, summaries, failed);
  process.exitCode = failed.length > 0 ? 1 : 0;
  if (failed.length > 0) console.log(`\nbenches that failed: ${failed.join(', ')}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
