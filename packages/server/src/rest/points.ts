// Routes of points: writes, retrieve, scroll, count, query, legacy search, facet.
import {
  countJson, facetJson, parseBatchOperations, parseCount, parseDeletePayload, parseDeleteVectors, parseFacet,
  parsePathPointId, parsePointsSelector, parseQuery, parseQueryBatch, parseRetrieve, parseScroll, parseSearch,
  parseSearchBatch, parseSetPayload, parseUpdateVectors, parseUpsert, queryJson, recordJson, scoredPointJson,
  scrollJson, updateResultJson, type ParsedQuery, type VectorSpaces,
} from '@shoal/api';
import { ShoalError, pointIdToString, type PointOperation, type ScoredPoint } from '@shoal/common';
import type { CollectionsService, RequestOptions } from '@shoal/cluster';
import type { Context, Hono } from 'hono';
import { readJsonBody, requestOptions, respond, writeOptions, type RestOptions } from './http.js';

interface Shape {
  readonly spaces: VectorSpaces;
  /** created with one unnamed vector: answer `vector: [...]` */
  readonly unnamed: boolean;
}

/** The collection's vector spaces; 404 (from the service) when it does not exist. */
function shapeOf(service: CollectionsService, name: string): Shape {
  const config = service.collectionConfig(name);
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
  const apply = async (c: Context, build: (body: unknown, shape: Shape) => PointOperation[]) => {
    const name = c.req.param('name') as string;
    const body = await readJsonBody(c, limits);
    const ops = build(body, shapeOf(service, name));
    return { ops, result: updateResultJson(await service.updatePoints(name, ops, writeOptions(c))) };
  };
  const write = (c: Context, build: (body: unknown, shape: Shape) => PointOperation[]): Promise<Response> =>
    respond(c, options, async () => (await apply(c, build)).result);

  app.put('/collections/:name/points', (c) => write(c, (b, s) => [parseUpsert(b, '', s.spaces, limits)]));
  app.post('/collections/:name/points/delete', (c) =>
    write(c, (b) => [{ kind: 'delete_points', selector: parsePointsSelector(b, '', limits) }]));
  app.put('/collections/:name/points/vectors', (c) => write(c, (b, s) => [parseUpdateVectors(b, '', s.spaces, limits)]));
  app.post('/collections/:name/points/vectors/delete', (c) => write(c, (b, s) => [parseDeleteVectors(b, '', s.spaces, limits)]));
  app.post('/collections/:name/points/payload', (c) => write(c, (b) => [parseSetPayload(b, '', limits, false)]));
  app.put('/collections/:name/points/payload', (c) => write(c, (b) => [parseSetPayload(b, '', limits, true)]));
  app.post('/collections/:name/points/payload/delete', (c) => write(c, (b) => [parseDeletePayload(b, '', limits)]));
  app.post('/collections/:name/points/payload/clear', (c) =>
    write(c, (b) => [{ kind: 'clear_payload', selector: parsePointsSelector(b, '', limits) }]));
  // Qdrant answers one UpdateResult per operation; the batch is applied as one write here, so
  // every entry carries that write's operation id and status.
  app.post('/collections/:name/points/batch', (c) =>
    respond(c, options, async () => {
      const { ops, result } = await apply(c, (b, s) => parseBatchOperations(b, s.spaces, limits));
      return ops.map(() => result);
    }));

  registerReadRoutes(app, service, options);
}

function registerReadRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;
  const read = (c: Context, handler: (name: string, body: unknown) => Promise<unknown>): Promise<Response> =>
    respond(c, options, async () => handler(c.req.param('name') as string, await readJsonBody(c, limits)));

  app.post('/collections/:name/points', (c) =>
    read(c, async (name, body) => {
      const r = parseRetrieve(body, limits);
      const { unnamed } = shapeOf(service, name);
      const records = await service.retrieve(name, r.ids, r.withPayload, r.withVector, requestOptions(c));
      return records.map((p) => recordJson(p, unnamed));
    }));

  app.get('/collections/:name/points/:id', (c) =>
    respond(c, options, async () => {
      const name = c.req.param('name');
      const id = parsePathPointId(c.req.param('id'));
      const { unnamed } = shapeOf(service, name);
      const [record] = await service.retrieve(name, [id], { kind: 'all' }, true, requestOptions(c));
      if (record === undefined) throw new ShoalError('not_found', `Not found: Point with id ${pointIdToString(id)} does not exists!`);
      return recordJson(record, unnamed);
    }));

  app.post('/collections/:name/points/scroll', (c) =>
    read(c, async (name, body) => {
      const request = parseScroll(body, limits);
      const { unnamed } = shapeOf(service, name);
      return scrollJson(await service.scroll(name, request, requestOptions(c)), unnamed);
    }));

  app.post('/collections/:name/points/count', (c) =>
    read(c, async (name, body) => {
      const { filter, exact } = parseCount(body, limits);
      return countJson(await service.count(name, filter, exact, requestOptions(c)));
    }));

  app.post('/collections/:name/facet', (c) =>
    read(c, async (name, body) => {
      const f = parseFacet(body, limits);
      return facetJson(await service.facet(name, f.key, f.filter, f.limit, f.exact, requestOptions(c)));
    }));

  registerSearchRoutes(app, service, options);
}

function registerSearchRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  const { limits } = options;
  const read = (c: Context, handler: (name: string, body: unknown, shape: Shape) => Promise<unknown>): Promise<Response> =>
    respond(c, options, async () => {
      const name = c.req.param('name') as string;
      const body = await readJsonBody(c, limits);
      return handler(name, body, shapeOf(service, name));
    });

  app.post('/collections/:name/points/query', (c) =>
    read(c, async (name, body, s) => queryJson(await runQuery(service, name, parseQuery(body, '', s.spaces, limits), requestOptions(c)), s.unnamed)));

  app.post('/collections/:name/points/query/batch', (c) =>
    read(c, async (name, body, s) => {
      const queries = parseQueryBatch(body, s.spaces, limits);
      const opts = requestOptions(c);
      const out = [];
      for (const q of queries) out.push(queryJson(await runQuery(service, name, q, opts), s.unnamed));
      return out;
    }));

  app.post('/collections/:name/points/search', (c) =>
    read(c, async (name, body, s) => {
      const hits = await service.search(name, parseSearch(body, '', s.spaces, limits), requestOptions(c));
      return hits.map((p) => scoredPointJson(p, s.unnamed));
    }));

  app.post('/collections/:name/points/search/batch', (c) =>
    read(c, async (name, body, s) => {
      const searches = parseSearchBatch(body, s.spaces, limits);
      const opts = requestOptions(c);
      const out = [];
      for (const q of searches) out.push((await service.search(name, q, opts)).map((p) => scoredPointJson(p, s.unnamed)));
      return out;
    }));
}
