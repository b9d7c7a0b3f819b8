/**
 * The case workflow on its own: a promised item from acceptance to collection, an immediate item
 * decided at the counter, and the update validators that refuse bad decisions before history.
 * Runs on the time-skipping server; the register, calendar and documents are in-memory fakes.
 */
import type { CaseInput } from '../../lib/case/model';
import {
  acceptUpdate,
  caseStatusQuery,
  collectUpdate,
  requestCorrectionUpdate,
  withdrawUpdate,
} from '../../workflows/messages';
import {
  acceptedUpdates,
  buildAccept,
  buildCaseInput,
  buildClerk,
  buildConclusion,
  addDays,
  buildFakeHall,
  concludeTask,
  createHallWorker,
  dueOn,
  endOfHallDay,
  firstPlainMonday,
  hallMoment,
  isPublished,
  refusalOf,
  replayAll,
  saveHistory,
  skipTo,
  taskHandle,
  timeSkippingTest,
  workflowExists,
  lifecycleOf,
} from '../support/timeSkipping';

const test = timeSkippingTest();

/** The food business licence: promised, market, 10 working days by law, 5 promised. */
const PROMISED_ITEM = 'market-food-business-licence';
/** Enterprise registration: an immediate item, registered on the spot at the counter. */
const IMMEDIATE_ITEM = 'market-enterprise-registration';

/** Every case started here, so the last test can replay their histories. */
const started: CaseInput[] = [];

function buildPromisedCase(overrides: Partial<Omit<CaseInput, 'item'>> = {}): CaseInput {
  const input = buildCaseInput(PROMISED_ITEM, overrides);
  started.push(input);
  return input;
}

test.serial('accepting a promised case starts both its clocks at acceptance', async (t) => {
  const { env } = t.context;
  // The clock moves to the first Monday, from today, of three weeks that chinese-days shows
  // plain (Mon–Fri working, Sat–Sun rest, no holiday, no make-up day). Accepted on that Monday
  // (day 0, not counted: Civil Code art. 201), the limits end at 24:00 of their last working day
  // (LLA art. 82): 5 working days are Tue to Fri (1–4) and the next Monday (5), 7 days on; 10
  // are that week too (6–9) and the Monday after (10), 14 days on.
  const monday = await firstPlainMonday(env, 3);
  await skipTo(env, hallMoment(monday, 0, '09:00:00'));
  const promisedDueAt = endOfHallDay(monday, 7);
  const statutoryDueAt = endOfHallDay(monday, 14);
  // Provisional when a counted day lies in a year the State Council has not arranged yet.
  const counted = Array.from({ length: 14 }, (_, i) => addDays(monday, i + 1));
  const dueProvisional = !counted.every(isPublished);
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();

  await run(async () => {
    const handle = await startCase(input);
    const view = await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });

    const acceptedAt = view.acceptedAt!;
    t.is(view.status, 'accepted');
    t.like(hall.clocks[0].request, {
      start: acceptedAt,
      statutoryLimit: { days: 10, unit: 'workingDays' },
      promisedLimit: { days: 5, unit: 'workingDays' },
    });
    t.like(view, { statutoryDueAt, promisedDueAt, dueProvisional });
    t.is(view.statutoryDueAt, dueOn(acceptedAt, { days: 10, unit: 'workingDays' }).dueAt);
    t.is(view.promisedDueAt, dueOn(acceptedAt, { days: 5, unit: 'workingDays' }).dueAt);
    const accepted = hall.eventsOf(input.caseNumber).find((e) => e.action === 'accepted')!;
    t.deepEqual(accepted.caseChanges, {
      status: 'accepted',
      acceptedAt,
      clockStartedAt: acceptedAt,
      statutoryDueAt,
      promisedDueAt,
      dueProvisional,
      counter: 'C01',
      clerk: 'clerk-c01',
    });

    // The department's task is open before the clerk's call returns.
    t.deepEqual(
      view.tasks.map((task) => [task.code, task.status]),
      [[PROMISED_ITEM, 'open']],
    );
    t.true(await workflowExists(env, `${input.caseNumber}/${PROMISED_ITEM}`));
  });
});

