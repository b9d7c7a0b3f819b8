/**
 * Supervision bench (电子监察), in two parts, on a Temporal dev server of its own (127.0.0.1:7310,
 * UI 8310, .data/temporal/benchsup.db, stopped and deleted at the end) and fresh databases
 * (onedoor_bench_sup_<random>, dropped at the end):
 *
 *  1. Overdue views over a register of 1,000,000 cases (one department task each), seeded by SQL
 *     (INSERT ... SELECT over generate_series) and vacuumed: GET /supervision/cases?level=red,
 *     ?level=yellow&department=market and GET /supervision/summary through the real Koa app over
 *     HTTP, sequentially, R requests each after a warm-up; p50/p99 per query (and two more list
 *     shapes, marked extra). Measured first on the schema without
 *     migrations/20261203000050_supervision_counts.ts (every other migration applied; the
 *     summary then as the GROUP BYs it replaced, run through knex: the router now reads the
 *     counts table), then with it, with the plan of each query's SQL (EXPLAIN ANALYZE of a
 *     replica).
 *  2. Re-arming open cases after a calendar change: a real hall (worker + API in this process,
 *     DOCUMENTS_PDF=off) on a fresh register; N food business licence cases started through the
 *     Temporal client as api/cases/submit.ts does and accepted through the accept update, C at a
 *     time; then POST /calendar/overrides (a working day inside every limit closed) as dev-admin,
 *     timed, and the register polled until every open task's statutory_due_at has moved. If the
 *     setup would take longer than the budget (a 2-core machine), it stops at 2,000 cases (fewer
 *     if even those would not fit) and the figures are extrapolated to N, and the output says so.
 *     The CPU spent (this process, the dev server, the database's backends) is printed per case
 *     and per clock, with the rate it would allow on the same cores were nothing else running.
 *
 * Part 1 is in bench/supervision/views.ts (its register: seed.ts), part 2 in rearm.ts (its CPU
 * accounting: cpu.ts).
 *
 * Usage: npx tsx bench/supervision.ts [options]   (or npm run bench -- --only supervision ...)
 *   --sup-register N    cases in the register of part 1 (default 1000000)
 *   --sup-requests R    measured requests per query (default 200; warm-up: R/10, at least 20)
 *   --sup-rearm N       open cases of part 2 (default 10000)
 *   --sup-fallback N    cases of part 2 when N would not fit the budget (default 2000)
 *   --sup-budget S      setup budget of part 2 in seconds (default 600)
 *   --sup-concurrency C clients opening cases in part 2 (default 16)
 *   --sup-part P        list | rearm | all (default all)
 */
import {
  type BenchSummary,
  integerFlags,
  loadAverage,
  machine,
  readFlags,
  runIfMain,
  withCleanup,
} from './harness';
import { startDevServer } from './servers';
import { type Options, say, TEMPORAL_NAME } from './supervision/common';
import { benchRearm } from './supervision/rearm';
import { benchLists } from './supervision/views';

function parseOptions(argv: string[]): Options {
  const { part = 'all' } = readFlags(argv, { '--sup-part': 'part' }, (value, flag) => {
    if (value !== 'list' && value !== 'rearm' && value !== 'all') {
      throw new Error(`${flag} is list, rearm or all`);
    }
    return value;
  });
  return {
    register: 1_000_000,
    requests: 200,
    rearm: 10_000,
    fallback: 2_000,
    budgetS: 600,
    concurrency: 16,
    temporalPort: 7310,
    uiPort: 8310,
    ...integerFlags(argv, {
      '--sup-register': 'register',
      '--sup-requests': 'requests',
      '--sup-rearm': 'rearm',
      '--sup-fallback': 'fallback',
      '--sup-budget': 'budgetS',
      '--sup-concurrency': 'concurrency',
      '--sup-temporal-port': 'temporalPort',
      '--sup-ui-port': 'uiPort',
    }),
    part,
  };
}

/** Runs the supervision bench (bench/run.ts calls it with the command line's arguments). */
export async function run(argv: string[] = process.argv.slice(2)): Promise<BenchSummary> {
  const options = parseOptions(argv);
  const loadBefore = loadAverage();
  let ok = true;
  const summary: Required<BenchSummary> = { figures: [], goals: [] };
  await withCleanup('supervision bench', async (cleanup) => {
    say(`starting a dev server '${TEMPORAL_NAME}' on ${options.temporalPort}`);
    // A fixed file: a run that was killed may have left its server and file, both its own.
    const server = await startDevServer(cleanup, {
      name: TEMPORAL_NAME,
      port: options.temporalPort,
      uiPort: options.uiPort,
      db: `${TEMPORAL_NAME}.db`,
      replaceLeftover: true,
    });
    if (options.part !== 'rearm') {
      const lists = await benchLists(options, server.address, cleanup);
      summary.figures.push(...lists.figures);
      summary.goals.push(...(lists.goals ?? []));
    }
    if (options.part !== 'list') {
      const rearm = await benchRearm(options, server, cleanup);
      summary.figures.push(...rearm.figures);
      ok = rearm.ok;
    }
    console.log(
      `machine: ${machine()}; PostgreSQL, the ` +
        `dev server and this process share them; load average ${loadBefore} at the ` +
        `start, ${loadAverage()} at the end (other work on the machine counts against ` +
        `these figures).`,
    );
  });
  if (!ok) process.exitCode = 1;
  return summary;
}

runIfMain(module, run);
