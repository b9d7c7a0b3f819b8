import type { Client } from '@temporalio/client';
import type { CaseView } from '../../lib/case/model';
import { taskWorkflowId } from '../../lib/case/model';
import { DomainError } from '../../lib/errors';
import type { RegisterStore } from '../../lib/store';
import {
  acceptUpdate,
  caseStatusQuery,
  collectUpdate,
  concludeUpdate,
  refuseToAcceptUpdate,
  requestCorrectionUpdate,
  supplementUpdate,
  withdrawUpdate,
} from '../../workflows/messages';
import type { departmentTaskWorkflow } from '../../workflows/departmentTask';
import { actorOf, requireDepartment, type Principal } from '../auth';
import { route, type RouteSpec } from '../route';
import { caseFor as caseForIn, onWorkflow } from './access';
import {
  caseParams,
  conclusionBody,
  intakeBody,
  listQuery,
  submitBody,
  supplementBody,
  withdrawalBody,
} from './schema';
import { submitCase, type SubmitDeps } from './submit';
import { taskMaterialsRoutes } from './taskMaterialsRouter';

/** What the case routes need. */
export interface CaseRouteDeps extends SubmitDeps {
  store: RegisterStore;
  temporal: Client;
}

/** The case routes: submission, intake, conclusion, withdrawal, collection, and the views. */
export function caseRoutes(deps: CaseRouteDeps): RouteSpec<any, any, any>[] {
  const { store, temporal } = deps;

  const caseFor = (caseNumber: string, principal: Principal) =>
    caseForIn(store, caseNumber, principal);

  const handleOf = (caseNumber: string) => temporal.workflow.getHandle(caseNumber);

  return [
    ...taskMaterialsRoutes(deps),
    route({
      method: 'post',
      path: '/cases',
      summary: 'Submit an application at a counter',
      tag: 'cases',
      roles: ['clerk'],
      body: submitBody,
      errors: [
        'unknown_item',
        'unknown_material',
        'invalid_identity_number',
        'invalid_credit_code',
        'wrong_department',
      ],
      handler: async ({ principal, body }) => ({
        status: 201,
        body: { case: await submitCase(deps, principal, body) },
      }),
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/intake',
      summary: 'Accept, request correction, or refuse to accept',
      tag: 'cases',
      roles: ['clerk'],
      params: caseParams,
      body: intakeBody,
      errors: [
        'case_not_found',
        'already_decided',
        'invalid_state',
        'unknown_material',
        'wrong_department',
      ],
      handler: async ({ params, body, principal }) => {
        await caseFor(params.caseNumber, principal);
        const actor = actorOf(principal);
        const handle = handleOf(params.caseNumber);
        const view: CaseView = await onWorkflow(params.caseNumber, () => {
          switch (body.decision) {
            case 'accept':
              return handle.executeUpdate(acceptUpdate, {
                args: [
                  {
                    actor,
                    concludeAtIntake: body.concludeAtIntake,
                    reasons: body.reasons,
                    fees: body.fees,
                  },
                ],
              });
            case 'requestCorrection':
              return handle.executeUpdate(requestCorrectionUpdate, {
                args: [{ actor, missing: body.missing }],
              });
            case 'refuseToAccept':
              return handle.executeUpdate(refuseToAcceptUpdate, {
                args: [
                  {
                    actor,
                    reasonCode: body.reasonCode,
                    reasons: body.reasons,
                    competentOrgan: body.competentOrgan,
                  },
                ],
              });
          }
        });
        return { body: { case: view } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/supplement',
      summary: 'Materials handed in: after a correction, or that a department asked for',
      tag: 'cases',
      roles: ['clerk'],
      params: caseParams,
      body: supplementBody,
      errors: ['case_not_found', 'task_not_found', 'invalid_state', 'unknown_material'],
      handler: async ({ params, body, principal }) => {
        await caseFor(params.caseNumber, principal);
        const view = await onWorkflow(params.caseNumber, () =>
          handleOf(params.caseNumber).executeUpdate(supplementUpdate, {
            args: [{ actor: actorOf(principal), materials: body.materials, task: body.task }],
          }),
        );
        return { body: { case: view } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/conclusion',
      summary: 'A department concludes its task: approve, or deny with reasons',
      tag: 'cases',
      roles: ['officer'],
      params: caseParams,
      body: conclusionBody,
      errors: [
        'case_not_found',
        'task_not_found',
        'wrong_department',
        'task_cancelled',
        'conflicting_conclusion',
        'invalid_state',
      ],
      handler: async ({ params, body, principal }) => {
        await caseFor(params.caseNumber, principal);
        const live = await onWorkflow(params.caseNumber, () =>
          handleOf(params.caseNumber).query(caseStatusQuery),
        );
        const candidates = live.tasks.filter((t) =>
          body.task ? t.code === body.task : t.department === principal.department,
        );
        if (candidates.length === 0) {
          throw new DomainError(
            'task_not_found',
            body.task
              ? `no task ${body.task} in this case`
              : 'no task of your department in this case',
          );
        }
        if (candidates.length > 1) {
          throw new DomainError(
            'validation_failed',
            'your department holds several tasks here: name the task',
            {
              problems: [
                {
                  path: 'body.task',
                  message: `one of ${candidates.map((t) => t.code).join(', ')}`,
                },
              ],
            },
          );
        }
        const task = candidates[0];
        requireDepartment(principal, task.department, `task ${task.code}`);
        if (task.status === 'waiting')
          throw new DomainError(
            'invalid_state',
            `task ${task.code} is waiting for its prerequisites`,
          );
        if (task.status === 'cancelled')
          throw new DomainError('task_cancelled', `task ${task.code} was cancelled`);
        const child = temporal.workflow.getHandle<typeof departmentTaskWorkflow>(
          taskWorkflowId(params.caseNumber, task.code),
        );
        try {
          const result = await onWorkflow(params.caseNumber, () =>
            child.executeUpdate(concludeUpdate, {
              args: [
                {
                  department: principal.department!,
                  officer: principal.id,
                  decision: body.decision,
                  reasons: body.reasons,
                },
              ],
            }),
          );
          return { body: { task: result } };
        } catch (err) {
          const closed =
            err instanceof DomainError && ['invalid_state', 'case_not_found'].includes(err.code);
          if (!closed) throw err;
          // The task closed meanwhile: the same conclusion again is answered with the first one.
          const done = await child.result().catch(() => {
            throw err;
          });
          const same = done.outcome === (body.decision === 'approve' ? 'approved' : 'denied');
          if (same) return { body: { task: done } };
          if (done.outcome === 'cancelled')
            throw new DomainError('task_cancelled', `task ${task.code} was cancelled`);
          throw new DomainError(
            'conflicting_conclusion',
            `task ${task.code} is already ${done.outcome}`,
          );
        }
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/withdrawal',
      summary: 'The applicant withdraws the application',
      tag: 'cases',
      roles: ['clerk'],
      params: caseParams,
      body: withdrawalBody,
      errors: ['case_not_found', 'invalid_state'],
      handler: async ({ params, body, principal }) => {
        await caseFor(params.caseNumber, principal);
        const view = await onWorkflow(params.caseNumber, () =>
          handleOf(params.caseNumber).executeUpdate(withdrawUpdate, {
            args: [{ actor: actorOf(principal), reasons: body.reasons }],
          }),
        );
        return { body: { case: view } };
      },
    }),

    route({
      method: 'post',
      path: '/cases/:caseNumber/collection',
      summary: 'The applicant collects the licence; the case closes',
      tag: 'cases',
      roles: ['clerk'],
      params: caseParams,
      errors: ['case_not_found', 'invalid_state'],
      handler: async ({ params, principal }) => {
        await caseFor(params.caseNumber, principal);
        const view = await onWorkflow(params.caseNumber, () =>
          handleOf(params.caseNumber).executeUpdate(collectUpdate, {
            args: [{ actor: actorOf(principal) }],
          }),
        );
        return { body: { case: view } };
      },
    }),

    route({
      method: 'get',
      path: '/cases/:caseNumber',
      summary: 'One case: register row, tasks, timeline, confirmed by the workflow',
      tag: 'cases',
      roles: ['clerk', 'officer', 'supervisor', 'admin', 'headOfOrgan', 'headOfGovernment'],
      params: caseParams,
      errors: ['case_not_found', 'wrong_department'],
      handler: async ({ params, principal }) => {
        const record = await caseFor(params.caseNumber, principal);
        const [tasks, timeline] = await Promise.all([
          store.getTasks(params.caseNumber),
          store.getTimeline(params.caseNumber),
        ]);
        let live: CaseView | null = null;
        try {
          live = await handleOf(params.caseNumber).query(caseStatusQuery);
        } catch {
          // The register still answers when Temporal is unreachable; `live` null says it could
          // not confirm.
        }
        return {
          body: {
            case: record,
            tasks,
            timeline,
            live,
            confirmed: live ? live.status === record.status : null,
          },
        };
      },
    }),

    route({
      method: 'get',
      path: '/cases',
      summary: 'Cases of the register, newest first, filtered and paged',
      tag: 'cases',
      roles: ['clerk', 'officer', 'supervisor', 'admin', 'headOfOrgan', 'headOfGovernment'],
      query: listQuery,
      handler: async ({ query, principal }) => {
        // Department staff see their own department's cases only, whatever filter they send.
        const department = principal.department ?? query.department;
        const page = await store.listCases({ ...query, department });
        return { body: { ...page, page: query.page, pageSize: query.pageSize } };
      },
    }),
  ];
}
