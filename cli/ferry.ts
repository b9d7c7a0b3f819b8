// `onedoor ferry`: carries bundle files between the spools of the isolated networks.
import { parseArgs } from 'node:util';
import {
  checkCrossing,
  ferryOnce,
  runFerry,
  type FerryCrossing,
  type FerryReport,
} from '../lib/exchange/ferry';

const USAGE = `usage: onedoor ferry --from <spool dir> --to <spool dir> [--both] [--once]
                    [--interval <ms>]

  --from      the spool whose outbound/ files are carried
  --to        the spool whose inbound/ receives them
  --both      carry the other way too (--to's outbound/ to --from's inbound/)
  --once      one pass, then exit (default: a pass every --interval until SIGINT/SIGTERM)
  --interval  ms between passes (default 1000)
`;

/** Where the command writes. */
export interface TextSink {
  write(text: string): unknown;
}

function printReport(report: FerryReport, out: TextSink, err: TextSink): void {
  for (const name of report.moved) out.write(`moved ${name}\n`);
  for (const name of report.cleaned) out.write(`removed stale ${name}\n`);
  for (const f of report.failed) err.write(`kept ${f.name}: ${f.error}\n`);
}

/** Runs the command; answers its exit code (1 when a file could not be moved in --once). */
export async function runFerryCommand(
  argv: string[],
  out: TextSink = process.stdout,
  err: TextSink = process.stderr,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        both: { type: 'boolean', default: false },
        once: { type: 'boolean', default: false },
        interval: { type: 'string', default: '1000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    err.write(`onedoor ferry: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  const intervalMs = Number(values.interval);
  if (!values.from || !values.to || !Number.isInteger(intervalMs) || intervalMs < 10) {
    err.write(`onedoor ferry: --from and --to are required; --interval is ms (10+)\n${USAGE}`);
    return 2;
  }
  const crossings: FerryCrossing[] = [{ from: values.from, to: values.to }];
  if (values.both) crossings.push({ from: values.to, to: values.from });
  try {
    for (const crossing of crossings) await checkCrossing(crossing);
  } catch (e) {
    err.write(`onedoor ferry: ${(e as Error).message}\n`);
    return 2;
  }

  if (values.once) {
    let failed = 0;
    for (const crossing of crossings) {
      const report = await ferryOnce(crossing);
      printReport(report, out, err);
      failed += report.failed.length;
    }
    return failed > 0 ? 1 : 0;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await runFerry(crossings, {
    intervalMs,
    signal: stop.signal,
    onPass: (report) => printReport(report, out, err),
    onError: (e, crossing) => err.write(`pass ${crossing.from} → ${crossing.to}: ${e.message}\n`),
  });
  return 0;
}

/** The entry point of bin/onedoor.js. */
export function runFerryCli(argv: string[]): Promise<number> {
  return runFerryCommand(argv);
}
