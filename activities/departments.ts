/**
 * Delivery of department tasks. A department with its own system (`hasOwnSystem` in the catalog)
 * and an endpoint gets each task as a signed taskAssigned message of the XML exchange, and its
 * end as a taskCancelled, retried with backoff until the department acknowledges; the others
 * read the hall inbox (GET /inbox), so for them delivery is done at once.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  deliverHallMessage,
  prepareTaskAssigned,
  prepareTaskCancelled,
  type PreparedMessage,
} from '../lib/exchange/outbound';
import { pollOutbox, type PollerDeps, type PollReport } from '../lib/exchange/poller';
import type { ExchangeStore } from '../lib/exchange/store';
import type { ExchangeSecrets } from '../lib/exchange/types';
import type { RegisterStore } from '../lib/store';

/** A department task as the task workflow hands it over for delivery. */
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
  /** The event that caused the message (`<task workflow id>#<kind>`): one message per event. */
  eventKey: string;
  /** lead or related; absent from workflows that predate it (then `related`). */
  role?: 'lead' | 'related';
  openedAt?: string;
}

/**
 * How a task reached its department. `webhook`: pushed to the department's own system as an
 * exchange message and acknowledged; `ownSystem`: the case came from that very system through
 * the exchange, so it holds the task already and nothing is sent; `inbox`: the hall inbox.
 */
export interface Delivery {
  channel: 'inbox' | 'webhook' | 'ownSystem';
  acknowledgedAt: string;
  /** The exchange message that carried it (webhook). */
  messageId?: string;
  /** The hall's sequence number of the message sent. */
  sequence?: number;
}

/** Where each department system receives the hall's messages: a URL per department code. */
export type DepartmentEndpoints = Record<string, string>;

/** What the register knows of a task's case: where it came from, the task's role and opening. */
export interface TaskContext {
  source: string;
  /** The case's (lead) department. */
  department: string;
  role?: 'lead' | 'related';
  openedAt?: string;
}

/** The task context read from the register. */
export function registerTaskContext(
  store: Pick<RegisterStore, 'getCase' | 'getTasks'>,
): DepartmentExchangeDeps['taskContext'] {
  return async (caseNumber, taskCode) => {
    const found = await store.getCase(caseNumber);
    if (!found) return undefined;
    const task = (await store.getTasks(caseNumber)).find((x) => x.taskCode === taskCode);
    const role = task?.role === 'lead' || task?.role === 'related' ? task.role : undefined;
    return {
      source: found.source,
      department: found.department,
      role,
      openedAt: task?.openedAt ?? undefined,
    };
  };
}

/** What sending through the exchange needs besides the endpoints. */
export interface DepartmentExchangeDeps {
  store: ExchangeStore;
  secrets: ExchangeSecrets;
  /** The departments that run their own system; an endpoint of any other is not used. */
  ownSystems: ReadonlySet<string>;
  /** The register's view of a task; a case accepted in the department's system is not sent. */
  taskContext: (caseNumber: string, taskCode: string) => Promise<TaskContext | undefined>;
  /** How long a department system may take to answer one message. */
  timeoutMs?: number;
}

