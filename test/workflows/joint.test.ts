/**
 * Joint cases (并联审批): one case, a department task per related department, opened as their
 * prerequisites are approved (copyToRelated), joined into one decision, and cancelled together
 * when one department denies or the applicant withdraws. Time-skipping server, fake activities.
 */
import type { ExecutionContext } from 'ava';
import type {
  CaseInput,
  CaseView,
  Conclusion,
  RegisterEvent,
  TaskResult,
  TaskStatus,
} from '../../lib/case/model';
import {
  acceptUpdate,
  caseStatusQuery,
  clockQuery,
  concludeUpdate,
  requestMaterialsUpdate,
  supplementUpdate,
  taskStatusQuery,
  withdrawUpdate,
} from '../../workflows/messages';
import {
  acceptedUpdates,
  buildAccept,
  buildCaseInput,
  buildClerk,
  buildConclusion,
  buildFakeHall,
  buildGate,
  catalogItem,
  concludeTask,
  createHallWorker,
  dueOn,
  endOfHallDay,
  eventually,
  firstPlainMonday,
  hallMoment,
  refusalOf,
  replayAll,
  saveHistory,
  skipTo,
  taskHandle,
  taskInputOf,
  taskSettled,
  timeSkippingTest,
  workflowExists,
  LIFECYCLE_ACTIONS,
  lifecycleOf,
  type CaseHandle,
  type FakeHall,
  type TimeSkippingContext,
} from '../support/timeSkipping';

const test = timeSkippingTest();

const RESTAURANT = 'joint-open-restaurant';
const CONSTRUCTION = 'joint-construction-parallel-approval';
const HOSPITAL = 'joint-open-private-hospital';

const REGISTRATION = 'market-enterprise-registration';
/** The restaurant's tasks that wait for the business registration, with their departments. */
const RESTAURANT_DEPENDANTS: Record<string, string> = {
  'market-food-business-licence': 'market',
  'fire-public-assembly-check-commitment': 'fire',
  'water-drainage-permit': 'water',
  'urban-shop-sign-filing': 'urban',
};

const PLANNING = 'planning-construction-project-planning-permit';
const ECOLOGY = 'ecology-eia-form-approval';
const FIRE_DESIGN = 'housing-fire-design-review';
const AIR_DEFENCE = 'civil-air-defence-basement-approval';
const DRAINAGE = 'water-drainage-permit';

const ESTABLISHMENT = 'health-medical-institution-establishment';
const PRACTICE = 'health-medical-institution-practice-registration';
const SHOP_SIGN = 'urban-shop-sign-filing';

const ECOLOGY_REASONS = 'the site lies inside a first-grade drinking-water protection zone';
const DAY_MS = 86_400_000;

/** Every case started here, so the last test can replay their histories. */
const started: CaseInput[] = [];

interface JointRun {
  hall: FakeHall;
  handle: CaseHandle;
  caseNumber: string;
  accepted: CaseView;
  /** A department approves (or, with overrides, denies) one task by its update. */
  conclude: (
    taskCode: string,
    department: string,
    overrides?: Partial<Conclusion>,
  ) => Promise<TaskResult>;
  /** The case as its query answers, once it satisfies `ok`. */
  caseWhen: (ok: (view: CaseView) => boolean) => Promise<CaseView>;
}

/**
 * Runs a test body against a joint case already accepted by the clerk, inside a worker of its
 * own over a fresh fake hall.
 */
async function withAcceptedCase(
  t: ExecutionContext<TimeSkippingContext>,
  itemCode: string,
  body: (run: JointRun) => Promise<void>,
  hall: FakeHall = buildFakeHall(),
  overrides: Partial<Omit<CaseInput, 'item'>> = {},
): Promise<void> {
  const { env } = t.context;
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildCaseInput(itemCode, overrides);
  started.push(input);
  const caseNumber = input.caseNumber;

  await run(async () => {
    const handle = await startCase(input);
    const accepted = await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });
    await body({
      hall,
      handle,
      caseNumber,
      accepted,
      conclude: (taskCode, department, overrides) =>
        concludeTask(env, hall, caseNumber, taskCode, buildConclusion(department, overrides)),
      caseWhen: (ok) => eventually(() => handle.query(caseStatusQuery), ok),
    });
  });
}

