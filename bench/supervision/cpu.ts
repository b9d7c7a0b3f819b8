/**
 * CPU spent by the hall during a phase of the supervision bench, read from /proc: unlike wall
 * time it hardly depends on what else the machine runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** CPU time (ms) of a process from /proc (utime + stime, in clock ticks of 10 ms). */
function cpuOfPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The PostgreSQL backends serving one database (their process titles name it), by pid. */
function pgBackendsOf(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!title.startsWith('postgres: ') || !title.includes(` ${database} `)) continue;
      const cpu = cpuOfPid(Number(entry));
      if (cpu !== undefined) out.set(Number(entry), cpu);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/**
 * CPU spent by the hall during a phase: this process (API, worker, clients), the dev server,
 * and the PostgreSQL backends of the bench database (a lower bound: a backend that exits
 * during the phase takes its share with it). Unlike wall time it hardly depends on what else
 * the machine runs, so it gives what an idle machine could do.
 */
export class CpuMeter {
  private readonly self = process.cpuUsage();
  private readonly server: number;
  private readonly pg: Map<number, number>;

  constructor(
    private readonly serverPid: number | undefined,
    private readonly database: string,
  ) {
    this.server = serverPid === undefined ? NaN : (cpuOfPid(serverPid) ?? NaN);
    this.pg = pgBackendsOf(database);
  }

  read(): { selfMs: number; serverMs: number; pgMs: number; totalMs: number } {
    const self = process.cpuUsage(this.self);
    const selfMs = (self.user + self.system) / 1000;
    const serverMs =
      this.serverPid === undefined ? NaN : (cpuOfPid(this.serverPid) ?? NaN) - this.server;
    let pgMs = 0;
    for (const [pid, cpu] of pgBackendsOf(this.database)) pgMs += cpu - (this.pg.get(pid) ?? 0);
    return { selfMs, serverMs, pgMs, totalMs: selfMs + serverMs + pgMs };
  }
}

type Cpu = ReturnType<CpuMeter['read']>;

/** Units per second the machine's cores could do at this CPU cost, were nothing else running. */
export const ceiling = (cpu: Cpu, units: number): string =>
  ((os.cpus().length * 1000) / (cpu.totalMs / units)).toFixed(1);

/** "this process 310 ms, dev server 220 ms, PostgreSQL 40 ms" per unit of work. */
export function describeCpu(cpu: Cpu, units: number): string {
  const per = (v: number) => `${(v / units).toFixed(0)} ms`;
  return (
    `this process ${per(cpu.selfMs)}, dev server ${per(cpu.serverMs)}, PostgreSQL ` +
    `${per(cpu.pgMs)}: ${per(cpu.totalMs)} in all`
  );
}
