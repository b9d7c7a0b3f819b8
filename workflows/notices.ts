/**
 * Notifications sent beside a workflow's steps: started at once, never awaited by the step, and
 * all awaited before the workflow returns (activities still running at completion would be
 * cancelled, and the applicant not told).
 */
import { log } from '@temporalio/workflow';
import type { NotificationDetails, NotificationStep } from '../activities/notifier';
import { notifier } from './activities';

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

  /** Waits for every notification started so far. */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
  }
}
