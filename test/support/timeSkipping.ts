/**
 * Workflow tests on Temporal's time-skipping test server (.tools/temporal-test-server, built by
 * scripts/ensure-test-server.sh): one environment per test file, one worker per test on a task
 * queue of its own, and the hall's activities replaced by in-memory fakes typed against
 * HallActivities. The workflows are bundled once per process and shared by every worker.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { getDayDetail } from 'chinese-days';
import chineseDaysData from 'chinese-days/dist/chinese-days.json';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HallActivities } from '../../activities';
import { createCalendarActivities, type ClockRequest } from '../../activities/calendar';
import { SnapshotCalendar } from '../../activities/calendarService';
import { createDepartmentActivities } from '../../activities/departments';
import {
  createDocumentActivities,
  type DocumentService,
  type IssuedDocument,
  type IssueRequest,
} from '../../activities/documents';
import { createRegisterActivities } from '../../activities/register';
import { createRearmActivities } from '../../activities/rearm';
import { hallDay, snapshotItem } from '../../api/cases/submit';
import {
  buildSnapshotFromChineseDays,
  computeDue,
  HALL_TIME_ZONE,
  indexSnapshot,
} from '../../lib/calendar';
import type { Limit } from '../../lib/catalog/types';
import type {
  AcceptRequest,
  Actor,
  CaseInput,
  ClockDue,
  Conclusion,
  RegisterEvent,
  TaskInput,
  TaskResult,
} from '../../lib/case/model';
import { taskWorkflowId } from '../../lib/case/model';
import { loadCatalog } from '../../lib/catalog/load';
import type { RegisterStore } from '../../lib/store';
import type { caseWorkflow, departmentTaskWorkflow } from '../../workflows';
import { concludeUpdate, registeredUpdate } from '../../workflows/messages';
import { buildCompany } from './builders';

const repo = path.resolve(__dirname, '..', '..');
const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

/** The Java time-skipping server that scripts/ensure-test-server.sh installs. */
export const TEST_SERVER_PATH = path.join(repo, '.tools', 'temporal-test-server');

// The SDK logs every worker start and stop at INFO; a test run wants warnings only. Core's
// warnings stay on (a workflow task the server refuses shows there and nowhere else), except the
// one core prints at every worker start because the Java server does not advertise the
// heartbeat-details capability. The runtime is installed once per process.
const CORE_LOG_FILTER = [
  'ERROR',
  'temporalio_sdk_core=WARN',
  'temporalio_client=WARN',
  'temporalio_sdk_core::worker=ERROR',
  'temporalio_sdk_core::worker::workflow=WARN',
].join(',');
try {
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: CORE_LOG_FILTER } },
  });
} catch {
  // Installed already by another module of this process.
}

/**
 * A time-skipping environment with the hall's search attributes. The Java server rejects the
 * SDK's `searchAttributes` start option, so they are registered through the operator service,
 * which the workflows need because they upsert them.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(TEST_SERVER_PATH)) {
    throw new Error(`${TEST_SERVER_PATH} is missing: run scripts/ensure-test-server.sh`);
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: TEST_SERVER_PATH } },
  });
  // IndexedValueType: 2 keyword, 6 datetime.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { CaseNumber: 2, ItemCode: 2, Department: 2, CaseStatus: 2, DueAt: 6 },
  });
  return env;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The hall's workflows (workflows/index.ts), bundled once per process: bundling takes seconds. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

/** The context of a workflow test file: the time-skipping environment its tests share. */
export interface TimeSkippingContext {
  env: TestWorkflowEnvironment;
}

/**
 * ava's `test` for a workflow test file: one time-skipping environment for the file, created
 * with the workflows bundled before its first test and torn down after its last.
 */
export function timeSkippingTest(): TestFn<TimeSkippingContext> {
  const test = anyTest as TestFn<TimeSkippingContext>;
  test.before(async (t) => {
    t.context.env = await createTimeSkippingEnv();
    await workflowBundle();
  });
  test.after.always(async (t) => {
    await t.context.env?.teardown();
  });
  return test;
}

/** The test server's clock as an ISO instant (a case received "now" on a moved clock). */
export async function serverNow(env: TestWorkflowEnvironment): Promise<string> {
  return new Date(await env.currentTimeMs()).toISOString();
}

