import { z } from 'zod';
import { errorCatalog } from '../lib/errors';
import type { RouteSpec } from './route';

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(errorCatalog) },
        message: { type: 'string' },
        problems: {
          type: 'array',
          items: {
            type: 'object',
            properties: { path: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
};

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}

/** Parameters of a path or query object schema, as OpenAPI parameters. */
function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const json = jsonSchemaOf(schema) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: s,
  }));
}

/** What the OpenAPI document says of the API as a whole. */
const API_DESCRIPTION =
  'The case orchestrator of the administrative service hall. Every route but the public ones ' +
  'needs a bearer token; x-roles says which roles may call it.';

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate the requests,
 * so the description cannot drift from what the API accepts.
 */
export function buildOpenApi(routes: RouteSpec<any, any, any>[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Record<string, unknown> = {
      [r.method === 'post' ? '201' : '200']: {
        description: 'success',
        content: { [r.produces ?? 'application/json']: {} },
      },
    };
    const codes = [
      ...(r.errors ?? []),
      ...(r.roles === 'public' ? [] : (['unauthenticated', 'forbidden'] as const)),
    ];
    if (r.body || r.query || r.params) codes.push('validation_failed');
    for (const code of codes) {
      const status = String(errorCatalog[code].status);
      const existing = responses[status] as { description: string } | undefined;
      responses[status] = {
        description: existing ? `${existing.description}, ${code}` : code,
        content: { 'application/json': { schema: errorBody } },
      };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.roles === 'public' ? { security: [] } : { 'x-roles': r.roles }),
      parameters: [...parametersOf(r.params, 'path'), ...parametersOf(r.query, 'query')],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchemaOf(r.body) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'onedoor',
      version: '1',
      description: API_DESCRIPTION,
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

const DOCS_STYLE =
  'body{font-family:sans-serif;max-width:60rem;margin:2rem auto}' +
  'pre{background:#f4f4f4;padding:1rem;overflow:auto}summary{cursor:pointer;padding:.3rem 0}';

const DOCS_HEAD =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>onedoor API</title>\n' +
  `<style>${DOCS_STYLE}</style>\n</head>`;

const DOCS_INTRO =
  '<h1>onedoor API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. ' +
  'Dev tokens are listed in the README.</p>';

/** A small docs page over the OpenAPI document: no external assets, readable offline. */
export function docsPage(doc: Record<string, unknown>): string {
  const escape = (s: string): string =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const { parameters, requestBody, responses } = op;
      const roles = escape((op['x-roles'] ?? ['public']).join(', '));
      const shape = escape(JSON.stringify({ parameters, requestBody, responses }, null, 2));
      rows.push(
        `<details><summary><code>${method.toUpperCase()} ${escape(path)}</code>` +
          ` — ${escape(op.summary)} <small>${roles}</small></summary>` +
          `<pre>${shape}</pre></details>`,
      );
    }
  }
  return `${DOCS_HEAD}<body>${DOCS_INTRO}${rows.join('\n')}</body></html>`;
}
