// What a node in cluster mode serves before the data plane across peers exists: metadata
// (collections, aliases, payload indexes) through Raft on every node; point reads and writes are
// refused with a clear 503 rather than letting each node's copy of the data diverge.
import { ShoalError } from '@shoal/common';
import type { CollectionsService } from '@shoal/cluster';

const POINTS_UNAVAILABLE =
  'Service unavailable: point operations are not available in cluster mode yet: ' +
  'sharded data across peers is not implemented in this build (collections, aliases and payload indexes work on every node)';

function refusePoints(): never {
  throw new ShoalError('unavailable', POINTS_UNAVAILABLE);
}

/** `service` with every point operation refused (503) and every metadata operation passed through. */
export function metadataOnlyService(service: CollectionsService): CollectionsService {
  return {
    listCollections: () => service.listCollections(),
    collectionExists: (name) => service.collectionExists(name),
    createCollection: (name, config, options) => service.createCollection(name, config, options),
    updateCollection: (name, patch, options) => service.updateCollection(name, patch, options),
    deleteCollection: (name, options) => service.deleteCollection(name, options),
    collectionInfo: (name) => service.collectionInfo(name),
    collectionClusterInfo: (name) => service.collectionClusterInfo(name),
    collectionConfig: (name) => service.collectionConfig(name),
    updateAliases: (actions, options) => service.updateAliases(actions, options),
    listAliases: (collection) => service.listAliases(collection),
    createFieldIndex: (collection, field, params, options) => service.createFieldIndex(collection, field, params, options),
    deleteFieldIndex: (collection, field, options) => service.deleteFieldIndex(collection, field, options),
    updatePoints: async () => refusePoints(),
    retrieve: async () => refusePoints(),
    search: async () => refusePoints(),
    scroll: async () => refusePoints(),
    count: async () => refusePoints(),
    facet: async () => refusePoints(),
  };
}
