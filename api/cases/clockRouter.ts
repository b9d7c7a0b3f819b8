import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { taskWorkflowId } from '../../lib/case/model';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import {
  caseStatusQuery,
  clockQuery,
  extendUpdate,
  replyUrgingUpdate,
  resumeUpdate,
  suspendUpdate,
  SUSPENDING_PROCEDURES,
  urgeUpdate,
} from '../../workflows/messages';
import { actorOf, requireDepartment, type Principal } from '../auth';
import { route, type RouteSpec } from '../route';
import { caseFor, onWorkflow } from './access';
import { caseParams } from './schema';

const taskParams = caseParams.extend({ task: z.string().min(1).max(100) });
const reasons = z.string().trim().min(1).max(2000);

/**
 * The clock of a case and its tasks: extension (延期), suspension (中止计时) and resumption,
 * urging (督办) and its reply. Each is an update of the workflow that owns the clock, so a bad or
 * late request is refused before it enters history.
 */
export function clockRoutes(store: RegisterStore, temporal: Client): RouteSpec<any, any, any>[] {
  /** The workflow holding a task's clock, after checking the task exists and the caller's reach. */
  async function taskHandle(caseNumber: string, taskCode: string, principal: Principal) {
    await caseFor(store, caseNumber, principal);
    const live = await onWorkflow(caseNumber, () =>
      temporal.workflow.getHandle(caseNumber).query(caseStatusQuery),
    );
    const task = live.tasks.find((t) => t.code === taskCode);
    if (!task) throw new DomainError('task_not_found', `no task ${taskCode} in case ${caseNumber}`);
    if (principal.role !== 'supervisor' && principal.role !== 'admin') {
      requireDepartment(principal, task.department, `task ${taskCode}`);
    }
    if (task.status === 'waiting') {
      throw new DomainError('invalid_state', `task ${taskCode} has not opened yet`);
    }
    if (task.status !== 'open') {
      throw new DomainError(
        'invalid_state',
        `task ${taskCode} is ${task.status}: its clock has stopped`,
      );
    }
    return temporal.workflow.getHandle(taskWorkflowId(caseNumber, taskCode));
  }

  /** A task workflow that has completed is a closed task, not a missing case. */
  const onTask = async <T>(caseNumber: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await onWorkflow(caseNumber, call);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'case_not_found') {
        throw new DomainError('invalid_state', 'the task is closed: its clock has stopped');
      }
      throw err;
    }
  };

  return [
    route({
      method: 'get',
      path: '/cases/:caseNumber/tasks/:task/clock',
      summary: 'A task’s clock: due moments, extension, suspensions, warnings, urgings',
      tag: 'clock',
      roles: ['clerk', 'officer', 'supervisor', 'admin', 'headOfOrgan', 'headOfGovernment'],
      params: taskParams,
      errors: ['case_not_found', 'task_not_found'],
      handler: async ({ params, principal }) => {
        await caseFor(store, params.caseNumber, principal);
        const handle = temporal.workflow.getHandle(taskWorkflowId(params.caseNumber, params.task));
        return { body: { clock: await onTask(params.caseNumber, () => handle.query(clockQuery)) } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/extension',
      summary: 'The head of the organ extends a task’s limit, once, with reasons (延期)',
      tag: 'clock',
      roles: ['headOfOrgan'],
      params: taskParams,
      body: z.object({ days: z.number().int().min(1).max(60), reason: reasons }),
      errors: [
        'case_not_found',
        'task_not_found',
        'extension_not_allowed',
        'extension_too_long',
        'invalid_state',
      ],
      handler: async ({ params, body, principal }) => {
        const handle = await taskHandle(params.caseNumber, params.task, principal);
        const clock = await onTask(params.caseNumber, () =>
          handle.executeUpdate(extendUpdate, { args: [{ actor: actorOf(principal), ...body }] }),
        );
        return { body: { clock } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/extension',
      summary:
        'The head of the people’s government extends a joint case’s whole limit (art. 42 ¶2)',
      tag: 'clock',
      roles: ['headOfGovernment'],
      params: caseParams,
      body: z.object({ days: z.number().int().min(1).max(60), reason: reasons }),
      errors: ['case_not_found', 'extension_not_allowed', 'extension_too_long', 'invalid_state'],
      handler: async ({ params, body, principal }) => {
        const record = await caseFor(store, params.caseNumber, principal);
        if (record.kind !== 'joint') {
          throw new DomainError(
            'extension_not_allowed',
            'only a joint case has a whole-case limit; extend the department task instead',
          );
        }
        const clock = await onWorkflow(params.caseNumber, () =>
          temporal.workflow
            .getHandle(params.caseNumber)
            .executeUpdate(extendUpdate, { args: [{ actor: actorOf(principal), ...body }] }),
        );
        return { body: { clock } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/suspension',
      summary: 'The clock stops for a procedure of LLA art. 45 (中止计时)',
      tag: 'clock',
      roles: ['officer', 'headOfOrgan'],
      params: taskParams,
      body: z.object({
        procedure: z.enum(SUSPENDING_PROCEDURES),
        reason: reasons,
        expectedDays: z.number().int().min(1).max(365).optional(),
      }),
      errors: ['case_not_found', 'task_not_found', 'invalid_state'],
      handler: async ({ params, body, principal }) => {
        const handle = await taskHandle(params.caseNumber, params.task, principal);
        const clock = await onTask(params.caseNumber, () =>
          handle.executeUpdate(suspendUpdate, { args: [{ actor: actorOf(principal), ...body }] }),
        );
        return { body: { clock } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/resumption',
      summary: 'The clock runs again (恢复计时)',
      tag: 'clock',
      roles: ['officer', 'headOfOrgan'],
      params: taskParams,
      errors: ['case_not_found', 'task_not_found', 'not_suspended', 'invalid_state'],
      handler: async ({ params, principal }) => {
        const handle = await taskHandle(params.caseNumber, params.task, principal);
        const clock = await onTask(params.caseNumber, () =>
          handle.executeUpdate(resumeUpdate, { args: [{ actor: actorOf(principal) }] }),
        );
        return { body: { clock } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/urgings',
      summary: 'A supervisor urges the department, with a reply deadline (督办)',
      tag: 'supervision',
      roles: ['supervisor'],
      params: taskParams,
      body: z.object({ message: reasons, replyBy: z.iso.datetime({ offset: true }) }),
      errors: ['case_not_found', 'task_not_found', 'invalid_state'],
      handler: async ({ params, body, principal }) => {
        const handle = await taskHandle(params.caseNumber, params.task, principal);
        const urging = await onTask(params.caseNumber, () =>
          handle.executeUpdate(urgeUpdate, {
            args: [
              {
                actor: actorOf(principal),
                message: body.message,
                replyBy: new Date(body.replyBy).toISOString(),
              },
            ],
          }),
        );
        return { status: 201, body: { urging } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/urgings/:urgingId/reply',
      summary: 'The department replies to an urging',
      tag: 'supervision',
      roles: ['officer', 'headOfOrgan'],
      params: taskParams.extend({ urgingId: z.string().regex(/^U\d+$/) }),
      body: z.object({ message: reasons }),
      errors: ['case_not_found', 'task_not_found', 'not_found', 'invalid_state'],
      handler: async ({ params, body, principal }) => {
        const handle = await taskHandle(params.caseNumber, params.task, principal);
        const urging = await onTask(params.caseNumber, () =>
          handle.executeUpdate(replyUrgingUpdate, {
            args: [{ actor: actorOf(principal), urgingId: params.urgingId, message: body.message }],
          }),
        );
        return { body: { urging } };
      },
    }),
  ];
}
