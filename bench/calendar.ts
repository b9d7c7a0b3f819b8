/**
 * Calendar bench: 10,000 due dates on the shipped arrangement, cold (index built on the first)
 * and warm. Prints figures; asserts nothing.
 */
import { buildSnapshotFromChineseDays, computeDue } from '../lib/calendar';
import { type BenchSummary, runIfMain } from './harness';

function batch(snapshot: ReturnType<typeof buildSnapshotFromChineseDays>): number {
  const begin = performance.now();
  for (let i = 0; i < 10_000; i++) {
    computeDue(snapshot, {
      start: new Date(Date.UTC(2026, 0, 1) + i * 2_591_000),
      days: 5 + (i % 40),
      unit: i % 3 === 0 ? 'calendarDays' : 'workingDays',
      suspensions: i % 7 === 0 ? [{ from: '2026-06-01', to: '2026-06-05' }] : [],
    });
  }
  return performance.now() - begin;
}

/** Runs the calendar bench and prints its figures. */
export async function run(): Promise<BenchSummary> {
  const snapshot = buildSnapshotFromChineseDays();
  const cold = batch(snapshot);
  const warm = batch(snapshot);
  process.stdout.write(
    `calendar: 10,000 due dates: cold ${cold.toFixed(1)} ms, warm ${warm.toFixed(1)} ms ` +
      `(${((warm * 1000) / 10_000).toFixed(2)} µs each)\n`,
  );
  return { figures: [`${((warm * 1000) / 10_000).toFixed(2)} µs per due date, warm`] };
}

runIfMain(module, run);