function statusesOf(view: CaseView): Record<string, TaskStatus> {
  return Object.fromEntries(view.tasks.map((task) => [task.code, task.status]));
}

function isOpened(caseNumber: string, taskCode: string) {
  return (e: RegisterEvent) =>
    e.stream === `${caseNumber}/${taskCode}` && e.action === 'taskOpened';
}

/** How many taskCancelled events the register holds for each task, from whichever stream. */
function cancellationsOf(hall: FakeHall): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of hall.events.filter((e) => e.action === 'taskCancelled')) {
    counts[e.taskCode!] = (counts[e.taskCode!] ?? 0) + 1;
  }
  return counts;
}

test.serial(
  'a task waiting for the applicant’s materials stops its clock; the other tasks run on',
  async (t) => {
    const { env } = t.context;
    // The clock moves to the first Monday, from today, of two weeks that chinese-days shows
    // plain (Mon–Fri working, Sat–Sun rest, no holiday, no make-up day): then the n-th working
    // day is a weekday counted by hand, and `monday + k` below is k calendar days on.
    const monday = await firstPlainMonday(env, 2);
    // Received and accepted on Monday 09:00; the urban task counts from receipt.
    await skipTo(env, hallMoment(monday, 0, '09:00:00'));
    const signItem = catalogItem(SHOP_SIGN);
    const asked = signItem.materials
      .filter((m) => ['panorama-photo', 'close-up-photo'].includes(m.code))
      .map((m) => ({ code: m.code, name: m.name }));
    const officer = { id: 'officer-urban-1', role: 'officer', department: 'urban' };
    const reason = '招牌效果图与现场位置不符，请补充全景照片和近景照片';

    await withAcceptedCase(t, HOSPITAL, async ({ hall, handle, caseNumber, caseWhen }) => {
      const openAtOnce = [ESTABLISHMENT, REGISTRATION, ECOLOGY, DRAINAGE, SHOP_SIGN];
      for (const code of openAtOnce) await taskSettled(env, hall, caseNumber, code);
      const datesOf = async (code: string) => {
        const s = await taskHandle(env, caseNumber, code).query(taskStatusQuery);
        return { statutoryDueAt: s.statutoryDueAt, promisedDueAt: s.promisedDueAt };
      };
      const before = Object.fromEntries(
        await Promise.all(openAtOnce.map(async (c) => [c, await datesOf(c)] as const)),
      );
      // Urban's limits, 5 working days statutory and 3 promised, counted from Monday (day 0):
      // Tue 1, Wed 2, Thu 3 (promised), Fri 4, next Mon 5 (statutory).
      t.deepEqual(before[SHOP_SIGN], {
        statutoryDueAt: endOfHallDay(monday, 7),
        promisedDueAt: endOfHallDay(monday, 3),
      });

      // Tuesday 10:00: urban asks for two photos.
      await skipTo(env, hallMoment(monday, 1, '10:00:00'));
      const sign = taskHandle(env, caseNumber, SHOP_SIGN);
      const waiting = await sign.executeUpdate(requestMaterialsUpdate, {
        args: [{ actor: officer, materials: asked, reason }],
      });
      t.like(waiting, { status: 'open', statutoryDueAt: undefined, promisedDueAt: undefined });
      t.deepEqual(waiting.materialsRequest?.outstanding, ['panorama-photo', 'close-up-photo']);
      const requested = hall
        .eventsOf(`${caseNumber}/${SHOP_SIGN}`)
        .find((e) => e.action === 'materialsRequested')!;
      t.like(requested, {
        actor: officer,
        task: { awaiting: 'applicant' },
        details: { materials: ['panorama-photo', 'close-up-photo'], reason },
      });
      const view = await caseWhen(() => true);
      t.like(
        view.tasks.find((task) => task.code === SHOP_SIGN),
        { awaiting: 'applicant', requestedMaterials: ['panorama-photo', 'close-up-photo'] },
      );
      const notice = await eventually(
        async () => hall.calls.find((c) => c.request?.step === 'taskMaterialsRequested'),
        (call) => call !== undefined,
      );
      t.like(notice!.request, {
        caseNumber,
        eventKey: `${caseNumber}/${SHOP_SIGN}#${requested.seq}`,
        details: { department: 'urban', requestedMaterials: asked.map((m) => m.name) },
      });

      // Thursday 10:00: the applicant hands both photos in at the lead counter.
      await skipTo(env, hallMoment(monday, 3, '10:00:00'));
      const after = await handle.executeUpdate(supplementUpdate, {
        args: [{ actor: buildClerk(), materials: ['panorama-photo', 'close-up-photo'] }],
      });
      t.is(after.tasks.find((task) => task.code === SHOP_SIGN)?.awaiting, undefined);
      const resumed = await hall.waitForEvent(
        (e) => e.stream === `${caseNumber}/${SHOP_SIGN}` && e.action === 'resumed',
      );
      const supplemented = hall.eventsOf(caseNumber).find((e) => e.action === 'supplemented')!;
      t.like(supplemented, {
        taskCode: SHOP_SIGN,
        details: { materials: ['panorama-photo', 'close-up-photo'], stillMissing: [] },
      });

      // Tue, Wed and Thu (request day to supplement day, both included) are 3 working days not
      // counted: Fri 1, Mon 2, Tue 3 (promised), Wed 4, Thu 5 (statutory). Both dates move by
      // exactly 3 working days: Mon → Thu and Thu → Tue.
      const moved = {
        statutoryDueAt: endOfHallDay(monday, 10),
        promisedDueAt: endOfHallDay(monday, 8),
      };
      t.like(resumed, { task: { awaiting: null, ...moved } });
      t.deepEqual(await datesOf(SHOP_SIGN), moved);
      t.deepEqual((await sign.query(taskStatusQuery)).warnings, []);
      for (const code of openAtOnce.filter((c) => c !== SHOP_SIGN)) {
        t.deepEqual(await datesOf(code), before[code], `${code} keeps its dates`);
        const actions = hall.eventsOf(`${caseNumber}/${code}`).map((e) => e.action);
        t.false(actions.includes('resumed') || actions.includes('clockRecomputed'), code);
      }

      await handle.executeUpdate(withdrawUpdate, {
        args: [{ actor: buildClerk(), reasons: 'the investors chose another site' }],
      });
    });
  },
);

