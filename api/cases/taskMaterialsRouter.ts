import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Catalog } from '../../lib/catalog/types';
import { taskWorkflowId, type RequestedMaterial } from '../../lib/case/model';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import type { departmentTaskWorkflow } from '../../workflows/departmentTask';
import { caseStatusQuery, requestMaterialsUpdate } from '../../workflows/messages';
import { actorOf, requireDepartment } from '../auth';
import { route, type RouteSpec } from '../route';
import { caseFor, onWorkflow } from './access';
import { caseParams, materialsRequestBody } from './schema';

const taskParams = caseParams.extend({ task: z.string().min(1).max(100) });

/** What the materials request route needs. */
export interface TaskMaterialsDeps {
  catalog: Catalog;
  store: RegisterStore;
  temporal: Client;
}

/**
 * A department asks the applicant for more materials on its task (补充材料): the materials of
 * the task's own item or of the case's item, named by code. The task's clock stops until the
 * applicant hands them in at the lead counter (POST /cases/:n/supplement); the others run on.
 */
export function taskMaterialsRoutes(deps: TaskMaterialsDeps): RouteSpec<any, any, any>[] {
  const { catalog, store, temporal } = deps;
  return [
    route({
      method: 'post',
      path: '/cases/:caseNumber/tasks/:task/materialsRequest',
      summary: 'A department asks the applicant for more materials; its task’s clock stops',
      tag: 'cases',
      roles: ['officer'],
      params: taskParams,
      body: materialsRequestBody,
      errors: [
        'case_not_found',
        'task_not_found',
        'wrong_department',
        'task_cancelled',
        'invalid_state',
        'unknown_material',
      ],
      handler: async ({ params, body, principal }) => {
        const record = await caseFor(store, params.caseNumber, principal);
        const live = await onWorkflow(params.caseNumber, () =>
          temporal.workflow.getHandle(params.caseNumber).query(caseStatusQuery),
        );
        const task = live.tasks.find((t) => t.code === params.task);
        if (!task) throw new DomainError('task_not_found', `no task ${params.task} in this case`);
        requireDepartment(principal, task.department, `task ${task.code}`);
        if (task.status === 'cancelled') {
          throw new DomainError('task_cancelled', `task ${task.code} was cancelled`);
        }
        if (task.status !== 'open') {
          throw new DomainError('invalid_state', `task ${task.code} is ${task.status}`);
        }

        // The materials a department may ask for: its own item's and the joint item's.
        const caseItem = catalog.items.get(record.itemCode);
        const taskItemCode = caseItem?.tasks.find((t) => t.code === task.code)?.itemCode;
        const known = new Map<string, RequestedMaterial>();
        for (const item of [catalog.items.get(taskItemCode ?? task.code), caseItem]) {
          for (const m of item?.materials ?? []) known.set(m.code, { code: m.code, name: m.name });
        }
        const unknown = body.materials.filter((code) => !known.has(code));
        if (unknown.length > 0) {
          throw new DomainError(
            'unknown_material',
            `not materials of this task or case: ${unknown.join(', ')}`,
          );
        }

        const child = temporal.workflow.getHandle<typeof departmentTaskWorkflow>(
          taskWorkflowId(params.caseNumber, task.code),
        );
        const state = await onWorkflow(params.caseNumber, () =>
          child.executeUpdate(requestMaterialsUpdate, {
            args: [
              {
                actor: actorOf(principal),
                materials: body.materials.map((code) => known.get(code)!),
                reason: body.reason,
              },
            ],
          }),
        ).catch((err: unknown) => {
          // The task workflow completed meanwhile: it was concluded or cancelled.
          if (err instanceof DomainError && err.code === 'case_not_found') {
            throw new DomainError('invalid_state', `task ${task.code} is closed`);
          }
          throw err;
        });
        return { status: 201, body: { task: state } };
      },
    }),
  ];
}
