import { ApplicationFailure } from '@temporalio/activity';

/** A department task as it is sent to the department's own system. */
export interface TaskMessage {
  kind: 'taskAssigned' | 'taskCancelled';
  caseNumber: string;
  taskCode: string;
  department: string;
  itemCode: string;
  title: string;
  promisedDueAt?: string;
  statutoryDueAt?: string;
  reason?: string;
  /** The event that caused the message: the department system dedupes on it. */
  eventKey: string;
}

/** How a task reached its department. */
export interface Delivery {
  channel: 'inbox' | 'webhook';
  acknowledgedAt: string;
}

/** Where each department receives its tasks: a webhook URL, or the hall inbox when absent. */
export type DepartmentEndpoints = Record<string, string>;

/**
 * Activities that carry tasks to the departments: a department with its own system gets a
 * webhook call, retried with backoff until it acknowledges; the others read the hall inbox
 * (GET /inbox), so for them delivery is done at once.
 */
export function createDepartmentActivities(endpoints: DepartmentEndpoints, timeoutMs = 10_000) {
  return {
    async deliverTask(message: TaskMessage): Promise<Delivery> {
      const url = endpoints[message.department];
      if (!url) return { channel: 'inbox', acknowledgedAt: new Date().toISOString() };
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': message.eventKey },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        // Down or unreachable: Temporal retries with backoff; the other departments go on.
        throw new Error(`${message.department} system unreachable: ${(err as Error).message}`);
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw ApplicationFailure.nonRetryable(
          `${message.department} system refused the task: HTTP ${res.status}`,
          'department_refused',
        );
      }
      if (!res.ok) throw new Error(`${message.department} system answered HTTP ${res.status}`);
      return { channel: 'webhook', acknowledgedAt: new Date().toISOString() };
    },
  };
}