test.serial('a joint restaurant opens only the business registration at acceptance', async (t) => {
  const { env } = t.context;
  await withAcceptedCase(t, RESTAURANT, async ({ hall, caseNumber, accepted }) => {
    await hall.waitForEvent(isOpened(caseNumber, REGISTRATION));

    t.deepEqual(statusesOf(accepted), {
      [REGISTRATION]: 'open',
      'market-food-business-licence': 'waiting',
      'fire-public-assembly-check-commitment': 'waiting',
      'water-drainage-permit': 'waiting',
      'urban-shop-sign-filing': 'waiting',
    });
    for (const code of Object.keys(RESTAURANT_DEPENDANTS)) {
      t.false(await workflowExists(env, `${caseNumber}/${code}`), code);
    }
    const planned = hall.eventsOf(caseNumber).find((e) => e.action === 'tasksPlanned')!;
    t.deepEqual(
      planned.tasks!.map((task) => [task.taskCode, task.status]),
      [REGISTRATION, ...Object.keys(RESTAURANT_DEPENDANTS)].map((code) => [code, 'waiting']),
    );
  });
});

test.serial('the business registration approved, its four dependants open at once', async (t) => {
  const { env } = t.context;
  await withAcceptedCase(t, RESTAURANT, async ({ hall, caseNumber, conclude, caseWhen }) => {
    const registration = await conclude(REGISTRATION, 'market');
    const view = await caseWhen(
      (v) => v.tasks.filter((task) => task.status === 'open').length === 4,
    );

    t.deepEqual(statusesOf(view), {
      [REGISTRATION]: 'concluded',
      'market-food-business-licence': 'open',
      'fire-public-assembly-check-commitment': 'open',
      'water-drainage-permit': 'open',
      'urban-shop-sign-filing': 'open',
    });
    for (const code of Object.keys(RESTAURANT_DEPENDANTS)) {
      const opened = await taskInputOf(taskHandle(env, caseNumber, code));
      t.true(opened.openedAt >= registration.at, `${code} opened after the registration`);
      await hall.waitForEvent(isOpened(caseNumber, code));
    }
    // No other step of the case was needed in between.
    t.deepEqual(lifecycleOf(hall, caseNumber), ['submitted', 'accepted', 'tasksPlanned']);
  });
});

