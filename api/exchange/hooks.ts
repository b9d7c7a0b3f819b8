import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pino from 'pino';
import type { Catalog } from '../../lib/catalog/types';
import type { Config } from '../../lib/config';
import { exchangeSecretsOf, limitsOf } from '../../lib/exchange/config';
import type { ReceiveDeps } from '../../lib/exchange/receive';
import { ExchangeStore } from '../../lib/exchange/store';
import type { Runtime } from '../../lib/runtime';
import { taskWorkflowId, type Actor, type CaseInput } from '../../lib/case/model';
import { DomainError } from '../../lib/errors';
import type { ExchangeHooks } from '../../lib/exchange/apply';
import type { CaseAcceptedMessage } from '../../lib/exchange/types';
import {
  acceptUpdate,
  caseStatusQuery,
  concludeUpdate,
  registeredUpdate,
  resumeUpdate,
  suspendUpdate,
} from '../../workflows/messages';
import { snapshotItem, startCaseWorkflow } from '../cases/submit';

/** The hall's number of a case run in a department's own system: derived, so resends agree. */
export function hallCaseNumberOf(department: string, departmentCaseNumber: string): string {
  return `${department.toUpperCase()}-${departmentCaseNumber}`;
}

/** What the exchange hooks need: Temporal and the catalog. */
export interface ExchangeHookDeps {
  temporal: Client;
  catalog: Catalog;
  taskQueue: string;
  reminderDays: number;
  payByDays: number;
  /**
   * True when the hall assigned a task of this hall case to the department (taskAssigned): its
   * later messages then name the hall's case number as it was sent, not one of its own.
   */
  isAssigned?: (department: string, caseNumber: string) => Promise<boolean>;
}

/**
 * What exchange messages do in the hall (管进管出): a case accepted in a department's own system
 * starts a supervised case here — its clock, warnings, lookup, notifications and the hall's
 * receipt — and the department's later messages move it on. Every hook is idempotent, since a
 * department resends until acknowledged.
 */
export function exchangeHooks(deps: ExchangeHookDeps): ExchangeHooks {
  const systemOf = (department: string): Actor => ({
    id: `system-${department}`,
    role: 'officer',
    department,
  });

  async function startSupervision(m: CaseAcceptedMessage) {
    const item = deps.catalog.items.get(m.itemCode);
    if (!item) throw new DomainError('unknown_item', `no item ${m.itemCode} in the catalog`);
    if (item.department !== m.department) {
      throw new DomainError('wrong_department', `item ${m.itemCode} belongs to ${item.department}`);
    }
    const caseNumber = hallCaseNumberOf(m.department, m.caseNumber);
    const input: CaseInput = {
      caseNumber,
      item: snapshotItem(item),
      applicant: m.applicant,
      channels: m.channels,
      materials: m.materials,
      receivedAt: m.receivedAt ?? m.acceptedAt,
      acceptedElsewhereAt: m.acceptedAt,
      source: 'exchange',
      // The receipt names the counter that accepted: the department's own, or its system.
      submittedBy: { ...systemOf(m.department), counter: m.counter ?? `${m.department} system` },
      reminderDays: deps.reminderDays,
      payByDays: deps.payByDays,
    };
    try {
      await startCaseWorkflow(deps.temporal, deps.taskQueue, input);
    } catch (err) {
      // A resend of the same caseAccepted: the case is already running.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const handle = deps.temporal.workflow.getHandle(caseNumber);
    const view = await handle.executeUpdate(registeredUpdate);
    if (view.status === 'submitted') {
      await handle.executeUpdate(acceptUpdate, { args: [{ actor: systemOf(m.department) }] });
    }
    return { hallCaseNumber: caseNumber };
  }

  /** The task a department's message is about: named, or the case's only one of that department. */
  async function taskOf(
    department: string,
    caseNumber: string,
    taskCode?: string,
  ): Promise<string> {
    const live = await deps.temporal.workflow.getHandle(caseNumber).query(caseStatusQuery);
    const task = live.tasks.find((t) =>
      taskCode ? t.code === taskCode : t.department === department,
    );
    if (!task) throw new DomainError('task_not_found', `no task of ${department} in ${caseNumber}`);
    return taskWorkflowId(caseNumber, task.code);
  }

  return {
    startSupervision,
    async signalStatus(m) {
      const assigned = await deps.isAssigned?.(m.department, m.caseNumber);
      const caseNumber = assigned ? m.caseNumber : hallCaseNumberOf(m.department, m.caseNumber);
      const actor = systemOf(m.department);
      if (m.type === 'statusChanged') return; // progress only: recorded by the exchange store
      const task = deps.temporal.workflow.getHandle(
        await taskOf(m.department, caseNumber, m.taskCode),
      );
      if (m.type === 'caseConcluded') {
        await task.executeUpdate(concludeUpdate, {
          args: [
            {
              department: m.department,
              officer: m.officer ?? actor.id,
              decision: m.decision,
              reasons: m.reasons,
            },
          ],
        });
      } else if (m.type === 'suspended') {
        await task.executeUpdate(suspendUpdate, {
          args: [{ actor, procedure: m.procedure, reason: m.reason, expectedDays: m.expectedDays }],
        });
      } else {
        await task.executeUpdate(resumeUpdate, { args: [{ actor }] });
      }
    },
    async acknowledgeTask() {
      // The exchange store marks the hall's message acknowledged; nothing else waits on it.
    },
  };
}

/**
 * What the hall's inbound path needs, whichever way a message arrives (pushed to the API,
 * polled from an outbox, carried by the spool): the register's exchange store, the hooks into
 * the case workflows, the departments' secrets and the body limits.
 */
export function hallReceiveDeps(
  config: Config,
  runtime: Runtime,
  temporal: Client,
  log: pino.Logger,
): Omit<ReceiveDeps, 'via' | 'remoteAddress'> {
  const store = new ExchangeStore(runtime.db);
  return {
    store,
    hooks: exchangeHooks({
      temporal,
      catalog: runtime.catalog,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      reminderDays: config.REMINDER_WORKING_DAYS,
      payByDays: config.PAY_BY_DAYS,
      isAssigned: (department, caseNumber) => store.hasAssignment(department, caseNumber),
    }),
    secrets: exchangeSecretsOf(config, runtime.catalog, config.DEV_TOKENS),
    limits: limitsOf(config),
    log,
  };
}
