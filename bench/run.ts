/**
 * `npm run bench`: runs every bench of bench/ in turn, each one a file that exports
 * `run(argv: string[]): Promise<void>`, with the command line's arguments (each bench takes the
 * options it knows and ignores the others). `--only NAME[,NAME]` runs just those (file names
 * without .ts). A file without that export is skipped and named, since importing a script that
 * runs at load would start it with arguments it was not written for.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Not benches: this runner, and the workflows the case bench bundles. */
const NOT_BENCHES = new Set(['run', 'bareWorkflows']);
const EXPORTS_RUN = /^export\s+(async\s+)?function\s+run\s*\(|^export\s+const\s+run\s*=/m;

function onlyOf(argv: string[]): Set<string> | undefined {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return undefined;
  const value = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  if (!value) throw new Error('--only needs a bench name');
  return new Set(value.split(','));
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
  for (const name of names) {
    const file = path.join(__dirname, `${name}.ts`);
    if (!EXPORTS_RUN.test(await readFile(file, 'utf8'))) {
      console.log(`bench/${name}.ts: skipped (it exports no run(argv) for bench/run.ts to call)`);
      continue;
    }
    console.log(`\n=== bench/${name}.ts`);
    const bench = (await import(file)) as { run: (argv: string[]) => Promise<void> };
    // A bench reports failed figures through the exit code; each one's is read on its own.
    process.exitCode = 0;
    try {
      await bench.run(argv);
    } catch (err) {
      console.error(err);
      process.exitCode = 1;
    }
    if (process.exitCode) failed.push(name);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
  if (failed.length > 0) console.log(`\nbenches that failed: ${failed.join(', ')}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