/** Skips the test server's clock forward to an instant. */
export async function skipTo(env: TestWorkflowEnvironment, instant: string): Promise<void> {
  const wait = Date.parse(instant) - (await env.currentTimeMs());
  if (wait <= 0) throw new Error(`the test server is past ${instant} already`);
  await env.sleep(wait);
}

// ---------------------------------------------------------------------------------------------
// Fake activities.

/** A document as the fake issued it: the request and the number it answered with. */
export interface FakeDocument extends IssueRequest {
  documentNumber: string;
}

/** One activity call: which activity, what the workflow sent and what it got back. */
export interface ActivityCall {
  activity: string;
  request: any;
  answer: any;
}

/** A computeClock call: the clock the workflow asked for and the due moments it got. */
export interface FakeClock {
  request: ClockRequest;
  due: ClockDue;
}

/** The hall's activities over in-memory fakes, and what the workflows did with them. */
export interface FakeHall {
  activities: HallActivities;
  /** The register: each (stream, seq) once, in the order first written. */
  events: RegisterEvent[];
  /** Writes of a (stream, seq) the register already held; it ignored them and answered false. */
  repeatedWrites: RegisterEvent[];
  /** Every calendar and notifier call that answered, in order. */
  calls: ActivityCall[];
  /** Every computeClock call that answered, in order. */
  readonly clocks: FakeClock[];
  /** Every issueDocument call, in order (a repeated event key answers with the same number). */
  documents: FakeDocument[];
  /** The events of one stream (a case's workflow id, or a task's `<caseNumber>/<taskCode>`). */
  eventsOf(stream: string): RegisterEvent[];
  /** Resolves with the first event, already held or still to come, that matches. */
  waitForEvent(
    match: (event: RegisterEvent) => boolean,
    timeoutMs?: number,
  ): Promise<RegisterEvent>;
}

/** Hooks a test uses to delay or fail a register write. */
export interface FakeHallOptions {
  /** Runs before a register write; it may wait on a gate, or throw to fail the attempt. */
  beforeRecord?: (event: RegisterEvent) => Promise<void> | void;
  /** Runs after a register write is stored; throwing here is an answer lost on the way back. */
  afterRecord?: (event: RegisterEvent) => Promise<void> | void;
}

// The calendar is the real one: SnapshotCalendar counts with lib/calendar
// (buildSnapshotFromChineseDays + computeDue) on the shipped State Council data, without I/O.
const calendarService = new SnapshotCalendar();
const calendarIndex = indexSnapshot(buildSnapshotFromChineseDays());

/** The due moment computeDue gives on the shipped calendar, to check a clock against. */
export function dueOn(start: string, limit: Limit): { dueAt: string; provisional: boolean } {
  const result = computeDue(
    calendarIndex,
    { start: new Date(start), days: limit.days, unit: limit.unit },
    HALL_TIME_ZONE,
  );
  if (result.dueAt === null) throw new Error('no suspension was given, yet the clock is stopped');
  return { dueAt: result.dueAt.toISOString(), provisional: result.provisional };
}

// ---------------------------------------------------------------------------------------------
// Plain weeks, counted by hand.

const DAY_MS = 86_400_000;
/** Asia/Shanghai is UTC+8 all year: it has no daylight saving. */
const HALL_OFFSET_MS = 8 * 3_600_000;

/** chinese-days' own data: the State Council's rest days and make-up working days. */
const stateCouncil = chineseDaysData as {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
};
const publishedYears = new Set(Object.keys(stateCouncil.holidays).map((d) => d.slice(0, 4)));

/**
 * Month-days off every year (Regulations on National Annual Festivals art. 2: New Year 1 day,
 * Labour Day 2, National Day 3). chinese-days lists them only for the years it has the State
 * Council's arrangement of; the hall keeps them off in a later year too, provisionally.
 */
const FIXED_HOLIDAYS = ['01-01', '05-01', '05-02', '10-01', '10-02', '10-03'];

/** The YYYY-MM-DD date `days` calendar days after another. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The instant of a hall time (HH:MM:SS, UTC+8) on the day `offset` days after a date. */
export function hallMoment(date: string, offset: number, time: string): string {
  return new Date(`${addDays(date, offset)}T${time}+08:00`).toISOString();
}

