// The REST application: timing and metrics around every request, the API key check, then the
// service routes and the collection routes.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { errorEnvelope } from '@shoal/api';
import type { NodeConfig } from './config.js';
import { registerClusterRoutes } from './cluster-routes.js';
import { registerServiceRoutes, type ServiceState } from './service-routes.js';

/** Paths that answer without an API key, as in Qdrant (probes must work unauthenticated). */
const OPEN_PATHS = new Set(['/', '/healthz', '/livez', '/readyz']);
const READ_ONLY_METHODS = new Set(['GET', 'HEAD']);
/** POST endpoints that only read. */
const READ_POST = /\/points(\/(scroll|count|search|query|recommend|discover)(\/(batch|groups))?)?$|\/facet$|\/points\/search\/matrix\//;

export interface AppOptions {
  readonly config: NodeConfig;
  readonly state: ServiceState;
  readonly registerCollectionRoutes: (app: Hono) => void;
  readonly onRequestError: (error: unknown, path: string) => void;
}

export function createApp(options: AppOptions): Hono {
  const { config, state } = options;
  const app = new Hono();
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const endpoint = c.req.routePath === '/*' ? 'unknown' : c.req.routePath;
    state.metrics.observeRest(c.req.method, endpoint, c.res.status, (performance.now() - started) / 1000);
  });
  if (config.service.enableCors) app.use(cors());
  if (config.service.apiKey !== null || config.service.readOnlyApiKey !== null) app.use(apiKeyCheck(config));
  registerClusterRoutes(app, state);
  registerServiceRoutes(app, state);
  options.registerCollectionRoutes(app);
  app.notFound((c) => c.json(errorEnvelope(`Not found: ${c.req.method} ${c.req.path}`, 0), 404));
  app.onError((error, c) => {
    options.onRequestError(error, c.req.path);
    return c.json(errorEnvelope('Service internal error', 0), 500);
  });
  return app;
}

function apiKeyCheck(config: NodeConfig) {
  const full = config.service.apiKey;
  const readOnly = config.service.readOnlyApiKey;
  return async (c: import('hono').Context, next: () => Promise<void>): Promise<Response | void> => {
    if (OPEN_PATHS.has(c.req.path)) return next();
    const bearer = c.req.header('authorization')?.replace(/^Bearer\s+/i, '');
    const key = c.req.header('api-key') ?? bearer;
    const isRead = READ_ONLY_METHODS.has(c.req.method) || (c.req.method === 'POST' && READ_POST.test(c.req.path));
    if (key !== undefined && (key === full || (isRead && key === readOnly))) return next();
    return c.json(errorEnvelope('Unauthorized: Must provide an API key or an Authorization bearer token', 0), 401);
  };
}
