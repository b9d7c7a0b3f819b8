/**
 * Part 2 of the supervision bench (bench/supervision.ts): re-arming every open case's clocks
 * after a calendar change, on a real hall.
 */
import { type Client, WorkflowIdReusePolicy } from '@temporalio/client';
import os from 'node:os';
import { actorOf, devTokenAuthenticator } from '../../api/auth';
import { hallDay, snapshotItem } from '../../api/cases/submit';
import {
  addWorkingDays,
  buildSnapshotFromChineseDays,
  computeDue,
  dateInZone,
} from '../../lib/calendar';
import { type CaseInput, taskWorkflowId } from '../../lib/case/model';
import type { Config } from '../../lib/config';
import type { Runtime } from '../../lib/runtime';
import { buildApplication } from '../../test/support/builders';
import { acceptUpdate, registeredUpdate, taskStatusQuery } from '../../workflows/messages';
import { type BenchSummary, type Cleanup, figureTable, sleep } from '../harness';
import { type DevServer, startHall } from '../servers';
import {
  call,
  fmt,
  hallConfig,
  ITEM,
  type Options,
  partDatabase,
  say,
  secs,
  STALL_MS,
  TEMPORAL_NAME,
} from './common';
import { ceiling, CpuMeter, describeCpu } from './cpu';

interface SetupResult {
  opened: number;
  target: number;
  scaledDown: boolean;
  acceptMs: number;
  setupMs: number;
  failures: string[];
}

/** Opens cases as api/cases/submit.ts starts them, and accepts them by the accept update. */
async function openCases(
  options: Options,
  config: Config,
  runtime: Runtime,
  client: Client,
): Promise<SetupResult> {
  const item = runtime.catalog.items.get(ITEM);
  if (!item) throw new Error(`no ${ITEM} in the catalog`);
  const clerk = devTokenAuthenticator(runtime.catalog)('dev-clerk-market');
  if (!clerk) throw new Error('no dev-clerk-market token');
  const actor = actorOf(clerk);
  const application = buildApplication({ item: ITEM });
  const prefix = config.CASE_NUMBER_PREFIX!;
  const day = hallDay(new Date(), config.HALL_TIME_ZONE);

  let target = options.rearm;
  let scaledDown = false;
  let decided = target <= options.fallback;
  let next = 0;
  let accepted = 0;
  const failures: string[] = [];
  const started = performance.now();
  let lastReport = started;
  let lastProgress = started;

  const openOne = async (i: number): Promise<void> => {
    const caseNumber = `${prefix}-${day}-${String(i + 1).padStart(6, '0')}`;
    const input: CaseInput = {
      caseNumber,
      item: snapshotItem(item),
      applicant: application.applicant,
      channels: application.channels,
      materials: application.materials,
      receivedAt: new Date().toISOString(),
      source: 'counter',
      submittedBy: actor,
      reminderDays: config.REMINDER_WORKING_DAYS,
    };
    const handle = await client.workflow.start('caseWorkflow', {
      workflowId: caseNumber,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      searchAttributes: {
        CaseNumber: [caseNumber],
        ItemCode: [item.code],
        Department: [item.department],
        CaseStatus: ['submitted'],
      },
    });
    await handle.executeUpdate(registeredUpdate);
    const view = await handle.executeUpdate(acceptUpdate, { args: [{ actor }] });
    if (view.status !== 'accepted') throw new Error(`${caseNumber} is ${view.status}`);
  };

  const lane = async (): Promise<void> => {
    while (next < target) {
      const i = next++;
      try {
        await openOne(i);
        accepted++;
        lastProgress = performance.now();
      } catch (err) {
        failures.push(`case ${i}: ${(err as Error).message}`);
      }
      const now = performance.now();
      const elapsed = now - started;
      if (!decided && (accepted >= 500 || elapsed > 60_000)) {
        decided = true;
        const rate = accepted / elapsed; // cases per ms
        const budget = options.budgetS * 1000;
        if (target / rate > budget) {
          scaledDown = true;
          // The fallback, or what the budget allows if even that would not fit (at least 200).
          const fits = Math.max(200, Math.floor((rate * budget) / 100) * 100);
          target = Math.max(Math.min(options.fallback, fits), next);
          say(
            `setup rate ${(rate * 1000).toFixed(1)} cases/s: ${fmt(options.rearm)} would take ` +
              `~${secs(options.rearm / rate)} (budget ${options.budgetS} s); opening ` +
              `${fmt(target)} and extrapolating`,
          );
        }
      }
      if (now - lastReport > 30_000) {
        lastReport = now;
        say(`  ${fmt(accepted)} of ${fmt(target)} accepted after ${secs(elapsed)}`);
      }
    }
  };
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    watchdog = setInterval(() => {
      if (performance.now() - lastProgress < STALL_MS) return;
      const stuckAt = accepted;
      target = next; // no lane takes another case
      reject(
        new Error(
          `no case accepted for ${STALL_MS / 1000} s (${stuckAt} accepted): the dev server ` +
            `is stalled, see .data/temporal-${TEMPORAL_NAME}.log`,
        ),
      );
    }, 5_000);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: options.concurrency }, lane)), stalled]);
  } finally {
    clearInterval(watchdog);
  }
  const acceptMs = performance.now() - started;

  // The task rows are written by the child workflows after the accept update returns.
  const db = runtime.db;
  const deadline = Date.now() + 300_000;
  let lastAudit = -1;
  let stableSince = Date.now();
  for (;;) {
    const [{ open }] = (await db('department_tasks')
      .where('status', 'open')
      .whereNotNull('statutory_due_at')
      .count({ open: '*' })) as { open: string }[];
    const [{ n }] = (await db('audit_trail').count({ n: '*' })) as { n: string }[];
    if (Number(n) !== lastAudit) {
      lastAudit = Number(n);
      stableSince = Date.now();
    }
    // Every task open and the register quiet (deliveries, receipts done) for a second.
    if (Number(open) >= accepted && Date.now() - stableSince >= 1000) break;
    if (Date.now() > deadline) {
      throw new Error(`only ${open} of ${accepted} tasks open in the register after 5 min`);
    }
    await sleep(200);
  }
  // The quiet second is not setup work.
  const setupMs = performance.now() - started - 1000;
  return { opened: accepted, target, scaledDown, acceptMs, setupMs, failures };
}

