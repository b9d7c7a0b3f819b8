/**
 * The spool's settings, as a schema fragment that lib/config.ts merges into the hall's one, and
 * the development keys of its routes. Nothing here reads process.env.
 */
import { z } from 'zod';
import { routeId } from './bundle';

const SIDE = /^[a-z][a-z0-9-]{1,31}$/;
const ROUTE = /^[a-z][a-z0-9-]{1,31}->[a-z][a-z0-9-]{1,31}$/;

/** The spool's keys of the hall's configuration. */
export const spoolConfigShape = {
  /**
   * This side's spool directory (bundles are written to its outbound/, read from its inbound/);
   * empty (the default): the hall writes and reads no bundles.
   */
  SPOOL_DIR: z.string().default(''),
  /** This side's name on the routes of the spool (default `hall`; the outer network: `outer`). */
  SPOOL_SIDE: z.string().regex(SIDE).default('hall'),
  /** The side across the ferry (default `outer`). */
  SPOOL_PEER: z.string().regex(SIDE).default('outer'),
  /**
   * HMAC-SHA256 key of each route, as JSON ({"hall->outer":"...","outer->hall":"..."}); at
   * least 16 characters each. Empty (the default) with DEV_TOKENS=on: the development keys.
   */
  SPOOL_KEYS: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return z.record(z.string().regex(ROUTE), z.string().min(16)).parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'a JSON object of "a->b" route to key (16+)' });
        return z.NEVER;
      }
    }),
  /** Seconds between two passes over the spool of the API process (default 30). */
  SPOOL_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(30),
  /** Largest bundle file taken, in bytes (default 4 MiB). */
  SPOOL_MAX_BUNDLE_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .default(4 * 1024 * 1024),
};

/** The spool's settings once parsed. */
export interface SpoolSettings {
  SPOOL_DIR: string;
  SPOOL_SIDE: string;
  SPOOL_PEER: string;
  SPOOL_KEYS: Record<string, string>;
  SPOOL_MAX_BUNDLE_BYTES: number;
  DEV_TOKENS: boolean;
}

/** The development key of a route: public, so for development and tests only. */
export function devSpoolKey(sender: string, receiver: string): string {
  return `onedoor-spool-dev-${routeId(sender, receiver)}`;
}

/** The route keys a side runs with: the configured ones, or with dev tokens on the dev ones. */
export function spoolKeysOf(settings: SpoolSettings): Record<string, string> {
  if (Object.keys(settings.SPOOL_KEYS).length > 0 || !settings.DEV_TOKENS) {
    return settings.SPOOL_KEYS;
  }
  const { SPOOL_SIDE: side, SPOOL_PEER: peer } = settings;
  return {
    [routeId(side, peer)]: devSpoolKey(side, peer),
    [routeId(peer, side)]: devSpoolKey(peer, side),
  };
}
