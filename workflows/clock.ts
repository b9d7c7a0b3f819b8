/**
 * The clock of a case or a department task: its limits, an extension, suspended periods, the due
 * moments the calendar activity computes from them, and the warnings of electronic supervision
 * (电子监察) that fire at those moments. When any of them changes the due moments are computed
 * again and the pending warning timer is re-armed; nothing polls.
 */
import { condition } from '@temporalio/workflow';
import type { ClockDue, WarningLevel } from '../lib/case/model';
import type { Limit } from '../lib/catalog/types';
import { hall } from './activities';

/** A suspended period (中止计时, LLA art. 45); `to` is null while it lasts. */
export interface SuspendedPeriod {
  from: string;
  to: string | null;
  procedure: string;
  reason: string;
}

/** Where the clock starts and what it counts. */
export interface ClockSpec {
  start: string;
  statutoryLimit: Limit;
  promisedLimit: Limit;
  reminderDays?: number;
}

const ORDER: { level: WarningLevel; moment: 'reminderAt' | 'promisedDueAt' | 'statutoryDueAt' }[] =
  [
    { level: 'reminder', moment: 'reminderAt' },
    { level: 'yellow', moment: 'promisedDueAt' },
    { level: 'red', moment: 'statutoryDueAt' },
  ];

/** The clock's state; it lives in the workflow, so a restarted worker resumes it from history. */
export class Clock {
  extensionDays = 0;
  readonly suspensions: SuspendedPeriod[] = [];
  due: ClockDue | undefined;
  /** Levels already fired: each fires once per clock. */
  readonly fired = new Set<WarningLevel>();
  private version = 0;

  private spec_: ClockSpec | undefined;

  constructor(spec?: ClockSpec) {
    this.spec_ = spec;
  }

  /** Sets where the clock starts (a case's clock starts only at acceptance). */
  start(spec: ClockSpec): void {
    this.spec_ = spec;
  }

  /** Where the clock starts and what it counts. */
  get spec(): ClockSpec {
    if (!this.spec_) throw new Error('the clock has not started');
    return this.spec_;
  }

  /** True while a suspension is open. */
  get suspended(): boolean {
    return this.suspensions.some((s) => s.to === null);
  }

  /** Asks the calendar activity for the due moments of the current state. */
  async compute(): Promise<ClockDue> {
    const extend = (l: Limit): Limit => ({ days: l.days + this.extensionDays, unit: l.unit });
    const due = await hall.computeClock({
      start: this.spec.start,
      // An extension moves both dates: the applicant is told one new date (延期告知).
      statutoryLimit: extend(this.spec.statutoryLimit),
      promisedLimit: extend(this.spec.promisedLimit),
      suspensions: this.suspensions.map((s) => ({ from: s.from, to: s.to })),
      reminderDays: this.spec.reminderDays,
    });
    this.due = due;
    this.version++;
    return due;
  }

  /** Wakes the warning timer so it re-reads the due moments (after compute). */
  changed(): number {
    return this.version;
  }

  /**
   * Fires the warning levels until `stopped`: each once, in order; a moment already past fires
   * at once (a case taken over late, a worker back after downtime). While suspended, no timer
   * runs: the due moments are unknown until the clock resumes.
   */
  async watch(stopped: () => boolean, raise: (level: WarningLevel, at: string) => Promise<void>) {
    while (!stopped()) {
      const version = this.version;
      const next = ORDER.find((o) => !this.fired.has(o.level) && this.due?.[o.moment]);
      if (!next || this.suspended) {
        await condition(() => stopped() || this.version !== version);
        continue;
      }
      const at = this.due![next.moment]!;
      const wait = Math.max(Date.parse(at) - Date.now(), 1);
      // A timer raced against "the decision is made or the clock changed".
      const woken = await condition(() => stopped() || this.version !== version, wait);
      if (woken) continue;
      this.fired.add(next.level);
      await raise(next.level, at);
    }
  }
}
