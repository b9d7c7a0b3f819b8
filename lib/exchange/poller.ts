/**
 * Polling mode, for department systems that cannot push: the hall fetches each department's
 * outbox (GET <outbox>?after=SEQ) on a schedule and takes what it serves through the very path
 * of POST /exchange/messages (receive.ts), so dedupe, order, signatures and dead letters are the
 * same. The cursor (the highest sequence dealt with) moves only past messages that were applied
 * or refused for good; a message told to retry is fetched again at the next poll.
 */
import { receiveExchange, BodyRefused, type ReceiveDeps } from './receive';
import { DEFAULT_LIMITS } from './parse';

/** What the poller needs: the inbound path's deps, the outboxes and the schedule. */
export interface PollerDeps extends Omit<ReceiveDeps, 'via' | 'expectedDepartment'> {
  /** Outbox URL per department code. */
  outboxes: Record<string, string>;
  intervalMs: number;
  /** How long one outbox may take to answer. */
  fetchTimeoutMs?: number;
}

/** What one poll of one outbox did. */
export interface PollReport {
  department: string;
  /** The cursor before and after. */
  after: number;
  cursor: number;
  fetched: number;
  applied: number;
  refused: number;
  retry: number;
  error?: string;
}

/** Polls one department's outbox once. Never throws: a failure is in the report and the cursor. */
export async function pollOutbox(
  department: string,
  url: string,
  deps: Omit<PollerDeps, 'outboxes' | 'intervalMs'>,
): Promise<PollReport> {
  let after: number;
  try {
    after = await deps.store.pollCursor(department);
  } catch (err) {
    const error = `the cursor could not be read: ${(err as Error).message}`;
    return { department, after: 0, cursor: 0, fetched: 0, applied: 0, refused: 0, retry: 0, error };
  }
  const report: PollReport = {
    department,
    after,
    cursor: after,
    fetched: 0,
    applied: 0,
    refused: 0,
    retry: 0,
  };
  const limit = Math.min(100, deps.limits?.maxBatch ?? DEFAULT_LIMITS.maxBatch);
  try {
    const target = new URL(url);
    target.searchParams.set('after', String(after));
    target.searchParams.set('limit', String(limit));
    const res = await fetch(target, { signal: AbortSignal.timeout(deps.fetchTimeoutMs ?? 10_000) });
    if (res.status === 204) {
      await deps.store.recordPoll(department, after);
      return report;
    }
    if (!res.ok) throw new Error(`the outbox answered HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    const result = await receiveExchange(body, {
      ...deps,
      via: 'poll',
      expectedDepartment: department,
    });

    report.fetched = result.outcomes.length;
    let cursor = after;
    let blocked = false;
    for (const o of [...result.outcomes].sort((a, b) => a.sequence - b.sequence)) {
      if (o.outcome === 'retry') {
        report.retry++;
        blocked = true;
      } else {
        if (o.outcome === 'refused') report.refused++;
        else report.applied++;
        if (!blocked) cursor = Math.max(cursor, o.sequence);
      }
    }
    report.cursor = cursor;
    await deps.store.recordPoll(department, cursor);
  } catch (err) {
    // A refused body stays where it is (the dead letter says why) until the department fixes it.
    report.error =
      err instanceof BodyRefused ? `${err.reason}: ${err.detail}` : (err as Error).message;
    deps.log?.warn({ department, error: report.error }, 'outbox poll failed');
    await deps.store.recordPoll(department, after, report.error).catch(() => undefined);
  }
  return report;
}

/** A running poller. */
export interface OutboxPoller {
  /** Polls every outbox now (also what the schedule calls). */
  pollAll(): Promise<PollReport[]>;
  /** Stops the schedule and waits for a poll under way. */
  stop(): Promise<void>;
}

/** Polls every configured outbox on a schedule; one round at a time, never overlapping. */
export function startOutboxPoller(deps: PollerDeps): OutboxPoller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<PollReport[]> = Promise.resolve([]);

  const pollAll = (): Promise<PollReport[]> => {
    current = current
      .catch(() => [])
      .then(() =>
        Promise.all(
          Object.entries(deps.outboxes).map(([department, url]) =>
            pollOutbox(department, url, deps),
          ),
        ),
      );
    return current;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void pollAll().finally(schedule);
    }, deps.intervalMs);
  };
  schedule();

  return {
    pollAll,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
