import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { ClockCursor, RegisterStore } from '../lib/store';
import { calendarChangedSignal } from '../workflows/messages';

/**
 * Tells one running clock that the calendar changed: 'closed' when its workflow has ended (a
 * task concluded or cancelled since the page was listed), which is no error.
 */
export type ClockSignaller = (
  workflowId: string,
  version: string,
) => Promise<'signalled' | 'closed'>;

/** What the re-arm activities need. */
export interface RearmDeps {
  store: RegisterStore;
  /** Defaults to a signal through the worker's own client (the activity context's). */
  signalClock?: ClockSignaller;
  /** Signals in flight at once within one batch (default 16). */
  lanes?: number;
}

/** A closed workflow answers NOT_FOUND (gRPC code 5), whichever connection carried the call. */
function isClosed(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err as { code?: unknown })?.code === 5;
}

const signalThroughWorkerClient: ClockSignaller = async (workflowId, version) => {
  try {
    await Context.current()
      .client.workflow.getHandle(workflowId)
      .signal(calendarChangedSignal, { version });
    return 'signalled';
  } catch (err) {
    if (isClosed(err)) return 'closed';
    throw err;
  }
};

/**
 * Activities of the calendar re-arm (workflows/calendarRearm.ts): the running clocks from the
 * register, a page at a time, and the calendar-change signal to a batch of them.
 */
export function createRearmActivities(deps: RearmDeps) {
  const signal = deps.signalClock ?? signalThroughWorkerClient;
  const lanes = deps.lanes ?? 16;
  return {
    /** One page of the running clocks' workflow ids, in key order, and where the next starts. */
    async listRunningClocks(req: {
      after: ClockCursor | null;
      limit: number;
    }): Promise<{ ids: string[]; next: ClockCursor | null }> {
      return deps.store.runningClockPage(req.after, req.limit);
    },

    /**
     * Signals a batch of clocks, `lanes` at a time. A retry signals the whole batch again: a
     * clock already on this calendar version ignores the repeat (workflows/clockHandlers.ts), so
     * the counts of the attempt that succeeds are the batch's.
     */
    async signalCalendarChange(req: {
      version: string;
      workflowIds: string[];
    }): Promise<{ signalled: number; skipped: number }> {
      let next = 0;
      let signalled = 0;
      let skipped = 0;
      const lane = async () => {
        while (next < req.workflowIds.length) {
          const id = req.workflowIds[next++];
          if ((await signal(id, req.version)) === 'signalled') signalled++;
          else skipped++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(lanes, req.workflowIds.length) }, lane));
      return { signalled, skipped };
    },
  };
}