test.serial(
  'a promised case approved by its department is concluded and closes at collection',
  async (t) => {
    const { env } = t.context;
    const hall = buildFakeHall();
    const { run, startCase } = await createHallWorker(t, env, hall);
    const input = buildPromisedCase();
    const caseNumber = input.caseNumber;

    await run(async () => {
      const handle = await startCase(input);
      await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });
      const result = await concludeTask(
        env,
        hall,
        caseNumber,
        PROMISED_ITEM,
        buildConclusion('market'),
      );

      t.like(result, { outcome: 'approved', department: 'market', officer: 'officer-market-1' });
      await hall.waitForEvent((e) => e.stream === caseNumber && e.action === 'concluded');
      const concluded = await handle.query(caseStatusQuery);
      t.like(concluded, { status: 'concluded', outcome: 'approved' });
      t.deepEqual(concluded.tasks[0].result, result);

      // An approved case stays open until the licence is collected.
      await handle.executeUpdate(collectUpdate, { args: [{ actor: buildClerk() }] });
      const closed = await handle.result();

      t.like(closed, { status: 'collected', outcome: 'approved' });
      t.deepEqual(lifecycleOf(hall, caseNumber), [
        'submitted',
        'accepted',
        'tasksPlanned',
        'concluded',
        'collected',
      ]);
      t.deepEqual(lifecycleOf(hall, `${caseNumber}/${PROMISED_ITEM}`), [
        'taskOpened',
        'taskConcluded',
      ]);
      t.deepEqual(hall.documents, [
        { caseNumber, kind: 'receipt', eventKey: `${caseNumber}#2`, documentNumber: 'DOC-000001' },
        {
          caseNumber,
          kind: 'approvalNotice',
          eventKey: `${caseNumber}#4`,
          documentNumber: 'DOC-000002',
        },
      ]);
      t.deepEqual(hall.repeatedWrites, []);
      await saveHistory(handle, 'case-promised');
    });
  },
);

test.serial(
  'an immediate item decided at intake is concluded at once, without a task',
  async (t) => {
    const { env } = t.context;
    const hall = buildFakeHall();
    const { run, startCase } = await createHallWorker(t, env, hall);
    const input = buildCaseInput(IMMEDIATE_ITEM);
    started.push(input);
    const caseNumber = input.caseNumber;

    await run(async () => {
      const handle = await startCase(input);
      const view = await handle.executeUpdate(acceptUpdate, {
        args: [buildAccept({ concludeAtIntake: 'approve' })],
      });

      t.like(view, { status: 'concluded', outcome: 'approved' });
      t.deepEqual(lifecycleOf(hall, caseNumber), ['submitted', 'accepted', 'concluded']);
      t.false(await workflowExists(env, `${caseNumber}/${IMMEDIATE_ITEM}`));
      t.deepEqual(
        hall.documents.map((d) => [d.kind, d.eventKey]),
        [
          ['receipt', `${caseNumber}#2`],
          ['approvalNotice', `${caseNumber}#3`],
        ],
      );
    });
  },
);

test.serial('a second intake decision is refused as already decided', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });
    const before = lifecycleOf(hall, input.caseNumber);

    const refusal = await refusalOf(handle.executeUpdate(acceptUpdate, { args: [buildAccept()] }));

    t.is(refusal.type, 'already_decided');
    t.is(refusal.message, 'the case is already accepted');
    t.deepEqual(lifecycleOf(hall, input.caseNumber), before);
    t.deepEqual(await acceptedUpdates(handle), ['registered', 'accept']);
  });
});

test.serial('accepting a case whose materials were requested is refused as invalid', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase({ materials: ['application-form', 'business-licence-copy'] });

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(requestCorrectionUpdate, {
      args: [{ actor: buildClerk(), missing: ['layout-and-process', 'food-safety-rules'] }],
    });
    const before = lifecycleOf(hall, input.caseNumber);

    const refusal = await refusalOf(handle.executeUpdate(acceptUpdate, { args: [buildAccept()] }));

    t.is(refusal.type, 'invalid_state');
    t.deepEqual(lifecycleOf(hall, input.caseNumber), before);
    t.is((await handle.query(caseStatusQuery)).status, 'correctionRequested');
    t.deepEqual(await acceptedUpdates(handle), ['registered', 'requestCorrection']);
  });
});

