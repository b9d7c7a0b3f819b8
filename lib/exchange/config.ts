/**
 * The exchange's settings, as a schema fragment for lib/config.ts to merge into the hall's one
 * (each key documented with its default), and the development secrets. Nothing here reads
 * process.env: the hall's loadConfig does, once.
 */
import { z } from 'zod';
import type { Catalog } from '../catalog/types';
import { DEFAULT_LIMITS, type ExchangeLimits } from './parse';
import type { ExchangeSecrets } from './types';

const jsonRecord = (value: z.ZodType<string>, what: string) =>
  z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return z.record(z.string().regex(/^[a-z][a-z0-9-]{1,31}$/), value).parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: `a JSON object of department code to ${what}` });
        return z.NEVER;
      }
    });

/** The exchange's keys of the hall's configuration. */
export const exchangeConfigShape = {
  /**
   * HMAC-SHA256 secret shared with each department system, as JSON ({"market":"..."}); at least
   * 16 characters each. Empty (the default) with DEV_TOKENS=on: the development secrets of
   * devExchangeSecrets, for every department with its own system.
   */
  EXCHANGE_SECRETS: jsonRecord(z.string().min(16), 'secret (16 characters or more)'),
  /** Largest exchange body taken, in bytes (default 1 MiB). */
  EXCHANGE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(DEFAULT_LIMITS.maxBodyBytes),
  /** Deepest element nesting taken (default 16; the format needs 4). */
  EXCHANGE_MAX_DEPTH: z.coerce.number().int().min(4).max(64).default(DEFAULT_LIMITS.maxDepth),
  /** Most messages in one batch (default 500). */
  EXCHANGE_MAX_BATCH: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_LIMITS.maxBatch),
  /** How long xmllint may take over one body, in ms (default 5000). */
  EXCHANGE_VALIDATION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(DEFAULT_LIMITS.validationTimeoutMs),
  /**
   * Outbox URL of each department system that cannot push, as JSON ({"tax":"http://.../outbox"});
   * each must have its own system (hasOwnSystem) and a secret. The worker polls them on a
   * Temporal schedule each (cli/outboxPolling.ts). Default: none.
   */
  EXCHANGE_OUTBOXES: jsonRecord(z.url(), 'outbox URL'),
  /** How often the hall polls each outbox, in ms (default 30 s; at least 1 s). */
  EXCHANGE_POLL_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
};

/** The exchange's settings once parsed. */
export interface ExchangeSettings {
  EXCHANGE_SECRETS: ExchangeSecrets;
  EXCHANGE_MAX_BODY_BYTES: number;
  EXCHANGE_MAX_DEPTH: number;
  EXCHANGE_MAX_BATCH: number;
  EXCHANGE_VALIDATION_TIMEOUT_MS: number;
  EXCHANGE_OUTBOXES: Record<string, string>;
  EXCHANGE_POLL_INTERVAL_MS: number;
}

/** The exchange's settings parsed on their own (for tools that do not load the whole config). */
export function parseExchangeSettings(env: Record<string, string | undefined>): ExchangeSettings {
  return z.object(exchangeConfigShape).parse(env);
}

/** The limits of parse.ts from the settings. */
export function limitsOf(settings: ExchangeSettings): ExchangeLimits {
  return {
    maxBodyBytes: settings.EXCHANGE_MAX_BODY_BYTES,
    maxDepth: settings.EXCHANGE_MAX_DEPTH,
    maxBatch: settings.EXCHANGE_MAX_BATCH,
    validationTimeoutMs: settings.EXCHANGE_VALIDATION_TIMEOUT_MS,
  };
}

/** The development secret of a department: public, so for development and tests only. */
export function devExchangeSecret(department: string): string {
  return `onedoor-exchange-dev-${department}`;
}

/** Development secrets for every department of the catalog with its own system. */
export function devExchangeSecrets(catalog: Catalog): ExchangeSecrets {
  const secrets: ExchangeSecrets = {};
  for (const d of catalog.departments.values()) {
    if (d.hasOwnSystem) secrets[d.code] = devExchangeSecret(d.code);
  }
  return secrets;
}

/** The secrets the hall runs with: the configured ones, or with dev tokens on the dev ones. */
export function exchangeSecretsOf(
  settings: Pick<ExchangeSettings, 'EXCHANGE_SECRETS'>,
  catalog: Catalog,
  devTokens: boolean,
): ExchangeSecrets {
  const configured = settings.EXCHANGE_SECRETS;
  if (Object.keys(configured).length > 0 || !devTokens) return configured;
  return devExchangeSecrets(catalog);
}
