/**
 * The raw body of a bank request: the callback's signature covers its exact bytes, and a
 * statement file is not JSON.
 */
import type { Context } from 'koa';
import { DomainError } from '../../lib/errors';

const MAX_BODY = 10 * 1024 * 1024;

/** The raw bytes of a request: kept by the JSON body parser, else read from the stream here. */
export async function rawBodyOf(ctx: Context): Promise<string> {
  const kept = (ctx.request as { rawBody?: string }).rawBody;
  if (typeof kept === 'string') return kept;
  if (ctx.req.readableEnded) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new DomainError('validation_failed', 'the body exceeds 10 MiB');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
