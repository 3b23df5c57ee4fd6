// Routes of points: writes, retrieve, scroll, count, query, legacy search, facet.
import {
  countJson, facetJson, parseBatchWrites, parseCount, parseDeletePayload, parseDeleteVectors, parseFacet,
  parsePathPointId, parsePointsSelector, parseQuery, parseQueryBatch, parseRetrieve, parseScroll, parseSearch,
  parseSearchBatch, parseSetPayload, parseUpdateVectors, parseUpsert, queryJson, recordJson, scoredPointJson,
  scrollJson, shardKeyOf, shardKeysOfList, updateResultJson, type ParsedQuery, type VectorSpaces,
} from '@shoal/api';
import { ShoalError, pointIdToString, type PointOperation, type ScoredPoint } from '@shoal/common';
import type { CollectionsService, PointWrite, RequestOptions } from '@shoal/cluster';
import type { Context, Hono } from 'hono';
import { readJsonBody, requestOptions, respond, writeOptions, type RestOptions } from './http.js';

interface Shape {
  readonly spaces: VectorSpaces;
  /** created with one unnamed vector: answer `vector: [...]` */
  readonly unnamed: boolean;
}

/** The collection's vector spaces; 404 (from the service) when it does not exist. */
async function shapeOf(service: CollectionsService, name: string, options: RequestOptions): Promise<Shape> {
  const config = await service.collectionConfig(name, options);
  return { spaces: config.vectors, unnamed: config.unnamedVectors };
}

async function runQuery(service: CollectionsService, name: string, q: ParsedQuery, options: RequestOptions): Promise<ScoredPoint[]> {
  if (q.kind === 'search') return service.search(name, q.request, options);
  // No `query`: points in id order, every score 0, as Qdrant answers.
  const page = await service.scroll(name, q.request, options);
  return page.points.slice(q.skip).map((r) => ({ ...r, score: 0 }));
}

export function registerPointRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;
  const apply = async (c: Context, build: (body: unknown, shape: Shape) => PointWrite[]) => {
    const name = c.req.param('name') as string;
    const body = await readJsonBody(c, limits);
    const opts = writeOptions(c);
    const writes = build(body, await shapeOf(service, name, opts));
    return { writes, result: updateResultJson(await service.updatePoints(name, writes, opts)) };
  };
  /** One operation, routed by the body's `shard_key`. */
  const write = (c: Context, build: (body: unknown, shape: Shape) => PointOperation): Promise<Response> =>
    respond(c, options, async () => (await apply(c, (b, s) => [{ op: build(b, s), shardKey: shardKeyOf(b, limits) }])).result);

  app.put('/collections/:name/points', (c) => write(c, (b, s) => parseUpsert(b, '', s.spaces, limits)));
  app.post('/collections/:name/points/delete', (c) =>
    write(c, (b) => ({ kind: 'delete_points', selector: parsePointsSelector(b, '', limits) })));
  app.put('/collections/:name/points/vectors', (c) => write(c, (b, s) => parseUpdateVectors(b, '', s.spaces, limits)));
  app.post('/collections/:name/points/vectors/delete', (c) => write(c, (b, s) => parseDeleteVectors(b, '', s.spaces, limits)));
  app.post('/collections/:name/points/payload', (c) => write(c, (b) => parseSetPayload(b, '', limits, false)));
  app.put('/collections/:name/points/payload', (c) => write(c, (b) => parseSetPayload(b, '', limits, true)));
  app.post('/collections/:name/points/payload/delete', (c) => write(c, (b) => parseDeletePayload(b, '', limits)));
  app.post('/collections/:name/points/payload/clear', (c) =>
    write(c, (b) => ({ kind: 'clear_payload', selector: parsePointsSelector(b, '', limits) })));
  // Qdrant answers one UpdateResult per operation; the batch is applied as one write here, so
  // every entry carries that write's operation id and status.
  app.post('/collections/:name/points/batch', (c) =>
    respond(c, options, async () => {
      const { writes, result } = await apply(c, (b, s) => parseBatchWrites(b, s.spaces, limits));
      return writes.map(() => result);
    }));

  registerReadRoutes(app, service, options);
}

function registerReadRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;
  /** A read: the body, and the request's options with the body's `shard_key`. */
  const read = (c: Context, handler: (name: string, body: unknown, opts: RequestOptions) => Promise<unknown>): Promise<Response> =>
    respond(c, options, async () => {
      const body = await readJsonBody(c, limits);
      return handler(c.req.param('name') as string, body, requestOptions(c, shardKeyOf(body, limits)));
    });

  app.post('/collections/:name/points', (c) =>
    read(c, async (name, body, opts) => {
      const r = parseRetrieve(body, limits);
      const { unnamed } = await shapeOf(service, name, opts);
      const records = await service.retrieve(name, r.ids, r.withPayload, r.withVector, opts);
      return records.map((p) => recordJson(p, unnamed));
    }));

  app.get('/collections/:name/points/:id', (c) =>
    respond(c, options, async () => {
      const name = c.req.param('name');
      const id = parsePathPointId(c.req.param('id'));
      const opts = requestOptions(c);
      const { unnamed } = await shapeOf(service, name, opts);
      const [record] = await service.retrieve(name, [id], { kind: 'all' }, true, opts);
      if (record === undefined) throw new ShoalError('not_found', `Not found: Point with id ${pointIdToString(id)} does not exists!`);
      return recordJson(record, unnamed);
    }));

  app.post('/collections/:name/points/scroll', (c) =>
    read(c, async (name, body, opts) => {
      const request = parseScroll(body, limits);
      const { unnamed } = await shapeOf(service, name, opts);
      return scrollJson(await service.scroll(name, request, opts), unnamed);
    }));

  app.post('/collections/:name/points/count', (c) =>
    read(c, async (name, body, opts) => {
      const { filter, exact } = parseCount(body, limits);
      return countJson(await service.count(name, filter, exact, opts));
    }));

  app.post('/collections/:name/facet', (c) =>
    read(c, async (name, body, opts) => {
      const f = parseFacet(body, limits);
      return facetJson(await service.facet(name, f.key, f.filter, f.limit, f.exact, opts));
    }));

  registerSearchRoutes(app, service, options);
}

function registerSearchRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;
  const read = (c: Context, handler: (name: string, body: unknown, shape: Shape) => Promise<unknown>): Promise<Response> =>
    respond(c, options, async () => {
      const name = c.req.param('name') as string;
      const body = await readJsonBody(c, limits);
      return handler(name, body, await shapeOf(service, name, requestOptions(c)));
    });
  /** Options of one search: the request's, with its own `shard_key`. */
  const optionsOf = (c: Context, shardKey: ReturnType<typeof shardKeyOf> | undefined): RequestOptions => requestOptions(c, shardKey ?? null);

  app.post('/collections/:name/points/query', (c) =>
    read(c, async (name, body, s) => queryJson(await runQuery(service, name, parseQuery(body, '', s.spaces, limits), optionsOf(c, shardKeyOf(body, limits))), s.unnamed)));

  app.post('/collections/:name/points/query/batch', (c) =>
    read(c, async (name, body, s) => {
      const queries = parseQueryBatch(body, s.spaces, limits);
      const keys = shardKeysOfList(body, 'searches', limits);
      const out = [];
      for (const [i, q] of queries.entries()) out.push(queryJson(await runQuery(service, name, q, optionsOf(c, keys[i])), s.unnamed));
      return out;
    }));

  app.post('/collections/:name/points/search', (c) =>
    read(c, async (name, body, s) => {
      const hits = await service.search(name, parseSearch(body, '', s.spaces, limits), optionsOf(c, shardKeyOf(body, limits)));
      return hits.map((p) => scoredPointJson(p, s.unnamed));
    }));

  app.post('/collections/:name/points/search/batch', (c) =>
    read(c, async (name, body, s) => {
      const searches = parseSearchBatch(body, s.spaces, limits);
      const keys = shardKeysOfList(body, 'searches', limits);
      const out = [];
      for (const [i, q] of searches.entries()) out.push((await service.search(name, q, optionsOf(c, keys[i]))).map((p) => scoredPointJson(p, s.unnamed)));
      return out;
    }));
}