test.serial('a correction naming a material the item does not have is refused', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();

  await run(async () => {
    const handle = await startCase(input);
    const before = lifecycleOf(hall, input.caseNumber);

    const refusal = await refusalOf(
      handle.executeUpdate(requestCorrectionUpdate, {
        args: [{ actor: buildClerk(), missing: ['food-safety-rules', 'fire-commitment-letter'] }],
      }),
    );

    t.is(refusal.type, 'unknown_material');
    t.is(refusal.message, `not materials of ${PROMISED_ITEM}: fire-commitment-letter`);
    t.deepEqual(lifecycleOf(hall, input.caseNumber), before);
    t.is((await handle.query(caseStatusQuery)).status, 'submitted');
    t.deepEqual(await acceptedUpdates(handle), ['registered']);
  });
});

test.serial('a conclusion sent by another department is refused as wrong department', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();
  const stream = `${input.caseNumber}/${PROMISED_ITEM}`;

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });
    await hall.waitForEvent((e) => e.stream === stream && e.action === 'taskOpened');
    const before = [lifecycleOf(hall, input.caseNumber), lifecycleOf(hall, stream)];
    const task = taskHandle(env, input.caseNumber, PROMISED_ITEM);

    const refusal = await refusalOf(
      concludeTask(env, hall, input.caseNumber, PROMISED_ITEM, buildConclusion('health')),
    );

    t.is(refusal.type, 'wrong_department');
    t.is(refusal.message, `task ${PROMISED_ITEM} belongs to market`);
    t.deepEqual([lifecycleOf(hall, input.caseNumber), lifecycleOf(hall, stream)], before);
    t.deepEqual(await acceptedUpdates(task), []);
  });
});

test.serial('a denial without reasons is refused as invalid', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();
  const stream = `${input.caseNumber}/${PROMISED_ITEM}`;

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });
    await hall.waitForEvent((e) => e.stream === stream && e.action === 'taskOpened');
    const before = [lifecycleOf(hall, input.caseNumber), lifecycleOf(hall, stream)];
    const task = taskHandle(env, input.caseNumber, PROMISED_ITEM);

    const refusal = await refusalOf(
      concludeTask(
        env,
        hall,
        input.caseNumber,
        PROMISED_ITEM,
        buildConclusion('market', { decision: 'deny', reasons: '  ' }),
      ),
    );

    t.is(refusal.type, 'validation_failed');
    t.is(refusal.message, 'a denial needs its reasons');
    t.deepEqual([lifecycleOf(hall, input.caseNumber), lifecycleOf(hall, stream)], before);
    t.deepEqual(await acceptedUpdates(task), []);
    t.is((await handle.query(caseStatusQuery)).tasks[0].status, 'open');
  });
});

test.serial('a register write whose answer was lost is retried and kept once', async (t) => {
  const { env } = t.context;
  let lost = false;
  const hall = buildFakeHall({
    afterRecord: (event) => {
      if (event.action !== 'accepted' || lost) return;
      lost = true;
      throw new Error('connection reset after commit');
    },
  });
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();
  const caseNumber = input.caseNumber;

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(acceptUpdate, { args: [buildAccept()] });

    t.true(lost);
    t.deepEqual(lifecycleOf(hall, caseNumber), ['submitted', 'accepted', 'tasksPlanned']);
    t.deepEqual(
      hall.repeatedWrites.map((e) => [e.stream, e.seq, e.action]),
      [[caseNumber, 2, 'accepted']],
    );
    t.deepEqual(
      hall.documents.map((d) => d.eventKey),
      [`${caseNumber}#2`],
    );
  });
});

// Tasks enter the register only at acceptance (tasksPlanned). A taskCancelled for a task never
// planned makes the real register insert a task row without department, item, role or title,
// which PostgreSQL refuses: the write would be retried for ever and the case never close.
test.serial('withdrawing a case before acceptance cancels no department task', async (t) => {
  const { env } = t.context;
  const hall = buildFakeHall();
  const { run, startCase } = await createHallWorker(t, env, hall);
  const input = buildPromisedCase();

  await run(async () => {
    const handle = await startCase(input);
    await handle.executeUpdate(withdrawUpdate, {
      args: [{ actor: buildClerk(), reasons: 'the applicant will apply next year' }],
    });
    const closed = await handle.result();

    t.like(closed, { status: 'withdrawn', outcome: 'withdrawn' });
    t.deepEqual(lifecycleOf(hall, input.caseNumber), ['submitted', 'withdrawn']);
  });
});

test.serial('every case history of this file replays with the current workflow code', async (t) => {
  const replayed = await replayAll(t.context.env, started);

  t.true(replayed.length >= started.length, 'each case has its history replayed');
  t.deepEqual(
    replayed.filter((r) => r.error),
    [],
  );
});