export async function benchRearm(
  options: Options,
  server: DevServer,
  parent: Cleanup,
): Promise<BenchSummary & { ok: boolean }> {
  // Undone at the end of the part; on an interruption, by the parent's cleanup.
  const cleanup = parent.nested('the re-arm part');
  try {
    const databaseUrl = await partDatabase(cleanup, 'rearm');
    const config = hallConfig(databaseUrl, server.address);
    const { runtime, temporal: client, apiUrl: base } = await startHall(cleanup, config);
    const db = runtime.db;

    say(
      `opening ${fmt(options.rearm)} cases of ${ITEM} (start + registered + accept update, ` +
        `${options.concurrency} at a time)`,
    );
    const database = new URL(databaseUrl).pathname.slice(1);
    const setupCpu = new CpuMeter(server.pid(), database);
    const setup = await openCases(options, config, runtime, client);
    const setupSpent = setupCpu.read();
    if (setup.failures.length > 0) {
      say(`${setup.failures.length} cases failed to open; first: ${setup.failures[0]}`);
    }
    say(
      `${fmt(setup.opened)} cases open in ${secs(setup.setupMs)} ` +
        `(${((setup.opened / setup.setupMs) * 1000).toFixed(1)} cases/s)`,
    );

    // A working day after every clock's start and before every statutory due date.
    const span = (await db('department_tasks')
      .where('status', 'open')
      .min({ first: 'opened_at' })
      .max({ last: 'opened_at' })
      .min({ due: 'statutory_due_at' })) as { first: Date; last: Date; due: Date }[];
    const overrides = await runtime.store.listCalendarOverrides();
    const calendar = buildSnapshotFromChineseDays(overrides);
    const tz = config.HALL_TIME_ZONE;
    const closed = addWorkingDays(calendar, dateInZone(span[0].last, tz), 2);
    const reason = 'supervision bench: the hall closes for a typhoon';
    const withClosure = buildSnapshotFromChineseDays([
      ...overrides,
      { date: closed, kind: 'closed', reason, author: 'bench' },
    ]);
    const item = runtime.catalog.items.get(ITEM)!;
    for (const start of [span[0].first, span[0].last]) {
      const input = {
        start,
        days: item.statutoryLimit.days,
        unit: item.statutoryLimit.unit,
      };
      const was = computeDue(calendar, input, tz);
      const now = computeDue(withClosure, input, tz);
      if (was.dueAt?.getTime() === now.dueAt?.getTime()) {
        throw new Error(
          `closing ${closed} does not move a limit counted from ${start.toISOString()}`,
        );
      }
    }

    await db.raw('DROP TABLE IF EXISTS bench_sup_due_before');
    await db.raw(`
      CREATE TABLE bench_sup_due_before AS
      SELECT case_number, task_code, statutory_due_at FROM department_tasks WHERE status = 'open'`);
    const [{ n: openTasks }] = (await db.raw('SELECT count(*)::int AS n FROM bench_sup_due_before'))
      .rows as { n: number }[];
    const moved = async (): Promise<number> =>
      (
        await db.raw(`
          SELECT count(*)::int AS n FROM department_tasks t
          JOIN bench_sup_due_before b USING (case_number, task_code)
          WHERE t.statutory_due_at IS DISTINCT FROM b.statutory_due_at`)
      ).rows[0].n as number;

    say(`POST /calendar/overrides {date: ${closed}, kind: closed} as dev-admin`);
    const rearmCpu = new CpuMeter(server.pid(), database);
    const t0 = performance.now();
    // Set when the part fails before the poll is done: the pool goes at cleanup.
    let abandoned = false;
    const polling = (async () => {
      const marks: { at: number; n: number }[] = [];
      const deadline = t0 + Math.max(1_200_000, openTasks * 200);
      let lastLog = t0;
      let lastChange = { at: 0, n: -1 };
      while (!abandoned) {
        const n = await moved();
        const at = performance.now() - t0;
        marks.push({ at, n });
        if (n >= openTasks) return { marks, done: true };
        if (n !== lastChange.n) lastChange = { at, n };
        if (performance.now() > deadline || at - lastChange.at > STALL_MS) {
          return { marks, done: false };
        }
        if (performance.now() - lastLog > 15_000) {
          lastLog = performance.now();
          say(`  ${fmt(n)} of ${fmt(openTasks)} re-armed after ${secs(at)}`);
        }
        await sleep(100);
      }
      return { marks, done: false };
    })();
    cleanup.add('stopping the register poll', async () => {
      abandoned = true;
      await polling.catch(() => undefined);
    });
    const res = await call(base, 'POST', '/calendar/overrides', 'dev-admin', {
      date: closed,
      kind: 'closed',
      reason,
    });
    const postMs = performance.now() - t0;
    if (res.status !== 202) {
      throw new Error(`POST /calendar/overrides: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    // The re-arm workflow signals the clocks; followed through the API until it completes.
    const rearmId: string = res.body.rearm.id;
    let signalledMs = NaN;
    let rearmProgress: Record<string, unknown> = {};
    let fanOutCpu = rearmCpu.read();
    for (;;) {
      const status = await call(base, 'GET', `/calendar/rearms/${rearmId}`, 'dev-admin');
      if (status.status !== 200) {
        throw new Error(`GET /calendar/rearms/${rearmId}: HTTP ${status.status}`);
      }
      // Null while the busy worker does not answer the query in time.
      rearmProgress = status.body.progress ?? rearmProgress;
      if (status.body.status === 'completed') {
        signalledMs = performance.now() - t0;
        fanOutCpu = rearmCpu.read();
        break;
      }
      if (status.body.status !== 'running') {
        throw new Error(`re-arm ${rearmId} is ${status.body.status}`);
      }
      if (performance.now() - t0 > STALL_MS * 5) throw new Error(`re-arm ${rearmId} is stuck`);
      await sleep(200);
    }
    const { marks, done } = await polling;
    const rearmSpent = rearmCpu.read();
    const last = marks[marks.length - 1];
    const firstMoved = marks.find((m) => m.n > 0);
    const at = (fraction: number) =>
      marks.find((m) => m.n >= Math.ceil(openTasks * fraction))?.at ?? NaN;

    // The register agrees with the workflows (a sample), and the audit trail with the register.
    const sample = (await db('department_tasks')
      .where('status', 'open')
      .orderByRaw('random()')
      .limit(5)
      .select('case_number', 'task_code', 'statutory_due_at')) as {
      case_number: string;
      task_code: string;
      statutory_due_at: Date;
    }[];
    let disagreeing = 0;
    for (const s of sample) {
      const view = await client.workflow
        .getHandle(taskWorkflowId(s.case_number, s.task_code))
        .query(taskStatusQuery);
      if (view.statutoryDueAt !== s.statutory_due_at.toISOString()) disagreeing++;
    }
    const audit = (
      await db.raw(`
        SELECT count(*)::int AS n, min(at) AS first, max(at) AS last
        FROM audit_trail WHERE action = 'clockRecomputed'`)
    ).rows[0] as { n: number; first: Date | null; last: Date | null };

    const rearmMs = last.at;
    const perSecond = (openTasks / rearmMs) * 1000;
    const scale = options.rearm / openTasks;
    const table = figureTable([
      '',
      `measured (${fmt(openTasks)} clocks)`,
      ...(setup.scaledDown ? [`extrapolated to ${fmt(options.rearm)}`] : []),
    ]);
    const extra = (v: string) => (setup.scaledDown ? [v] : []);
    table.push(
      [
        'setup: cases opened (s)',
        (setup.setupMs / 1000).toFixed(1),
        ...extra(((setup.setupMs * scale) / 1000).toFixed(0)),
      ],
      ['setup rate (cases/s)', ((setup.opened / setup.setupMs) * 1000).toFixed(1), ...extra('')],
      ['the POST answered (s)', (postMs / 1000).toFixed(3), ...extra('')],
      [
        'signal fan-out: re-arm workflow done (s)',
        (signalledMs / 1000).toFixed(2),
        ...extra(((signalledMs * scale) / 1000).toFixed(1)),
      ],
      [
        'first task row moved (s)',
        firstMoved ? (firstMoved.at / 1000).toFixed(2) : '—',
        ...extra(''),
      ],
      ['50% re-armed (s)', (at(0.5) / 1000).toFixed(1), ...extra('')],
      ['90% re-armed (s)', (at(0.9) / 1000).toFixed(1), ...extra('')],
      [
        `all re-armed (s)`,
        done ? (rearmMs / 1000).toFixed(1) : `not all: ${fmt(last.n)}`,
        ...extra(done ? ((rearmMs * scale) / 1000).toFixed(0) : ''),
      ],
      ['re-arm rate (clocks/s)', done ? perSecond.toFixed(1) : '—', ...extra('')],
      ['per clock (ms, wall / count)', done ? (rearmMs / openTasks).toFixed(2) : '—', ...extra('')],
    );
    console.log(
      `\ncalendar change: ${fmt(openTasks)} open department tasks of ${ITEM}, a working day ` +
        `(${closed}) inside every limit closed:`,
    );
    console.log(table.toString());
    console.log(
      [
        `POST answered ${res.status} with re-arm ${rearmId}; the re-arm read ` +
          `${rearmProgress.listed} clocks in ${rearmProgress.pages} pages over ` +
          `${rearmProgress.runs} runs, signalled ${rearmProgress.signalled}, skipped ` +
          `${rearmProgress.skipped}; the clock is measured from the POST's start, ` +
          `polling the register every 100 ms.`,
        `audit trail: ${fmt(audit.n)} clockRecomputed events` +
          (audit.first && audit.last
            ? `, written over ${secs(audit.last.getTime() - audit.first.getTime())}`
            : '') +
          `; sample of ${sample.length} task workflows: ${disagreeing} disagree with the register.`,
        `CPU per case opened: ${describeCpu(setupSpent, setup.opened)}; per clock re-armed ` +
          `(fan-out included): ${describeCpu(rearmSpent, openTasks)}; the fan-out alone: ` +
          `${describeCpu(fanOutCpu, openTasks)} per signal.`,
        `CPU-bound ceiling on ${os.cpus().length} idle cores (if the work spread over all of ` +
          `them): setup ${ceiling(setupSpent, setup.opened)} cases/s, re-arm ` +
          `${ceiling(rearmSpent, openTasks)} clocks/s, i.e. ${fmt(options.rearm)} cases opened ` +
          `in ~${secs((setupSpent.totalMs / setup.opened / os.cpus().length) * options.rearm)} ` +
          `and re-armed in ~` +
          `${secs((rearmSpent.totalMs / openTasks / os.cpus().length) * options.rearm)}.`,
        setup.scaledDown
          ? `NOTE: ${fmt(options.rearm)} cases would not open within the ${options.budgetS} s ` +
            `budget on this machine; ${fmt(openTasks)} were opened and the extrapolated column ` +
            `scales the figures linearly to ${fmt(options.rearm)} (one signal, one computeClock ` +
            `and one register write per clock; a larger set may also replay more workflows ` +
            `evicted from the worker's cache, so read it as a lower bound).`
          : `setup: ${fmt(setup.opened)} accepted in ${secs(setup.acceptMs)} (updates), all ` +
            `task rows open in the register after ${secs(setup.setupMs)}.`,
      ].join('\n'),
    );
    const ok = done && disagreeing === 0 && setup.failures.length === 0;
    if (!done) say(`FAILED: only ${last.n} of ${openTasks} task rows moved before the deadline`);
    const figures = [
      `re-arm ${done ? perSecond.toFixed(1) : '—'} clocks/s over ${fmt(openTasks)} open tasks`,
      `setup ${((setup.opened / setup.setupMs) * 1000).toFixed(1)} cases/s`,
    ];
    return { ok, figures };
  } finally {
    await cleanup.run();
  }
}
