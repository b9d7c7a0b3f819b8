/**
 * Validation against the exchange schema by xmllint (libxml2), run as a child process: libxml2
 * is the reference XSD validator on Debian and needs no native Node module. The document is fed
 * on stdin, with --nonet (nothing is fetched) and without --noent (no entity is substituted);
 * bodies reach here only after parse.ts refused every DTD. A timeout and a cap on concurrent
 * processes keep a flood of bodies from taking the machine.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../config';

/** The schema file of version 1.0 of the format. */
export const EXCHANGE_XSD_PATH = path.join(REPO_ROOT, 'exchange', 'onedoor-exchange-1.0.xsd');

/** The outcome of validating one document. */
export type XsdResult = { valid: true } | { valid: false; errors: string[] };

/** xmllint could not give an answer (missing, timed out, or the schema itself is broken). */
export class ValidatorUnavailable extends Error {
  override readonly name = 'ValidatorUnavailable';
}

/** The most xmllint processes running at once; more callers wait their turn. */
const MAX_RUNNING = 4;
let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

const STDERR_CAP = 64 * 1024;

/** Validates a document (bytes or text) against the schema; errors are xmllint's own lines. */
export async function validateAgainstSchema(
  document: Buffer | string,
  opts: { xsdPath?: string; timeoutMs?: number } = {},
): Promise<XsdResult> {
  const release = await slot();
  try {
    return await runXmllint(document, opts.xsdPath ?? EXCHANGE_XSD_PATH, opts.timeoutMs ?? 5000);
  } finally {
    release();
  }
}

function runXmllint(document: Buffer | string, xsdPath: string, timeoutMs: number) {
  return new Promise<XsdResult>((resolve, reject) => {
    const child = spawn('xmllint', ['--noout', '--nonet', '--schema', xsdPath, '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < STDERR_CAP) stderr += chunk;
    });
    child.on('error', (err) => reject(new ValidatorUnavailable(`xmllint: ${err.message}`)));
    // xmllint may close stdin early on a fatal error; its verdict still comes through `close`.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      if (signal) return reject(new ValidatorUnavailable(`xmllint stopped by ${signal}`));
      if (code === 0) return resolve({ valid: true });
      // 1: not well-formed; 3/4: not valid. 5 means the schema did not compile: our fault.
      if (code === 5) return reject(new ValidatorUnavailable(`schema did not compile: ${stderr}`));
      const errors = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/fails to validate$/.test(l));
      resolve({ valid: false, errors });
    });
    child.stdin.end(document);
  });
}