/** The end (24:00, UTC+8) of the hall's day `offset` calendar days after a date. */
export function endOfHallDay(date: string, offset: number): string {
  return new Date(Date.parse(hallMoment(date, offset + 1, '00:00:00')) - 1).toISOString();
}

/** True when chinese-days has the State Council's arrangement for the year of a date. */
export function isPublished(date: string): boolean {
  return publishedYears.has(date.slice(0, 4));
}

/**
 * A plain day, by chinese-days and not by the hall's calendar code: a working day from Monday to
 * Friday, a rest day on Saturday and Sunday, neither a holiday nor a make-up working day of the
 * State Council, and not a fixed-date holiday.
 */
function isPlainDay(date: string): boolean {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  const weekend = weekday === 0 || weekday === 6;
  return (
    getDayDetail(date).work === !weekend &&
    !(date in stateCouncil.holidays) &&
    !(date in stateCouncil.workdays) &&
    !FIXED_HOLIDAYS.includes(date.slice(5))
  );
}

/**
 * The first Monday after the test server's today that starts `weeks` plain weeks in a row. A test
 * that moves the clock there counts its dates by weekday arithmetic, whatever day it runs on.
 */
export async function firstPlainMonday(
  env: TestWorkflowEnvironment,
  weeks: number,
): Promise<string> {
  const today = new Date((await env.currentTimeMs()) + HALL_OFFSET_MS).toISOString().slice(0, 10);
  const weekday = new Date(`${today}T00:00:00Z`).getUTCDay();
  let monday = addDays(today, (8 - weekday) % 7 || 7);
  for (let tries = 0; tries < 260; tries++, monday = addDays(monday, 7)) {
    const days = Array.from({ length: 7 * weeks }, (_, i) => addDays(monday, i));
    if (days.every(isPlainDay)) return monday;
  }
  throw new Error(`no ${weeks} plain weeks in a row within five years of ${today}`);
}

/**
 * A fresh fake hall: the hall's activities over an in-memory register (applyEvent is all the
 * register activities use), the real calendar and a document counter from 1.
 */
export function buildFakeHall(options: FakeHallOptions = {}): FakeHall {
  const events: RegisterEvent[] = [];
  const keys = new Set<string>();
  const repeatedWrites: RegisterEvent[] = [];
  const calls: ActivityCall[] = [];
  const documents: FakeDocument[] = [];
  const numbers = new Map<string, string>();
  const waiters = new Set<{
    match: (e: RegisterEvent) => boolean;
    resolve: (e: RegisterEvent) => void;
  }>();

  // Keyed by (stream, seq) like the real register: a second write is a no-op answering false.
  const store: Pick<RegisterStore, 'applyEvent'> = {
    async applyEvent(event) {
      await options.beforeRecord?.(event);
      const key = `${event.stream}#${event.seq}`;
      if (keys.has(key)) {
        repeatedWrites.push(event);
        return false;
      }
      keys.add(key);
      events.push(event);
      for (const waiter of waiters) {
        if (waiter.match(event)) {
          waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
      await options.afterRecord?.(event);
      return true;
    },
  };

  // The same event key answers with the same number, as the document service promises.
  const documentService: DocumentService = {
    async issue(request): Promise<IssuedDocument> {
      let documentNumber = numbers.get(request.eventKey);
      if (!documentNumber) {
        documentNumber = `DOC-${String(numbers.size + 1).padStart(6, '0')}`;
        numbers.set(request.eventKey, documentNumber);
      }
      documents.push({ ...request, documentNumber });
      return {
        id: documentNumber,
        documentNumber,
        kind: request.kind,
        issuedAt: new Date().toISOString(),
      };
    },
  };

  // The calendar activities as the worker runs them, each answer recorded.
  const calendar = createCalendarActivities(calendarService);
  const recordedCalendar = Object.fromEntries(
    Object.entries(calendar).map(([activity, run]) => [
      activity,
      async (request: unknown) => {
        const answer: unknown = await (run as (r: unknown) => Promise<unknown>)(request);
        calls.push({ activity, request, answer });
        return answer;
      },
    ]),
  ) as typeof calendar;

  const activities: HallActivities = {
    ...createRegisterActivities(store as RegisterStore),
    ...recordedCalendar,
    ...createDocumentActivities(documentService),
    // No department has a system of its own here: every task is in the hall inbox at once.
    ...createDepartmentActivities({}),
    // The calendar re-arm is not run by these tests; its activities only complete the set.
    ...createRearmActivities({ store: store as RegisterStore }),
    // The applicant has no channel switched on: nothing is sent, the request is kept.
    async notify(request) {
      calls.push({ activity: 'notify', request, answer: undefined });
      const { caseNumber, eventKey, step } = request;
      return { caseNumber, eventKey, step, notifications: [], skipped: [] };
    },
    // Staff have no contact on file here: the request is kept, as the workflow made it.
    async notifyStaff(request) {
      calls.push({ activity: 'notifyStaff', request, answer: undefined });
      const { caseNumber, eventKey, step } = request;
      return { caseNumber, eventKey, step, notifications: [], unaddressed: [] };
    },
    // No item of these tests carries a fee.
    ...notFaked(['issuePaymentNotice', 'checkPayment', 'expirePaymentNotice', 'startRefund']),
  };

  return {
    activities,
    events,
    repeatedWrites,
    calls,
    get clocks() {
      return calls
        .filter((c) => c.activity === 'computeClock')
        .map((c) => ({ request: c.request as ClockRequest, due: c.answer as ClockDue }));
    },
    documents,
    eventsOf: (stream) => events.filter((e) => e.stream === stream),
    waitForEvent: (match, timeoutMs = 20_000) => {
      const held = events.find(match);
      if (held) return Promise.resolve(held);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (!waiters.delete(waiter)) return;
          reject(new Error(`no matching register event in ${timeoutMs} ms: ${match.toString()}`));
        }, timeoutMs).unref();
      });
    },
  };
}

