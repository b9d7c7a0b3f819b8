import { route, type RouteSpec } from '../route';

/** Health and the API's own description. */
export function systemRoutes(
  openapi: () => unknown,
  docs: () => string,
): RouteSpec<any, any, any>[] {
  return [
    route({
      method: 'get',
      path: '/health',
      summary: 'Liveness of the API process',
      tag: 'system',
      roles: 'public',
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'The OpenAPI 3.1 document of this API',
      tag: 'system',
      roles: 'public',
      handler: async () => ({ body: openapi() }),
    }),
    route({
      method: 'get',
      path: '/docs',
      summary: 'A readable page over the OpenAPI document',
      tag: 'system',
      roles: 'public',
      produces: 'text/html',
      handler: async ({ ctx }) => {
        ctx.type = 'html';
        return { body: docs() };
      },
    }),
  ];
}