test.serial('a joint restaurant is concluded approved when every task is approved', async (t) => {
  await withAcceptedCase(t, RESTAURANT, async ({ hall, caseNumber, conclude, caseWhen }) => {
    await conclude(REGISTRATION, 'market');
    await caseWhen((v) => v.tasks.every((task) => task.status !== 'waiting'));
    await Promise.all(
      Object.entries(RESTAURANT_DEPENDANTS).map(([code, department]) => conclude(code, department)),
    );
    const concluded = await hall.waitForEvent(
      (e) => e.stream === caseNumber && e.action === 'concluded',
    );
    const view = await caseWhen((v) => v.status === 'concluded');
    await eventually(
      async () => hall.documents.length,
      (issued) => issued === 2,
    );

    t.like(concluded.caseChanges, { status: 'concluded', outcome: 'approved' });
    t.like(view, { status: 'concluded', outcome: 'approved' });
    t.deepEqual(
      view.tasks.map((task) => [task.code, task.status, task.result?.outcome]),
      [REGISTRATION, ...Object.keys(RESTAURANT_DEPENDANTS)].map((code) => [
        code,
        'concluded',
        'approved',
      ]),
    );
    t.deepEqual(
      hall.documents.map((d) => [d.kind, d.eventKey]),
      [
        ['receipt', `${caseNumber}#2`],
        ['approvalNotice', `${caseNumber}#${concluded.seq}`],
      ],
    );
  });
});

test.serial(
  'a related department that denies denies the joint case with its reasons',
  async (t) => {
    await withAcceptedCase(t, CONSTRUCTION, async ({ hall, handle, caseNumber, conclude }) => {
      await conclude(ECOLOGY, 'ecology', { decision: 'deny', reasons: ECOLOGY_REASONS });
      const closed = await handle.result();

      t.like(closed, { status: 'concluded', outcome: 'denied' });
      const concluded = hall.eventsOf(caseNumber).find((e) => e.action === 'concluded')!;
      t.like(concluded.caseChanges, {
        status: 'concluded',
        outcome: 'denied',
        reasons: `ecology: ${ECOLOGY_REASONS}`,
      });
      t.deepEqual(
        hall.documents.map((d) => [d.kind, d.eventKey]),
        [
          ['receipt', `${caseNumber}#2`],
          ['denialDecision', `${caseNumber}#${concluded.seq}`],
        ],
      );
      await saveHistory(handle, 'case-joint-deny');
    });
  },
);

test.serial('a denial cancels every task not concluded, each exactly once', async (t) => {
  const { env } = t.context;
  await withAcceptedCase(t, CONSTRUCTION, async ({ hall, handle, caseNumber, conclude }) => {
    await conclude(ECOLOGY, 'ecology', { decision: 'deny', reasons: ECOLOGY_REASONS });
    const closed = await handle.result();

    t.deepEqual(cancellationsOf(hall), {
      [PLANNING]: 1,
      [FIRE_DESIGN]: 1,
      [AIR_DEFENCE]: 1,
      [DRAINAGE]: 1,
    });
    // The fire design review never opened: the case records its cancellation itself.
    const fireDesign = hall.events.find((e) => e.taskCode === FIRE_DESIGN)!;
    t.is(fireDesign.stream, caseNumber);
    t.false(await workflowExists(env, `${caseNumber}/${FIRE_DESIGN}`));
    for (const code of [PLANNING, AIR_DEFENCE, DRAINAGE]) {
      const result = await taskHandle(env, caseNumber, code).result();
      t.like(result, { outcome: 'cancelled', reasons: 'ecology denied its task' }, code);
    }
    t.deepEqual(statusesOf(closed), {
      [PLANNING]: 'cancelled',
      [ECOLOGY]: 'concluded',
      [FIRE_DESIGN]: 'cancelled',
      [AIR_DEFENCE]: 'cancelled',
      [DRAINAGE]: 'cancelled',
    });
  });
});