/** Builds the delivery activities; without exchange deps every department uses the inbox. */
export function createDepartmentActivities(
  endpoints: DepartmentEndpoints,
  exchange?: DepartmentExchangeDeps,
) {
  const inbox = (): Delivery => ({ channel: 'inbox', acknowledgedAt: new Date().toISOString() });

  async function prepare(
    message: TaskMessage,
    context: TaskContext | undefined,
    deps: DepartmentExchangeDeps,
  ) {
    const recipient = message.department;
    if (message.kind === 'taskAssigned') {
      return prepareTaskAssigned(
        {
          eventKey: message.eventKey,
          caseNumber: message.caseNumber,
          recipient,
          taskCode: message.taskCode,
          itemCode: message.itemCode,
          title: message.title,
          role: message.role ?? context?.role ?? 'related',
          openedAt: message.openedAt ?? context?.openedAt,
          statutoryDueAt: message.statutoryDueAt,
          promisedDueAt: message.promisedDueAt,
        },
        deps,
      );
    }
    // The assignment it ends was keyed by the same task's taskAssigned event.
    const assignedKey = message.eventKey.replace(/#taskCancelled$/, '#taskAssigned');
    const assignment = await deps.store.findOutboundByEvent(assignedKey);
    return prepareTaskCancelled(
      {
        eventKey: message.eventKey,
        caseNumber: message.caseNumber,
        recipient,
        taskCode: message.taskCode,
        assignment: assignment?.messageId,
        reason: message.reason?.trim().slice(0, 4000) || undefined,
        cancelledAt: new Date().toISOString(),
      },
      deps,
    );
  }

  async function send(
    prepared: PreparedMessage,
    message: TaskMessage,
    url: string,
    deps: DepartmentExchangeDeps,
  ): Promise<Delivery> {
    const done = (acknowledgedAt: string): Delivery => ({
      channel: 'webhook',
      acknowledgedAt,
      messageId: prepared.messageId,
      sequence: prepared.sequence,
    });
    // Acknowledged before (a retry after a crash, or an acknowledgement pushed on its own).
    if (prepared.acknowledgedAt) return done(prepared.acknowledgedAt);

    const department = message.department;
    const answer = await deliverHallMessage(prepared, {
      url,
      department,
      secret: deps.secrets[department],
      timeoutMs: deps.timeoutMs,
    });
    if (answer.status === 'retry') {
      // Down, unreachable or no usable answer: Temporal retries with backoff; the other
      // departments go on meanwhile.
      const kept = await deps.store.findOutbound(prepared.messageId);
      if (kept?.acknowledgedAt) return done(kept.acknowledgedAt);
      throw new Error(`${department} system did not acknowledge: ${answer.detail ?? 'no answer'}`);
    }
    await deps.store.markAcknowledged(prepared.messageId, department, answer.status);
    if (answer.status === 'refused') {
      throw ApplicationFailure.nonRetryable(
        `${department} system refused ${prepared.messageId}: ${answer.reason ?? ''} ` +
          (answer.detail ?? ''),
        'department_refused',
      );
    }
    const kept = await deps.store.findOutbound(prepared.messageId);
    return done(kept?.acknowledgedAt ?? new Date().toISOString());
  }

  return {
    async deliverTask(message: TaskMessage): Promise<Delivery> {
      const url = endpoints[message.department];
      if (!url || !exchange || !exchange.ownSystems.has(message.department)) return inbox();
      if (!exchange.secrets[message.department]) {
        throw ApplicationFailure.nonRetryable(
          `no exchange secret for ${message.department}`,
          'department_refused',
        );
      }
      const context = await exchange.taskContext(message.caseNumber, message.taskCode);
      if (context?.source === 'exchange' && context.department === message.department) {
        return { channel: 'ownSystem', acknowledgedAt: new Date().toISOString() };
      }
      const prepared = await prepare(message, context, exchange);
      return send(prepared, message, url, exchange);
    },
  };
}

/** What polling a department's outbox needs: the inbound path's deps, built per poll. */
export interface OutboxPollDeps {
  /** Outbox URL per department polled. */
  outboxes: Record<string, string>;
  /** The inbound path (store, hooks, secrets, limits) over the Temporal client of the worker. */
  receiveDeps: (temporal: Client) => Omit<PollerDeps, 'outboxes' | 'intervalMs'>;
}

/** The activity of polling mode: one poll of one department's outbox (lib/exchange/poller). */
export function createOutboxPollActivities(deps: OutboxPollDeps) {
  return {
    async pollDepartmentOutbox(department: string): Promise<PollReport> {
      const url = deps.outboxes[department];
      if (!url) {
        throw ApplicationFailure.nonRetryable(`${department} has no outbox`, 'not_found');
      }
      return pollOutbox(department, url, deps.receiveDeps(Context.current().client));
    },
  };
}

/** The polling activity as the poll workflow calls it. */
export type OutboxPollActivities = ReturnType<typeof createOutboxPollActivities>;
