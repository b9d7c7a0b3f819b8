/**
 * The re-arm of every running clock after a calendar change (a hall closure, a correction, a
 * newly published year). The register lists the open tasks and running joint cases a page at a
 * time; each page is signalled in batches, a few batches at once, so neither the API request
 * nor the Temporal server takes the whole fan-out at one go, and a crash resumes at the page it
 * was on. Each clock computes its own due moments again when told (workflows/clockHandlers.ts).
 *
 * The signals go from an activity, through the worker's client, rather than as external-signal
 * commands of this workflow: a command costs two history events and a workflow task round trip
 * per clock (and the server caps pending external signals per workflow), where an activity
 * sends a batch of a hundred for three events. Their only drawback, a retried batch signalling
 * some clocks twice, is harmless: a clock ignores a calendar version it already has.
 */
import { continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HallActivities } from '../activities';
import { rearmProgressQuery, type RearmProgress } from './calendarRearmMessages';

/** Where a page of the register's running clocks ends (opaque here: the store reads it). */
type ClockCursor = Parameters<HallActivities['listRunningClocks']>[0]['after'];

const rearm = proxyActivities<Pick<HallActivities, 'listRunningClocks' | 'signalCalendarChange'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** What a re-arm is started with; `cursor` and `progress` carry a run over to the next. */
export interface CalendarRearmInput {
  version: string;
  /** Clocks read from the register per page (default 1,000). */
  pageSize?: number;
  /** Clocks per signalling activity (default 100). */
  batchSize?: number;
  /** Signalling activities in flight at once (default 4). */
  parallelBatches?: number;
  /** History events after which the run continues as new at the next page (default 5,000). */
  historyLimit?: number;
  cursor?: ClockCursor | null;
  progress?: RearmProgress;
}

/** Tells every running clock of the calendar version `version`; returns what it did. */
export async function calendarRearmWorkflow(input: CalendarRearmInput): Promise<RearmProgress> {
  const pageSize = input.pageSize ?? 1000;
  const batchSize = input.batchSize ?? 100;
  const parallel = input.parallelBatches ?? 4;
  const historyLimit = input.historyLimit ?? 5000;
  const progress: RearmProgress = input.progress
    ? { ...input.progress, runs: input.progress.runs + 1 }
    : {
        version: input.version,
        listed: 0,
        signalled: 0,
        skipped: 0,
        pages: 0,
        runs: 1,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        done: false,
      };
  setHandler(rearmProgressQuery, () => ({ ...progress }));

  let cursor = input.cursor ?? null;
  for (;;) {
    const page = await rearm.listRunningClocks({ after: cursor, limit: pageSize });
    progress.listed += page.ids.length;
    const batches: string[][] = [];
    for (let i = 0; i < page.ids.length; i += batchSize) {
      batches.push(page.ids.slice(i, i + batchSize));
    }
    let next = 0;
    const lane = async () => {
      while (next < batches.length) {
        const workflowIds = batches[next++];
        const told = await rearm.signalCalendarChange({ version: input.version, workflowIds });
        progress.signalled += told.signalled;
        progress.skipped += told.skipped;
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, batches.length) }, lane));
    progress.pages++;

    cursor = page.next;
    if (!cursor) break;
    const info = workflowInfo();
    if (info.historyLength >= historyLimit || info.continueAsNewSuggested) {
      await continueAsNew<typeof calendarRearmWorkflow>({ ...input, cursor, progress });
    }
  }
  progress.done = true;
  progress.finishedAt = new Date().toISOString();
  return { ...progress };
}
