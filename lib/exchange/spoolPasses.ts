/**
 * The timer of a side's passes over its spool: one pass at a time (a pass still running when
 * the timer fires is not doubled), a failed pass logged and left to the next one.
 */
import type pino from 'pino';

/** A side's running passes: one more now, or stop the timer (waiting for a running pass). */
export interface SpoolPasses {
  pass: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Runs `work` every `intervalSeconds`, and once at once; `work` answers what to log, if any. */
export function startSpoolPasses(
  work: () => Promise<Record<string, unknown> | undefined>,
  intervalSeconds: number,
  log: pino.Logger,
): SpoolPasses {
  let running: Promise<void> | undefined;
  const pass = (): Promise<void> => {
    running ??= (async () => {
      try {
        const done = await work();
        if (done) log.info(done, 'pass');
      } catch (err) {
        log.warn({ err }, 'spool pass failed; the next one tries again');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void pass(), intervalSeconds * 1000);
  timer.unref();
  void pass();
  return {
    pass,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