/** The hospital case after market and urban approved and the applicant then withdrew. */
async function withdrawHospitalAfterTwoApprovals(
  t: ExecutionContext<TimeSkippingContext>,
  check: (run: JointRun, closed: CaseView) => Promise<void>,
): Promise<void> {
  await withAcceptedCase(t, HOSPITAL, async (run) => {
    await run.conclude(REGISTRATION, 'market');
    await run.conclude(SHOP_SIGN, 'urban');
    // The case has taken in both conclusions before the applicant withdraws.
    await run.caseWhen(
      (v) =>
        statusesOf(v)[REGISTRATION] === 'concluded' && statusesOf(v)[SHOP_SIGN] === 'concluded',
    );
    await run.handle.executeUpdate(withdrawUpdate, {
      args: [{ actor: buildClerk(), reasons: 'the investors chose another site' }],
    });
    await check(run, await run.handle.result());
  });
}

test.serial('a withdrawal cancels each task still open once, and only those', async (t) => {
  await withdrawHospitalAfterTwoApprovals(t, async ({ hall, caseNumber }, closed) => {
    t.like(closed, { status: 'withdrawn', outcome: 'withdrawn' });
    t.deepEqual(cancellationsOf(hall), {
      [ESTABLISHMENT]: 1,
      [PRACTICE]: 1,
      [ECOLOGY]: 1,
      [DRAINAGE]: 1,
    });
    // The practice registration waited for the establishment: the case cancels it itself.
    t.is(hall.events.find((e) => e.taskCode === PRACTICE)!.stream, caseNumber);
  });
});

test.serial('a withdrawal leaves the tasks already concluded as they were', async (t) => {
  await withdrawHospitalAfterTwoApprovals(t, async ({ hall, caseNumber }, closed) => {
    for (const code of [REGISTRATION, SHOP_SIGN]) {
      const last = hall
        .eventsOf(`${caseNumber}/${code}`)
        .filter((e) => LIFECYCLE_ACTIONS.has(e.action))
        .at(-1);
      t.like(last, { action: 'taskConcluded', task: { status: 'concluded', decision: 'approve' } });
      const task = closed.tasks.find((task) => task.code === code)!;
      t.like(task, { status: 'concluded', result: { outcome: 'approved' } }, code);
    }
    t.deepEqual(lifecycleOf(hall, caseNumber), [
      'submitted',
      'accepted',
      'tasksPlanned',
      'withdrawn',
      'taskCancelled',
    ]);
    t.deepEqual(
      hall.documents.map((d) => d.kind),
      ['receipt'],
    );
  });
});

test.serial(
  'a dependent task opens, and its clock starts, only when its prerequisite is approved',
  async (t) => {
    const { env } = t.context;
    await withAcceptedCase(
      t,
      CONSTRUCTION,
      async ({ hall, caseNumber, accepted, conclude, caseWhen }) => {
        await hall.waitForEvent(isOpened(caseNumber, PLANNING));
        const acceptedAt = Date.parse(accepted.acceptedAt!);
        const planningOpened = await taskInputOf(taskHandle(env, caseNumber, PLANNING));
        t.true(
          Date.parse(planningOpened.openedAt) - acceptedAt < DAY_MS,
          'planning counts from acceptance',
        );

        await env.sleep('3 days');
        // Three days on, planning has not decided: the fire design review has no task and no clock.
        t.true((await env.currentTimeMs()) >= acceptedAt + 3 * DAY_MS);
        t.false(await workflowExists(env, `${caseNumber}/${FIRE_DESIGN}`));
        t.is(statusesOf(await caseWhen(() => true))[FIRE_DESIGN], 'waiting');
        t.false(hall.events.some(isOpened(caseNumber, FIRE_DESIGN)));

        const planning = await conclude(PLANNING, 'planning');
        const opened = await hall.waitForEvent(isOpened(caseNumber, FIRE_DESIGN));
        const input = await taskInputOf(taskHandle(env, caseNumber, FIRE_DESIGN));

        t.true(Date.parse(input.openedAt) >= acceptedAt + 3 * DAY_MS);
        t.true(input.openedAt >= planning.at);
        t.like(hall.clocks.at(-1)!.request, {
          start: input.openedAt,
          statutoryLimit: { days: 15, unit: 'workingDays' },
          promisedLimit: { days: 8, unit: 'workingDays' },
        });
        t.like(opened.task, {
          openedAt: input.openedAt,
          statutoryDueAt: dueOn(input.openedAt, { days: 15, unit: 'workingDays' }).dueAt,
          promisedDueAt: dueOn(input.openedAt, { days: 8, unit: 'workingDays' }).dueAt,
        });
      },
    );
  },
);

