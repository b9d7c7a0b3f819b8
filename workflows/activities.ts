import { proxyActivities } from '@temporalio/workflow';
import type { HallActivities } from '../activities';

/**
 * The activities as workflows call them. Register writes and document issues are idempotent by
 * their event key, so Temporal's retries are safe; a department system that is down is retried
 * with backoff for as long as it takes.
 */
export const hall = proxyActivities<HallActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Delivery to a department's own system: retried until it acknowledges, however long it is down
 * (the other departments are not held up; supervisors see the task as undelivered meanwhile).
 */
export const delivery = proxyActivities<HallActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * Applicant notifications: exactly once by their key, whatever the retries. Slow providers are
 * retried for up to three days; a notification never holds up the case itself.
 */
export const notifier = proxyActivities<Pick<HallActivities, 'notify'>>({
  startToCloseTimeout: '90 seconds',
  scheduleToCloseTimeout: '3 days',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: ['case_not_found', 'not_found'],
  },
});
