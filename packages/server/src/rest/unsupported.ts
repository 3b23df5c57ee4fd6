// Spec routes under /collections that this node does not serve yet: a clear 400 in Qdrant's
// envelope naming the feature, never a fake success.
import { ShoalError } from '@shoal/common';
import type { Hono } from 'hono';
import { respond, type RestOptions } from './http.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

const UNSUPPORTED: readonly (readonly [Method[], string, string])[] = [
  [['GET', 'POST'], '/collections/:name/snapshots', 'the collection snapshot API'],
  [['POST'], '/collections/:name/snapshots/upload', 'the collection snapshot API'],
  [['PUT'], '/collections/:name/snapshots/recover', 'the collection snapshot API'],
  [['GET', 'DELETE'], '/collections/:name/snapshots/:snapshot', 'the collection snapshot API'],
  [['GET', 'POST'], '/collections/:name/shards/:shard/snapshots', 'the shard snapshot API'],
  [['POST'], '/collections/:name/shards/:shard/snapshots/upload', 'the shard snapshot API'],
  [['PUT'], '/collections/:name/shards/:shard/snapshots/recover', 'the shard snapshot API'],
  [['GET', 'DELETE'], '/collections/:name/shards/:shard/snapshots/:snapshot', 'the shard snapshot API'],
  [['GET'], '/collections/:name/optimizations', 'the optimizations report'],
  [['PUT', 'DELETE'], '/collections/:name/vectors/:vector', 'adding or removing a vector space of a collection'],
  [['POST'], '/collections/:name/points/query/groups', 'grouped query'],
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
