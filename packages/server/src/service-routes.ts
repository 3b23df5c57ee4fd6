// Service endpoints: version, health probes, cluster status, telemetry, metrics.
import type { Hono } from 'hono';
import type { LocalNode } from '@shoal/cluster';
import type { Metrics } from './metrics.js';
import { API_VERSION, TITLE } from './build-info.js';

export interface ServiceState {
  readonly node: LocalNode;
  readonly metrics: Metrics;
  readonly commit: string;
  readonly startedAt: Date;
  /** Random id of this process's telemetry. */
  readonly telemetryId: string;
  /** true once storage is loaded; false again while shutting down. */
  ready: boolean;
}

function ok(result: unknown, startedMs: number): { result: unknown; status: 'ok'; time: number } {
  return { result, status: 'ok', time: (performance.now() - startedMs) / 1000 };
}

export function registerServiceRoutes(app: Hono, state: ServiceState): void {
  app.get('/', (c) => c.json({ title: TITLE, version: API_VERSION, commit: state.commit }));
  app.get('/healthz', (c) => c.text('healthz check passed'));
  app.get('/livez', (c) => c.text('healthz check passed'));
  app.get('/readyz', (c) => (state.ready ? c.text('all shards are ready') : c.text('some shards are not ready', 503)));
  app.get('/cluster', (c) => c.json(ok({ status: 'disabled' }, performance.now())));
  app.get('/telemetry', (c) => c.json(ok(telemetry(state), performance.now())));
  app.get('/metrics', (c) => {
    const gauges = state.node.listCollections().map((name) => {
      const info = state.node.collectionInfo(name);
      return { name, points: info.pointsCount, vectors: info.pointsCount * info.config.vectors.size };
    });
    return c.text(state.metrics.render(API_VERSION, gauges), 200, { 'content-type': 'text/plain; version=0.0.4' });
  });
}

function telemetry(state: ServiceState): unknown {
  const names = state.node.listCollections();
  return {
    id: state.telemetryId,
    app: {
      name: 'shoal',
      version: API_VERSION,
      startup: state.startedAt.toISOString(),
      features: { debug: false, service_debug_feature: false, recovery_mode: false, gpu: false, rocksdb: false, staging: false },
    },
    collections: { number_of_collections: names.length },
  };
}
