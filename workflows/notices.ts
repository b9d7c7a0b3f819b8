/**
 * Notifications sent beside a workflow's steps: started at once, never awaited by the step, and
 * all awaited before the workflow returns (activities still running at completion would be
 * cancelled, and the applicant not told).
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { HallActivities } from '../activities';
import type {
  NotificationDetails,
  NotificationStep,
  StaffNotifyRequest,
} from '../activities/notifier';
import { notifier } from './activities';

/**
 * Staff notifications: retried like the applicant's, but for a day only; a warning told later
 * than that is stale, and the register shows the row still pending.
 */
const staffNotifier = proxyActivities<Pick<HallActivities, 'notifyStaff'>>({
  startToCloseTimeout: '90 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: ['case_not_found'],
  },
});

/** The notifications of one workflow. */
export class Notices {
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly caseNumber: string) {}

  /** Tells the applicant of a step; the event key makes it exactly once. */
  tell(
    step: NotificationStep,
    eventKey: string,
    documentId?: string,
    details?: NotificationDetails,
  ): void {
    this.pending.push(
      notifier.notify({ caseNumber: this.caseNumber, step, eventKey, documentId, details }).then(
        () => undefined,
        (err: unknown) => {
          // Retries ran out (three days): the row stays pending and supervisors see it.
          log.warn('notification not sent', { step, eventKey, error: String(err) });
        },
      ),
    );
  }

  /**
   * Tells the department, supervisors or leadership of a warning or an urging (who: STAFF_ROUTING
   * in lib/notify/staffContacts.ts); the event key makes it exactly once per recipient.
   */
  alertStaff(req: Omit<StaffNotifyRequest, 'caseNumber'>): void {
    this.pending.push(
      staffNotifier.notifyStaff({ caseNumber: this.caseNumber, ...req }).then(
        () => undefined,
        (err: unknown) => {
          log.warn('staff notification not sent', {
            step: req.step,
            eventKey: req.eventKey,
            error: String(err),
          });
        },
      ),
    );
  }

  /** Waits for every notification started so far. */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
  }
}
