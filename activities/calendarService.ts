import type { Limit } from '../lib/catalog/types';
import {
  buildSnapshotFromChineseDays,
  computeDue,
  indexSnapshot,
  type CalendarIndex,
  type CalendarOverride,
  type CalendarSnapshot,
  warningMoments,
  dateInZone,
} from '../lib/calendar';
import type { CalendarService } from './calendar';

/** Where the hall's own closures and corrections come from (the register, in production). */
export type OverrideSource = () => Promise<CalendarOverride[]>;

/** A cheap fingerprint of the overrides, to see whether they changed since the last build. */
export type OverrideStamp = () => Promise<string>;

/**
 * The calendar as activities read it: the State Council arrangement from `chinese-days` plus the
 * hall's overrides. The snapshot is rebuilt only when `reload` is called (a calendar change).
 */
export class SnapshotCalendar implements CalendarService {
  private current: Promise<{ snapshot: CalendarSnapshot; index: CalendarIndex }>;

  private stamp: string | undefined;

  constructor(
    private readonly overrides: OverrideSource = async () => [],
    private readonly timeZone = 'Asia/Shanghai',
    private readonly overrideStamp?: OverrideStamp,
  ) {
    this.current = this.build();
    // A failed first build surfaces where the snapshot is awaited, not as an unhandled rejection.
    this.current.catch(() => undefined);
  }

  /**
   * Rebuilds the snapshot if the register's overrides changed since it was built: a calendar
   * change reaches every process without a restart or a polling loop.
   */
  async refresh(): Promise<void> {
    if (!this.overrideStamp) return;
    const stamp = await this.overrideStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    await this.reload();
  }

  private async build(): Promise<{ snapshot: CalendarSnapshot; index: CalendarIndex }> {
    const snapshot = buildSnapshotFromChineseDays(await this.overrides());
    return { snapshot, index: indexSnapshot(snapshot) };
  }

  /** Loads the overrides again; returns the new version. */
  async reload(): Promise<string> {
    this.current = this.build();
    this.current.catch(() => undefined);
    return (await this.current).snapshot.version;
  }

  /** The snapshot in force. */
  async snapshot(): Promise<CalendarSnapshot> {
    return (await this.current).snapshot;
  }

  async version(): Promise<string> {
    return (await this.current).snapshot.version;
  }

  dateOf(instant: string): string {
    return dateInZone(new Date(instant), this.timeZone);
  }

  async workingDaysBefore(dueAt: string, workingDays: number): Promise<string> {
    const { index } = await this.current;
    const [moment] = warningMoments(index, new Date(dueAt), [workingDays], this.timeZone);
    return moment.at.toISOString();
  }

  async due(
    start: string,
    limit: Limit,
    suspensions: { from: string; to: string | null }[] = [],
  ): Promise<{ dueAt: string | null; provisional: boolean }> {
    const { index } = await this.current;
    const result = computeDue(
      index,
      { start: new Date(start), days: limit.days, unit: limit.unit, suspensions },
      this.timeZone,
    );
    return {
      dueAt: result.dueAt ? result.dueAt.toISOString() : null,
      provisional: result.provisional,
    };
  }
}
