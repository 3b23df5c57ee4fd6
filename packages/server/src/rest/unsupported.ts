// Spec routes under /collections that this node does not serve yet: a clear 400 in Qdrant's
// envelope naming the feature, never a fake success.
import { ShoalError } from '@shoal/common';
import type { Hono } from 'hono';
import { respond, type RestOptions } from './http.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

const UNSUPPORTED: readonly (readonly [Method[], string, string])[] = [
  [['GET', 'POST'], '/collections/:name/snapshots', 'collection snapshots'],
  [['POST'], '/collections/:name/snapshots/upload', 'collection snapshots'],
  [['PUT'], '/collections/:name/snapshots/recover', 'collection snapshots'],
  [['GET', 'DELETE'], '/collections/:name/snapshots/:snapshot', 'collection snapshots'],
  [['GET', 'PUT'], '/collections/:name/shards', 'shard keys'],
  [['POST'], '/collections/:name/shards/delete', 'shard keys'],
  [['GET'], '/collections/:name/shards/:shard/snapshot', 'shard snapshots'],
  [['GET', 'POST'], '/collections/:name/shards/:shard/snapshots', 'shard snapshots'],
  [['POST'], '/collections/:name/shards/:shard/snapshots/upload', 'shard snapshots'],
  [['PUT'], '/collections/:name/shards/:shard/snapshots/recover', 'shard snapshots'],
  [['GET', 'DELETE'], '/collections/:name/shards/:shard/snapshots/:snapshot', 'shard snapshots'],
  [['GET', 'POST'], '/collections/:name/cluster', 'collection cluster info and operations'],
  [['GET'], '/collections/:name/optimizations', 'the optimizations report'],
  [['PUT', 'DELETE'], '/collections/:name/vectors/:vector', 'adding or removing vector spaces of a collection'],
  [['POST'], '/collections/:name/points/query/groups', 'grouped queries'],
  [['POST'], '/collections/:name/points/search/groups', 'grouped search'],
  [['POST'], '/collections/:name/points/search/matrix/pairs', 'the distance matrix'],
  [['POST'], '/collections/:name/points/search/matrix/offsets', 'the distance matrix'],
  [['POST'], '/collections/:name/points/recommend', 'recommend'],
  [['POST'], '/collections/:name/points/recommend/batch', 'recommend'],
  [['POST'], '/collections/:name/points/recommend/groups', 'recommend'],
  [['POST'], '/collections/:name/points/discover', 'discover'],
  [['POST'], '/collections/:name/points/discover/batch', 'discover'],
];

export function registerUnsupportedRoutes(app: Hono, options: RestOptions): void {
  for (const [methods, path, feature] of UNSUPPORTED) {
    app.on(methods, path, (c) =>
      respond(c, options, async () => {
        throw new ShoalError('unsupported', `${feature} is not supported by this node yet`);
      }),
    );
  }
}
