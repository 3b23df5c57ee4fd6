import type { CollectionsService } from '@shoal/cluster';
import type { Hono } from 'hono';
import { registerClusterRoutes } from './cluster.js';
import { registerCollectionAdminRoutes } from './collections.js';
import type { RestOptions } from './http.js';
import { registerPointRoutes } from './points.js';
import { registerShardSnapshotRoutes } from './shard-snapshot.js';
import { registerUnsupportedRoutes } from './unsupported.js';

export type { RestOptions } from './http.js';
export { readBodyText, jsonResponse } from './http.js';

/** Every /collections, /aliases route of Qdrant's REST API that this node serves (or declines). */
export function registerCollectionRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  registerCollectionAdminRoutes(app, service, options);
  registerClusterRoutes(app, service, options);
  registerPointRoutes(app, service, options);
  registerShardSnapshotRoutes(app, service, options);
  registerUnsupportedRoutes(app, options);
}