/** Activities no test here reaches: each fails for good, naming itself, if one ever is. */
function notFaked<K extends keyof HallActivities>(names: K[]): Pick<HallActivities, K> {
  const refuse = (name: string) => async () => {
    throw ApplicationFailure.nonRetryable(
      `${name} is not faked in the workflow tests`,
      'not_faked',
    );
  };
  return Object.fromEntries(names.map((name) => [name, refuse(name)])) as unknown as Pick<
    HallActivities,
    K
  >;
}

/**
 * The register actions of a case's and a task's life. Delivery receipts, warnings and clock
 * changes are written beside them by other features, at moments of their own.
 */
export const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set([
  'submitted',
  'correctionRequested',
  'supplemented',
  'refusedToAccept',
  'accepted',
  'acceptedByLaw',
  'tasksPlanned',
  'taskOpened',
  'taskConcluded',
  'taskCancelled',
  'concluded',
  'withdrawn',
  'collected',
]);

/** The lifecycle actions of one stream, in the order the register took them. */
export function lifecycleOf(hall: FakeHall, stream: string): string[] {
  return hall
    .eventsOf(stream)
    .filter((e) => LIFECYCLE_ACTIONS.has(e.action))
    .map((e) => e.action);
}

/** A gate an activity hook can wait on until the test opens it. */
export function buildGate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

// ---------------------------------------------------------------------------------------------
// Workers and workflows.

/** A worker of one test, on a task queue of its own, and the cases the test starts on it. */
export interface HallWorker {
  taskQueue: string;
  /**
   * Runs the test body while the worker polls, then waits until the test's workflows are idle,
   * so the worker leaves nothing half done.
   */
  run<T>(body: () => Promise<T>): Promise<T>;
  /**
   * Starts a case as api/cases/submit.ts does and waits until it is in the register; one built
   * without a receipt time is received now, by the server's clock. The case and its tasks are
   * terminated at teardown if still open.
   */
  startCase(input: CaseInput): Promise<CaseHandle>;
}

/**
 * A worker over the fake hall. The Java test server keeps the activities of a terminated
 * workflow pending, and a pending activity stops its clock for every later env.sleep of the
 * file; hence `run` lets the workflows settle before the worker stops.
 */