test.serial('a conclusion for a cancelled task is refused and changes nothing', async (t) => {
  const { env } = t.context;
  const gate = buildGate();
  let reachCancellation!: () => void;
  const cancelling = new Promise<void>((resolve) => (reachCancellation = resolve));
  // Planning's cancellation is held at the register, so its task is cancelled but still running.
  const hall = buildFakeHall({
    beforeRecord: async (event) => {
      if (event.action !== 'taskCancelled' || !event.stream.endsWith(`/${PLANNING}`)) return;
      reachCancellation();
      await gate.wait();
    },
  });

  await withAcceptedCase(
    t,
    CONSTRUCTION,
    async ({ hall, handle, caseNumber, conclude }) => {
      const planning = taskHandle(env, caseNumber, PLANNING);
      await taskSettled(env, hall, caseNumber, PLANNING);
      try {
        await conclude(ECOLOGY, 'ecology', { decision: 'deny', reasons: ECOLOGY_REASONS });
        await cancelling;

        // Sent at once: the cancellation held at the register is the activity pending.
        const refusal = await refusalOf(
          planning.executeUpdate(concludeUpdate, { args: [buildConclusion('planning')] }),
        );

        t.is(refusal.type, 'task_cancelled');
        t.is(refusal.message, `task ${PLANNING} was cancelled`);
      } finally {
        gate.open();
      }
      const closed = await handle.result();
      t.like(await planning.result(), { outcome: 'cancelled' });
      t.deepEqual(await acceptedUpdates(planning), []);
      t.deepEqual(lifecycleOf(hall, `${caseNumber}/${PLANNING}`), ['taskOpened', 'taskCancelled']);
      t.like(closed, { status: 'concluded', outcome: 'denied' });
    },
    hall,
  );
});

/** The warning levels a stream's register events raised, in order. */
function warningsOf(hall: FakeHall, stream: string): unknown[] {
  return hall
    .eventsOf(stream)
    .filter((e) => e.action === 'warningRaised')
    .map((e) => e.details?.level);
}

/** The warning level the register row of a task (or, for the case's stream, the case) holds. */
function rowLevelOf(hall: FakeHall, stream: string, isCase = false): string {
  const levels = hall
    .eventsOf(stream)
    .map((e) => (isCase ? e.caseChanges?.warningLevel : e.task?.warningLevel))
    .filter((level) => level !== undefined);
  return levels.at(-1) ?? 'none';
}

