/**
 * The calendar re-arm's messages and shapes, declared apart from the workflow (like
 * messages.ts) so the API, a client, imports them without workflow code.
 */
import { defineQuery } from '@temporalio/workflow';

/** How far a re-arm has got; carried over continue-as-new, so it counts the whole re-arm. */
export interface RearmProgress {
  /** The calendar version every running clock is told of. */
  version: string;
  /** Running clocks read from the register so far. */
  listed: number;
  /** Clocks signalled. */
  signalled: number;
  /** Clocks whose workflow had ended by the time their signal went (nothing to re-arm). */
  skipped: number;
  /** Pages of the register read. */
  pages: number;
  /** Runs of the workflow (one more at each continue-as-new). */
  runs: number;
  startedAt: string;
  finishedAt: string | null;
  done: boolean;
}

/**
 * The id of the re-arm of one calendar version: a second start for it finds the first. The
 * hall's task queue is part of it, as the case number prefix is of a case's: halls that share a
 * Temporal namespace (the test halls do) each re-arm their own clocks.
 */
export function rearmWorkflowId(taskQueue: string, version: string): string {
  return `calendar-rearm-${version}-${taskQueue}`;
}

/** The re-arm's progress. */
export const rearmProgressQuery = defineQuery<RearmProgress>('rearmProgress');