export async function createHallWorker(
  t: ExecutionContext,
  env: TestWorkflowEnvironment,
  hall: FakeHall,
): Promise<HallWorker> {
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: hall.activities,
  });
  const started: CaseInput[] = [];

  return {
    taskQueue,
    run: (body) =>
      worker.runUntil(async () => {
        const result = await body();
        await settle(env, started.flatMap(workflowIdsOf)).catch((err: Error) =>
          t.fail(err.message),
        );
        return result;
      }),
    startCase: async (input) => {
      if (receivedAtStart.delete(input)) input.receivedAt = await serverNow(env);
      const handle = await env.client.workflow.start<typeof caseWorkflow>('caseWorkflow', {
        workflowId: input.caseNumber,
        taskQueue,
        args: [input],
        searchAttributes: {
          CaseNumber: [input.caseNumber],
          ItemCode: [input.item.code],
          Department: [input.item.department],
          CaseStatus: ['submitted'],
        },
      });
      started.push(input);
      // The test server may leave a terminated parent's children running: each goes by itself.
      t.teardown(async () => {
        const terminate = (id: string) =>
          env.client.workflow
            .getHandle(id)
            .terminate('test over')
            .catch(() => undefined);
        await Promise.all(workflowIdsOf(input).map(terminate));
      });
      await handle.executeUpdate(registeredUpdate);
      return handle;
    },
  };
}

/**
 * Waits until the workflows are idle: no activity pending, no workflow task waiting for the
 * worker, and nothing new in their histories for three polls in a row (a warning timer that is
 * already due fires within that time).
 */
