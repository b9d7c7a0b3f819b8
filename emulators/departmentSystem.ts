/**
 * A department's own approval system, emulated for the demo and the tests: it receives the
 * hall's task messages by webhook, acknowledges them, and can be told to be down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { TaskMessage } from '../activities/departments';

/** A running emulator. */
export interface DepartmentSystem {
  url: string;
  /** Every message received, in order, duplicates included. */
  received: TaskMessage[];
  /** Answers 503 to the next `n` messages (a system that is down). */
  failNext: (n: number) => void;
  close: () => Promise<void>;
}

/** Starts the emulator on loopback; port 0 picks a free one. */
export async function startDepartmentSystem(port = 0): Promise<DepartmentSystem> {
  const received: TaskMessage[] = [];
  let failures = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/received') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(received));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.statusCode = 503;
        res.end('down for maintenance');
        return;
      }
      try {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as TaskMessage);
        res.statusCode = 202;
        res.end('{"acknowledged":true}');
      } catch {
        res.statusCode = 400;
        res.end('not JSON');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/tasks`,
    received,
    failNext: (n) => {
      failures = n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `onedoor department-system [--port 8140]`: runs the emulator until SIGINT/SIGTERM. */
export async function runDepartmentSystem(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '8140' } },
  });
  const system = await startDepartmentSystem(Number(values.port));
  process.stderr.write(`department system emulator at ${system.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await system.close();
  return 0;
}
