// Routes of collections, aliases and payload indexes.
import {
  aliasesJson, checkName, collectionClusterInfoJson, collectionInfoJson, collectionsListJson, parseAliasActions, parseCreateCollection,
  parseCreateFieldIndex, parseCreateShardKey, parseDropShardKey, parseUpdateCollection, shardKeysJson, updateResultJson,
} from '@shoal/api';
import type { CollectionsService } from '@shoal/cluster';
import type { Hono } from 'hono';
import { metadataReadOptions, readJsonBody, requestOptions, respond, writeOptions, type RestOptions } from './http.js';

export function registerCollectionAdminRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;

  // Metadata reads answer from this node's state; `linearizable=true` (a Shoal extension) first
  // confirms it with the cluster leader's commit.
  app.get('/collections', (c) =>
    respond(c, options, async () => {
      await service.confirmMetadata?.(metadataReadOptions(c));
      return collectionsListJson(service.listCollections());
    }));

  app.get('/collections/:name', (c) =>
    respond(c, options, async () => {
      const read = metadataReadOptions(c);
      await service.confirmMetadata?.(read);
      return collectionInfoJson(await service.collectionInfo(c.req.param('name'), read));
    }));

  app.get('/collections/:name/exists', (c) =>
    respond(c, options, async () => {
      const read = metadataReadOptions(c);
      await service.confirmMetadata?.(read);
      return { exists: await service.collectionExists(c.req.param('name'), read) };
    }));

  app.put('/collections/:name', (c) =>
    respond(c, options, async () => {
      const name = checkName(c.req.param('name'), 'collection_name', limits);
      const config = parseCreateCollection(await readJsonBody(c, limits), limits);
      await service.createCollection(name, config, requestOptions(c));
      return true;
    }),
  );

  app.patch('/collections/:name', (c) =>
    respond(c, options, async () => {
      const patch = parseUpdateCollection(await readJsonBody(c, limits), limits);
      await service.updateCollection(c.req.param('name'), patch, requestOptions(c));
      return true;
    }),
  );

  app.delete('/collections/:name', (c) =>
    respond(c, options, async () => service.deleteCollection(c.req.param('name'), requestOptions(c))),
  );

  app.post('/collections/aliases', (c) =>
    respond(c, options, async () => {
      const actions = parseAliasActions(await readJsonBody(c, limits), limits);
      await service.updateAliases(actions, requestOptions(c));
      return true;
    }),
  );

  app.get('/aliases', (c) =>
    respond(c, options, async () => {
      await service.confirmMetadata?.(metadataReadOptions(c));
      return aliasesJson(service.listAliases(null));
    }));

  app.get('/collections/:name/cluster', (c) =>
    respond(c, options, async () => collectionClusterInfoJson(await service.collectionClusterInfo(c.req.param('name'), requestOptions(c)))),
  );

  app.put('/collections/:name/shards', (c) =>
    respond(c, options, async () => {
      const request = parseCreateShardKey(await readJsonBody(c, limits));
      await service.createShardKey(c.req.param('name'), request, requestOptions(c));
      return true;
    }),
  );

  app.post('/collections/:name/shards/delete', (c) =>
    respond(c, options, async () => {
      const key = parseDropShardKey(await readJsonBody(c, limits));
      await service.deleteShardKey(c.req.param('name'), key, requestOptions(c));
      return true;
    }),
  );

  app.get('/collections/:name/shards', (c) =>
    respond(c, options, async () => shardKeysJson(await service.listShardKeys(c.req.param('name'), requestOptions(c)))),
  );

  app.get('/collections/:name/aliases', (c) =>
    respond(c, options, async () => {
      const read = metadataReadOptions(c);
      await service.confirmMetadata?.(read);
      // A collection this node does not know yet: catch up with the cluster before the 404.
      await service.collectionExists(c.req.param('name'), read);
      return aliasesJson(service.listAliases(c.req.param('name')));
    }),
  );

  app.put('/collections/:name/index', (c) =>
    respond(c, options, async () => {
      const { field, params } = parseCreateFieldIndex(await readJsonBody(c, limits));
      return updateResultJson(await service.createFieldIndex(c.req.param('name'), field, params, writeOptions(c)));
    }),
  );

  app.delete('/collections/:name/index/:field', (c) =>
    respond(c, options, async () =>
      updateResultJson(await service.deleteFieldIndex(c.req.param('name'), c.req.param('field'), writeOptions(c))),
    ),
  );
}