async function settle(env: TestWorkflowEnvironment, workflowIds: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let quiet = 0;
  let last = '';
  while (quiet < 3) {
    const states = await Promise.all(workflowIds.map((id) => activityOf(env, id)));
    const now = JSON.stringify(states);
    quiet = now === last && states.every((s) => s.idle) ? quiet + 1 : 0;
    last = now;
    if (Date.now() > deadline) throw new Error(`the workflows did not settle: ${now}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * How near the server's clock a timer may be due while its workflow still counts as idle. A
 * clock whose moment is already past arms a timer of 1 ms (workflows/clock.ts), which fires at
 * once: a message sent then lands in the workflow task of that timer's firing.
 */
const TIMER_GUARD_MS = 2_000;

/**
 * Whether a workflow is idle: no activity pending, no workflow task waiting for the worker or
 * with it, and no timer due within TIMER_GUARD_MS. A message sent while a timer is about to fire
 * can land in the same workflow task as its firing; when that message resolves a condition with
 * a timeout, the workflow cancels the timer, and the Java test server refuses the completion
 * ("invalid history builder state for action", temporalio/sdk-java#2606) and never hands the
 * task out again (sdk-java#3088): the workflow hangs for good. Temporal's server drops the
 * fired timer and records it cancelled.
 */
async function activityOf(env: TestWorkflowEnvironment, workflowId: string) {
  const described = await describeIfStarted(env, workflowId);
  if (!described) return { workflowId, idle: true, events: 0 };
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const lastType = events.at(-1)?.eventType;
  const waitingForWorker =
    lastType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED ||
    lastType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED;
  const pending = described.raw.pendingActivities?.length ?? 0;
  const fireAt = new Map<string, number>();
  for (const e of events) {
    const started = e.timerStartedEventAttributes;
    if (started?.timerId) {
      fireAt.set(started.timerId, tsToMs(e.eventTime) + tsToMs(started.startToFireTimeout));
    }
    const ended = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes;
    if (ended?.timerId) fireAt.delete(ended.timerId);
  }
  const now = await env.currentTimeMs();
  const timerDue = [...fireAt.values()].some((at) => at - now < TIMER_GUARD_MS);
  const idle = pending === 0 && !waitingForWorker && !timerDue;
  return { workflowId, idle, events: events.length };
}

/** A case's workflow id and the ids its department tasks have or would have. */
function workflowIdsOf(input: CaseInput): string[] {
  const tasks = input.item.tasks.map((task) => taskWorkflowId(input.caseNumber, task.code));
  return [input.caseNumber, ...tasks];
}

async function describeIfStarted(env: TestWorkflowEnvironment, workflowId: string) {
  try {
    return await env.client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
    throw err;
  }
}

/** A case workflow as the test drives it. */
export type CaseHandle = WorkflowHandle<typeof caseWorkflow>;
/** A department task workflow as the test drives it. */
export type TaskHandle = WorkflowHandle<typeof departmentTaskWorkflow>;

/** The handle of a case's department task (child workflow `<caseNumber>/<taskCode>`). */
export function taskHandle(
  env: TestWorkflowEnvironment,
  caseNumber: string,
  taskCode: string,
): TaskHandle {
  return env.client.workflow.getHandle<typeof departmentTaskWorkflow>(
    taskWorkflowId(caseNumber, taskCode),
  );
}

/**
 * Waits until a department task has settled: opened and delivered to its department, idle as
 * activityOf tells (no activity pending, no timer about to fire). A conclusion is sent only then,
 * because the Java test server refuses a workflow task that cancels an activity it is handing
 * out at that moment (FAILED_PRECONDITION "ACTIVITY_UNKNOWN"), or a timer that has just fired,
 * and the task workflow then hangs for good; a conclusion that arrives while the delivery is in
 * flight makes the task workflow cancel it. (Temporal's server copes with both.)
 */
export async function taskSettled(
  env: TestWorkflowEnvironment,
  hall: FakeHall,
  caseNumber: string,
  taskCode: string,
): Promise<void> {
  const stream = taskWorkflowId(caseNumber, taskCode);
  const settled =
    'deliverTask' in hall.activities ? ['taskDelivered', 'deliveryFailed'] : ['taskOpened'];
  await hall.waitForEvent((e) => e.stream === stream && settled.includes(e.action));
  await eventually(
    () => activityOf(env, stream),
    ({ idle }) => idle,
  );
}

/** A department's conclusion of its task, sent once the task has settled. */
export async function concludeTask(
  env: TestWorkflowEnvironment,
  hall: FakeHall,
  caseNumber: string,
  taskCode: string,
  conclusion: Conclusion,
): Promise<TaskResult> {
  await taskSettled(env, hall, caseNumber, taskCode);
  return taskHandle(env, caseNumber, taskCode).executeUpdate(concludeUpdate, {
    args: [conclusion],
  });
}

/** True when a workflow with this id has been started on the server. */
export async function workflowExists(
  env: TestWorkflowEnvironment,
  workflowId: string,
): Promise<boolean> {
  return (await describeIfStarted(env, workflowId)) !== undefined;
}

/** The input a department task workflow was started with, read from its history. */
export async function taskInputOf(handle: TaskHandle): Promise<TaskInput> {
  const history = await handle.fetchHistory();
  const payload =
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`${handle.workflowId} has no start input`);
  return defaultPayloadConverter.fromPayload<TaskInput>(payload);
}

/** The update names a workflow's history shows as accepted, in order. */
export async function acceptedUpdates(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
    .filter((a) => a != null)
    .map((a) => a.acceptedRequest?.input?.name ?? '');
}

/** The ApplicationFailure an update was refused with (its type is the hall's error code). */
export async function refusalOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await call;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      return err.cause;
    }
    throw err;
  }
  throw new Error('the update was not refused');
}

/** Polls until a probe satisfies a condition (a case reacts to its tasks asynchronously). */
export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Replay.

/** Where recorded histories are kept for test/workflows/replay.test.ts. */
export const HISTORIES_DIR = path.join(repo, 'test', 'workflows', 'histories');

/** One history replayed: the workflow and, if it did not replay, why. */
export interface Replayed {
  workflowId: string;
  error?: string;
}

/**
 * Replays, with the current workflow bundle, the histories of the given cases and of every
 * task workflow they started: a nondeterministic change to workflow code fails here.
 */
export async function replayAll(
  env: TestWorkflowEnvironment,
  cases: CaseInput[],
): Promise<Replayed[]> {
  const ids: string[] = [];
  for (const id of cases.flatMap(workflowIdsOf)) {
    if (await workflowExists(env, id)) ids.push(id);
  }
  const histories = await Promise.all(
    ids.map(async (workflowId) => ({
      workflowId,
      history: await env.client.workflow.getHandle(workflowId).fetchHistory(),
    })),
  );
  const replayed: Replayed[] = [];
  const results = Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories);
  for await (const result of results) {
    replayed.push(
      result.error
        ? { workflowId: result.workflowId, error: String(result.error) }
        : { workflowId: result.workflowId },
    );
  }
  return replayed;
}

// A history file is Temporal's JSON form of the History message (what the CLI and the SDK's
// historyToJSON write). The SDK's own helpers fail in this install ("type must be a Type"):
// @temporalio/common and @temporalio/proto each carry a copy of protobufjs, and the JSON code of
// the one does not know the types of the other. The protobufjs of @temporalio/proto is used here.
type History = proto.temporal.api.history.v1.IHistory;
const protojson = createRequire(require.resolve('@temporalio/proto'))(
  'protobufjs/ext/protojson',
) as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
};
const historyType = (
  patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }
).lookupType('temporal.api.history.v1.History');

/** A history as the JSON text of a history file. */
export function historyToJson(history: History): string {
  const message = temporal.api.history.v1.History.fromObject(history);
  return `${JSON.stringify(protojson.toJson(historyType, message), null, 2)}\n`;
}

/** A history file read back, ready for Worker.runReplayHistory. */
export function readHistoryFile(fileName: string): History {
  const json: unknown = JSON.parse(readFileSync(path.join(HISTORIES_DIR, fileName), 'utf8'));
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}

/**
 * Saves a workflow's history as `<name>-<version>.json` under HISTORIES_DIR when the run records
 * one (RECORD_HISTORIES=v1, v2, ...; see test/workflows/replay.test.ts). A file already there is
 * never overwritten: it is the record of cases that may still be running.
 */
export async function saveHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const version = process.env.RECORD_HISTORIES;
  if (!version) return;
  if (!/^v\d+$/.test(version)) throw new Error(`RECORD_HISTORIES=${version}: use v1, v2, ...`);
  const file = path.join(HISTORIES_DIR, `${name}-${version}.json`);
  if (existsSync(file)) throw new Error(`${file} exists: a recorded history is kept as it is`);
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(file, historyToJson(await handle.fetchHistory()));
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

const catalog = loadCatalog(path.join(repo, 'data'));

/** A catalog item as the shipped data/catalog.json defines it. */
export function catalogItem(code: string) {
  const item = catalog.items.get(code);
  if (!item) throw new Error(`no item ${code} in data/catalog.json`);
  return item;
}

let caseSequence = 0;

/**
 * The inputs built without a receipt time, received when startCase starts them, at the server's
 * now. The wall clock's now would do only while no test has moved the server's clock: a case
 * received days before the server's now opens its intake limit and every clock counted from
 * receipt already late, and their warning timers of 1 ms then race what the test sends next
 * (see activityOf).
 */
const receivedAtStart = new WeakSet<CaseInput>();
const casePrefix = `TS${randomBytes(2).toString('hex').toUpperCase()}`;

/**
 * The workflow input of a counter submission of an item, built as api/cases/submit.ts builds
 * it (snapshotItem of the shipped catalog), with every material of the item handed in. Without
 * a `receivedAt` override, startCase stamps it with the server's now (see receivedAtStart).
 */
export function buildCaseInput(
  itemCode: string,
  overrides: Partial<Omit<CaseInput, 'item'>> = {},
): CaseInput {
  const item = catalogItem(itemCode);
  caseSequence++;
  const sequence = String(caseSequence).padStart(5, '0');
  const input: CaseInput = {
    caseNumber: `${casePrefix}-${hallDay(new Date(), HALL_TIME_ZONE)}-${sequence}`,
    item: snapshotItem(item),
    applicant: buildCompany(),
    channels: ['sms'],
    materials: item.materials.map((m) => m.code),
    receivedAt: new Date().toISOString(),
    source: 'counter',
    submittedBy: buildClerk(),
    ...overrides,
  };
  if (overrides.receivedAt === undefined) receivedAtStart.add(input);
  return input;
}

/** The comprehensive window's clerk. */
export function buildClerk(overrides: Partial<Actor> = {}): Actor {
  return { id: 'clerk-c01', role: 'clerk', counter: 'C01', ...overrides };
}

/** A clerk's acceptance. */
export function buildAccept(overrides: Partial<AcceptRequest> = {}): AcceptRequest {
  return { actor: buildClerk(), ...overrides };
}

/** A department's approval of its task, by one of its officers. */
export function buildConclusion(
  department: string,
  overrides: Partial<Conclusion> = {},
): Conclusion {
  return { department, officer: `officer-${department}-1`, decision: 'approve', ...overrides };
}
