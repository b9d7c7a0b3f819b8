/**
 * The ferry (摆渡) between the isolated networks: it moves files from one side's
 * `spool/outbound/` to the other side's `spool/inbound/` and knows nothing of what they hold.
 * A file appears on the far side whole or not at all: it is copied under a temporary name
 * (a leading dot, which no reader takes), flushed to disk, and renamed; only once the rename is
 * on disk too is the source removed. A crash at any point leaves the source in place, and the
 * next run copies it again (the receiver recognises a bundle it took before by its number).
 */
import { randomUUID } from 'node:crypto';
import { copyFile, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The temporary name a file is written under in `dir` before it is renamed into place. */
export function partialNameOf(name: string): string {
  return `.${name}.${randomUUID()}.partial`;
}

/** True for the names no reader takes: temporary files, hidden files. */
export function isPartialName(name: string): boolean {
  return name.startsWith('.');
}

/** Flushes a directory's entries (a rename or an unlink) to disk. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `dir/name` atomically and durably: temp file, fsync, rename, fsync dir. */
export async function writeDurably(dir: string, name: string, data: Buffer): Promise<void> {
  const temp = path.join(dir, partialNameOf(name));
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path.join(dir, name));
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Copies a file into `dir` under its own name, whole or not at all, and durably. */
export async function copyDurably(source: string, dir: string, name: string): Promise<void> {
  const temp = path.join(dir, partialNameOf(name));
  try {
    await copyFile(source, temp);
    await syncFile(temp);
    const [from, to] = await Promise.all([stat(source), stat(temp)]);
    if (from.size !== to.size) {
      throw new Error(`copy of ${name} has ${to.size} bytes, the source ${from.size}`);
    }
    await rename(temp, path.join(dir, name));
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Two sides' spool directories: files go from `from/outbound` to `to/inbound`. */
export interface FerryCrossing {
  from: string;
  to: string;
}

/** What one pass of the ferry did. */
export interface FerryReport {
  moved: string[];
  /** Files that could not be moved this pass, with why; they stay at the source. */
  failed: { name: string; error: string }[];
  /** Temporary files of an interrupted earlier copy, removed from the far side. */
  cleaned: string[];
}

/** Temporary files older than this on the far side are left over from a crash. */
const STALE_PARTIAL_MS = 10 * 60 * 1000;

/** Moves every finished file across once, in name order. */
export async function ferryOnce(crossing: FerryCrossing): Promise<FerryReport> {
  const source = path.join(crossing.from, 'outbound');
  const target = path.join(crossing.to, 'inbound');
  const report: FerryReport = { moved: [], failed: [], cleaned: [] };

  for (const name of await readdir(target)) {
    if (!name.endsWith('.partial') || !isPartialName(name)) continue;
    const file = path.join(target, name);
    const info = await stat(file).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_PARTIAL_MS) {
      await unlink(file).catch(() => undefined);
      report.cleaned.push(name);
    }
  }

  const names = (await readdir(source, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && !isPartialName(entry.name))
    .map((entry) => entry.name)
    .sort();
  for (const name of names) {
    const file = path.join(source, name);
    try {
      await copyDurably(file, target, name);
    } catch (err) {
      report.failed.push({ name, error: (err as Error).message });
      continue;
    }
    // The copy is on disk under its final name: only now may the source go.
    await unlink(file);
    await syncDirectory(source);
    report.moved.push(name);
  }
  return report;
}

/** Throws a clear error unless both sides' spool directories are there. */
export async function checkCrossing(crossing: FerryCrossing): Promise<void> {
  for (const dir of [path.join(crossing.from, 'outbound'), path.join(crossing.to, 'inbound')]) {
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`${dir} is not a directory`);
  }
}

/**
 * Runs the ferry over its crossings until the signal aborts, one pass every `intervalMs`. A pass
 * that fails (a side unmounted for a while) is reported and the next one tries again.
 */
export async function runFerry(
  crossings: FerryCrossing[],
  opts: {
    intervalMs: number;
    signal: AbortSignal;
    onPass?: (report: FerryReport) => void;
    onError?: (err: Error, crossing: FerryCrossing) => void;
  },
): Promise<void> {
  while (!opts.signal.aborted) {
    for (const crossing of crossings) {
      try {
        opts.onPass?.(await ferryOnce(crossing));
      } catch (err) {
        opts.onError?.(err as Error, crossing);
      }
    }
    await sleep(opts.intervalMs, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}