test.serial(
  'a joint case is late on one related task only, and on its own clock by its own dates',
  async (t) => {
    const { env } = t.context;
    /** The three departments besides water, whose tasks conclude on the day they open. */
    const onTime: Record<string, string> = {
      [REGISTRATION]: 'market',
      'market-food-business-licence': 'market',
      'fire-public-assembly-check-commitment': 'fire',
      [SHOP_SIGN]: 'urban',
    };

    await withAcceptedCase(
      t,
      RESTAURANT,
      async ({ hall, handle, caseNumber, accepted, conclude, caseWhen }) => {
        await conclude(REGISTRATION, 'market');
        await caseWhen((v) => v.tasks.every((task) => task.status !== 'waiting'));
        for (const [code, department] of Object.entries(onTime)) {
          if (code !== REGISTRATION) await conclude(code, department);
        }
        const waterStream = `${caseNumber}/${DRAINAGE}`;
        const water = taskHandle(env, caseNumber, DRAINAGE);
        const waterOpened = (await taskInputOf(water)).openedAt;
        const waterDue = await water.query(taskStatusQuery);
        const caseDue = await handle.query(clockQuery);
        // Water: 8 calendar days promised, 15 statutory, from its opening; the case: 20 working
        // days promised, 45 statutory (LLA art. 42 ¶2), from acceptance.
        t.is(waterDue.promisedDueAt, dueOn(waterOpened, { days: 8, unit: 'calendarDays' }).dueAt);
        t.is(waterDue.statutoryDueAt, dueOn(waterOpened, { days: 15, unit: 'calendarDays' }).dueAt);
        const acceptedAt = accepted.acceptedAt!;
        t.is(caseDue.promisedDueAt, dueOn(acceptedAt, { days: 20, unit: 'workingDays' }).dueAt);
        t.is(caseDue.statutoryDueAt, dueOn(acceptedAt, { days: 45, unit: 'workingDays' }).dueAt);

        // The other tasks end as they were on the day they concluded. (The fire check is decided
        // on the spot: its reminder, a working day before a same-day limit, was past at opening.)
        const othersAtConclusion = Object.fromEntries(
          Object.keys(onTime).map((code) => [code, warningsOf(hall, `${caseNumber}/${code}`)]),
        );
        t.deepEqual(othersAtConclusion, {
          [REGISTRATION]: [],
          'market-food-business-licence': [],
          'fire-public-assembly-check-commitment': ['reminder'],
          [SHOP_SIGN]: [],
        });
        const othersUnaffected = async (when: string) => {
          for (const code of Object.keys(onTime)) {
            const state = await taskHandle(env, caseNumber, code).query(taskStatusQuery);
            t.deepEqual(state.warnings, othersAtConclusion[code], `${code} ${when}`);
            t.deepEqual(warningsOf(hall, `${caseNumber}/${code}`), othersAtConclusion[code]);
          }
        };
        const raised = (stream: string, level: string) =>
          hall.waitForEvent(
            (e) =>
              e.stream === stream && e.action === 'warningRaised' && e.details?.level === level,
          );
        const past = (instant: string | undefined) =>
          skipTo(env, new Date(Date.parse(instant!) + 60_000).toISOString());

        // 1. A minute past water's promised date: water is yellow; the case has no warning.
        await past(waterDue.promisedDueAt);
        await raised(waterStream, 'yellow');
        t.deepEqual((await water.query(taskStatusQuery)).warnings, ['reminder', 'yellow']);
        t.deepEqual(warningsOf(hall, waterStream), ['reminder', 'yellow']);
        t.is(rowLevelOf(hall, waterStream), 'yellow');
        t.deepEqual((await handle.query(clockQuery)).warnings, []);
        t.is(rowLevelOf(hall, caseNumber, true), 'none');
        await othersUnaffected('after water’s promised date');

        // 2. A minute past water's statutory date: water is red; still nothing on the case.
        await past(waterDue.statutoryDueAt);
        await raised(waterStream, 'red');
        t.deepEqual((await water.query(taskStatusQuery)).warnings, ['reminder', 'yellow', 'red']);
        t.is(rowLevelOf(hall, waterStream), 'red');
        t.deepEqual((await handle.query(clockQuery)).warnings, []);
        t.deepEqual(warningsOf(hall, caseNumber), []);
        await othersUnaffected('after water’s statutory date');

        // 3. A minute past the case's promised date: the case is yellow by its own clock.
        await past(caseDue.promisedDueAt);
        await raised(caseNumber, 'yellow');
        t.deepEqual((await handle.query(clockQuery)).warnings, ['reminder', 'yellow']);
        t.deepEqual(warningsOf(hall, caseNumber), ['reminder', 'yellow']);
        t.is(rowLevelOf(hall, caseNumber, true), 'yellow');
        t.deepEqual(warningsOf(hall, waterStream), ['reminder', 'yellow', 'red']);
        await othersUnaffected('after the case’s promised date');

        // 4. A minute past the case's statutory date: the case is red; water stays red.
        await past(caseDue.statutoryDueAt);
        await raised(caseNumber, 'red');
        t.deepEqual((await handle.query(clockQuery)).warnings, ['reminder', 'yellow', 'red']);
        t.is(rowLevelOf(hall, caseNumber, true), 'red');
        t.is(rowLevelOf(hall, waterStream), 'red');
        await othersUnaffected('after the case’s statutory date');

        // 5. Water decides at last: the case is approved, late, with every warning kept.
        await conclude(DRAINAGE, 'water');
        const done = await caseWhen((v) => v.status === 'concluded');
        t.is(done.outcome, 'approved');
        t.deepEqual(warningsOf(hall, caseNumber), ['reminder', 'yellow', 'red']);
        await othersUnaffected('after the case concluded');
      },
    );
  },
);

test.serial(
  'every joint case history of this file replays with the current workflow code',
  async (t) => {
    const replayed = await replayAll(t.context.env, started);

    t.true(replayed.length > started.length, 'the cases and their tasks are replayed');
    t.deepEqual(
      replayed.filter((r) => r.error),
      [],
    );
  },
);
