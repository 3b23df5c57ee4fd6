// Reading the cluster's shape from one node: members from GET /cluster, replicas and transfers
// from GET /collections/{name}/cluster for every collection.
import { collectionPath, type RestClient } from './client.js';
import { CommandError } from './errors.js';
import { parseClusterStatus, parseCollectionCluster, type CollectionCluster, type EnabledCluster, type Layout } from './model.js';
import { arrayAt, objectAt, stringAt } from './shape.js';

/** GET /cluster; a node outside cluster mode has no peers or shards to manage. */
export async function fetchCluster(client: RestClient): Promise<EnabledCluster> {
  const status = parseClusterStatus(await client.get('/cluster'));
  if (!status.enabled) {
    throw new CommandError(`cluster mode is disabled on ${client.url}: start the nodes with cluster.enabled: true (QDRANT__CLUSTER__ENABLED=true)`);
  }
  return status;
}

export async function fetchCollectionNames(client: RestClient): Promise<string[]> {
  const result = objectAt(await client.get('/collections'), 'result');
  return arrayAt(result['collections'], 'result.collections')
    .map((c, i) => stringAt(objectAt(c, `result.collections[${i}]`)['name'], `result.collections[${i}].name`))
    .sort();
}

export async function fetchCollectionCluster(client: RestClient, collection: string): Promise<CollectionCluster> {
  return parseCollectionCluster(collection, await client.get(collectionPath(collection, '/cluster')));
}

/** One consistent-enough snapshot: collections are read one after another, not atomically. */
export async function fetchLayout(client: RestClient): Promise<Layout> {
  const cluster = await fetchCluster(client);
  const names = await fetchCollectionNames(client);
  const infos: CollectionCluster[] = [];
  for (const name of names) infos.push(await fetchCollectionCluster(client, name));
  return {
    peers: cluster.peers.map((p) => p.id),
    shards: infos.flatMap((info) => info.shards),
    transfers: infos.flatMap((info) => info.transfers),
  };
}
