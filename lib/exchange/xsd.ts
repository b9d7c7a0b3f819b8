/**
 * Validation against the exchange schema by xmllint (libxml2), run as a child process: libxml2
 * is the reference XSD validator on Debian and needs no native Node module. The document is fed
 * with --nonet (nothing is fetched) and without --noent (no entity is substituted); bodies
 * reach here only after parse.ts refused every DTD. A timeout and a cap on concurrent processes
 * keep a flood of bodies from taking the machine.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Resolved from this file, not from lib/config (which imports the exchange's settings).
const SCHEMAS = path.join(__dirname, '..', '..', 'exchange');
/** The schema of the latest version (1.1): what the hall validates with and serves. */
export const EXCHANGE_XSD_PATH = path.join(SCHEMAS, 'onedoor-exchange-1.1.xsd');
/** The schema of version 1.0, kept for systems that pin it: every 1.0 document is valid 1.1. */
export const EXCHANGE_XSD_1_0_PATH = path.join(SCHEMAS, 'onedoor-exchange-1.0.xsd');

/** The outcome of validating one document. */
export type XsdResult = { valid: true } | { valid: false; errors: string[] };

/** xmllint could not give an answer (missing, timed out, or the schema itself is broken). */
export class ValidatorUnavailable extends Error {
  override readonly name = 'ValidatorUnavailable';
}

/** The most xmllint processes running at once; more bodies wait and go together. */
const MAX_RUNNING = 4;
/** The most documents, and bytes, one xmllint process is given. */
const MAX_GROUP = 64;
const MAX_GROUP_BYTES = 4 * 1024 * 1024;
const STDERR_CAP = 256 * 1024;

interface Pending {
  document: Buffer;
  xsdPath: string;
  timeoutMs: number;
  /** Validated in a process of its own (after a group's output was cut short). */
  alone?: boolean;
  resolve: (result: XsdResult) => void;
  reject: (err: Error) => void;
}

const queue: Pending[] = [];
let running = 0;

/**
 * Validates a document (bytes or text) against the schema; errors are xmllint's own lines.
 * Alone, a document goes to xmllint on stdin. Under load, the documents waiting for a free
 * process are validated by one xmllint run over temporary files: starting the process is most of
 * the cost of a small message, so concurrent bodies share it.
 */
export function validateAgainstSchema(
  document: Buffer | string,
  opts: { xsdPath?: string; timeoutMs?: number } = {},
): Promise<XsdResult> {
  return new Promise((resolve, reject) => {
    queue.push({
      document: typeof document === 'string' ? Buffer.from(document, 'utf8') : document,
      xsdPath: opts.xsdPath ?? EXCHANGE_XSD_PATH,
      timeoutMs: opts.timeoutMs ?? 5000,
      resolve,
      reject,
    });
    pump();
  });
}

function pump(): void {
  while (running < MAX_RUNNING && queue.length > 0) {
    const group = takeGroup();
    running++;
    void validateGroup(group).finally(() => {
      running--;
      pump();
    });
  }
}

/** The next documents that can go to one process: same schema, within the caps. */
function takeGroup(): Pending[] {
  const group = [queue.shift()!];
  let bytes = group[0].document.length;
  for (let i = 0; i < queue.length && group.length < MAX_GROUP;) {
    const next = queue[i];
    if (next.xsdPath !== group[0].xsdPath || bytes + next.document.length > MAX_GROUP_BYTES) {
      i++;
      continue;
    }
    bytes += next.document.length;
    group.push(...queue.splice(i, 1));
  }
  return group;
}

async function validateGroup(group: Pending[]): Promise<void> {
  const timeoutMs = Math.max(...group.map((p) => p.timeoutMs));
  try {
    if (group.length === 1) {
      const { code, stderr } = await runXmllint(
        group[0].xsdPath,
        ['-'],
        timeoutMs,
        group[0].document,
      );
      group[0].resolve(verdictOf(code, stderr.split('\n'), '-'));
      return;
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'onedoor-xsd-'));
    try {
      const files = group.map((_, i) => path.join(dir, `${i}.xml`));
      await Promise.all(group.map((p, i) => writeFile(files[i], p.document)));
      // Small messages validate in milliseconds: a group gets a few single timeouts, not one each.
      const groupTimeout = timeoutMs * Math.min(group.length, 3);
      const { stderr, truncated } = await runXmllint(group[0].xsdPath, files, groupTimeout);
      if (truncated) {
        // Some verdicts may be cut off: each document is asked again on its own.
        for (const p of group) queue.unshift({ ...p, alone: true });
        return;
      }
      const lines = stderr.split('\n');
      group.forEach((p, i) => {
        const prefix = files[i];
        const own = lines
          .filter((l) => l.startsWith(`${prefix}:`) || l.startsWith(`${prefix} `))
          .map((l) => `-${l.slice(prefix.length)}`);
        p.resolve(verdictOf(own.includes('- validates') ? 0 : 3, own, '-'));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } catch (err) {
    for (const p of group) p.reject(err as Error);
  }
}

function verdictOf(code: number, lines: string[], name: string): XsdResult {
  if (code === 0) return { valid: true };
  const errors = lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== `${name} fails to validate` && l !== `${name} validates`);
  return { valid: false, errors: errors.length > 0 ? errors : ['not well-formed'] };
}

function runXmllint(
  xsdPath: string,
  inputs: string[],
  timeoutMs: number,
  stdin?: Buffer,
): Promise<{ code: number; stderr: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn('xmllint', ['--noout', '--nonet', '--schema', xsdPath, ...inputs], {
      stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < STDERR_CAP) stderr += chunk;
    });
    child.on('error', (err) => reject(new ValidatorUnavailable(`xmllint: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (signal) return reject(new ValidatorUnavailable(`xmllint stopped by ${signal}`));
      // 0: valid; 1: not well-formed; 3/4: not valid. 5: the schema did not compile (our fault).
      if (code === 5) return reject(new ValidatorUnavailable(`schema did not compile: ${stderr}`));
      resolve({ code: code ?? 1, stderr, truncated: stderr.length >= STDERR_CAP });
    });
    if (stdin && child.stdin) {
      // xmllint may close stdin early on a fatal error; its verdict still comes through `close`.
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    }
  });
}
