// A server span around every HTTP route when tracing is on (docs/telemetry.md): the caller's
// W3C traceparent, where it sends one, is its parent, and the decisions the route makes are its
// children. With tracing off nothing is installed, so routes run exactly as registered.

import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { TracerPort } from '../../core/tracer.js';

/** Wraps the handler of each route registered after this call (child plugins included). */
export function traceRoutes(app: FastifyInstance, tracer: TracerPort): void {
  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    const url = route.url;
    route.handler = function (req, reply) {
      return tracer.spanFrom(
        req.headers,
        `${req.method} ${url}`,
        {
          kind: 'server',
          attributes: {
            'http.request.method': req.method,
            'http.route': url,
            // The path only: a query may carry what a trace should not.
            'url.path': req.url.split('?')[0],
          },
        },
        async (span) => {
          const out: unknown = await handler.call(this, req, reply);
          span.set({ 'http.response.status_code': reply.statusCode });
          return out;
        },
      );
    };
  });
}
