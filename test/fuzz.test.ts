// Random and mutated bodies sent to every operation of the OpenAPI spec. No answer may be a 5xx,
// every JSON answer must fit the spec, the node must stay up and correct, and its log must hold
// no unexpected exception.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { removeStorage, startServer, unexpectedErrors, type ServerProcess } from './harness.js';
import { call, resultOf, validateBody } from './support.js';

const SPEC_PATH = fileURLToPath(new URL('../../shared/qdrant-openapi-1.19.json', import.meta.url));
const REQUESTS = 1500;
const SEED = 20240919;
const RESTORE_EVERY = 50;

type J = null | boolean | number | string | J[] | { [key: string]: J };

interface Operation {
  readonly method: string;
  readonly template: string;
}

function operations(): Operation[] {
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const out: Operation[] = [];
  for (const [template, methods] of Object.entries(spec.paths)) {
    for (const method of Object.keys(methods)) out.push({ method: method.toUpperCase(), template });
  }
  return out;
}

/** Path parameters: an existing and a missing target for each, and some junk. */
const PARAMS: Record<string, string[]> = {
  collection_name: ['fuzz', 'fuzz_missing', 'fuzz', '%F0%9F%98%80', 'a'.repeat(300)],
  vector_name: ['v', 'nope'],
  field_name: ['city', 'nope', 'a.b[].c'],
  id: ['1', '424242', '550E8400-E29B-41D4-A716-446655440000', 'abc', '-1', '18446744073709551616', '1.5'],
  shard_id: ['0', '7', 'x'],
  snapshot_name: ['x.snapshot', '..%2F..%2Fetc'],
  peer_id: ['1', '99'],
};

function fillPath(template: string, pick: number): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const options = PARAMS[name] ?? ['x'];
    return options[pick % options.length] as string;
  });
}

const FILTER: J = { must: [{ key: 'city', match: { value: 'a' } }], should: [{ key: 'n', range: { gte: 1 } }] };
/** A valid body per path suffix, the starting point of mutations. */
const VALID: [RegExp, J][] = [
  [/^PUT \/collections\/[^/]+$/, { vectors: { size: 4, distance: 'Cosine' }, hnsw_config: { m: 8 } }],
  [/^PATCH \/collections\/[^/]+$/, { optimizers_config: { indexing_threshold: 100 } }],
  [/^PUT .*\/points$/, { points: [{ id: 1, vector: [1, 2, 3, 4], payload: { city: 'a', n: 2 } }] }],
  [/^POST .*\/points$/, { ids: [1, 2], with_payload: true, with_vector: true }],
  [/\/points\/delete$/, { points: [5] }],
  [/^PUT .*\/points\/vectors$/, { points: [{ id: 1, vector: [1, 2, 3, 4] }] }],
  [/\/points\/vectors\/delete$/, { points: [1], vector: [''] }],
  [/\/points\/payload$/, { payload: { a: 1, nested: { b: [1, 2] } }, points: [1], key: 'x.y' }],
  [/\/points\/payload\/delete$/, { keys: ['a'], points: [1] }],
  [/\/points\/payload\/clear$/, { points: [1] }],
  [/\/points\/batch$/, { operations: [{ upsert: { points: [{ id: 3, vector: [1, 1, 1, 1] }] } }, { delete: { points: [3] } }] }],
  [/\/points\/scroll$/, { limit: 5, filter: FILTER, with_payload: ['city'], order_by: 'n' }],
  [/\/points\/count$/, { filter: FILTER, exact: true }],
  [/\/facet$/, { key: 'city', limit: 5, exact: true }],
  [/\/points\/query$/, { query: [1, 2, 3, 4], limit: 3, filter: FILTER, params: { exact: true }, score_threshold: 0.1 }],
  [/\/points\/query\/batch$/, { searches: [{ query: [1, 2, 3, 4] }, { query: 1 }] }],
  [/\/points\/query\/groups$/, { query: [1, 2, 3, 4], group_by: 'city', limit: 2 }],
  [/\/search\/matrix\//, { sample: 10, limit: 2 }],
  [/\/index$/, { field_name: 'city', field_schema: 'keyword' }],
  [/\/collections\/aliases$/, { actions: [{ create_alias: { collection_name: 'fuzz', alias_name: 'fa' } }] }],
];

function validBody(method: string, path: string): J {
  const key = `${method} ${path}`;
  for (const [pattern, body] of VALID) if (pattern.test(key)) return body;
  return {};
}

function nest(depth: number): J {
  let v: J = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

const nasty: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom<J>(1e308, -1e308, 2 ** 64, -(2 ** 63), -1, 1.5, 0, -0, '', 'NaN', 'Infinity', '-Infinity', '1e999', null, true, false, [], {}, '\u0000', '😀'.repeat(50), 'a'.repeat(5000), '550e8400e29b41d4a716446655440000', [null], [[1, 2], [3]], { must: {} }, { key: 'x', match: {} }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<J>,
  fc.integer({ min: 40, max: 2000 }).map(nest),
);

/** Every path into a JSON value, as key lists. */
function paths(value: J, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** A copy of `value` with the node at `path` replaced (or removed when `replacement` is undefined). */
function mutate(value: J, path: readonly (string | number)[], replacement: J | undefined): J {
  if (path.length === 0) return replacement ?? {};
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    if (rest.length === 0 && replacement === undefined) copy.splice(head as number, 1);
    else copy[head as number] = mutate(copy[head as number] as J, rest, replacement);
    return copy;
  }
  if (value === null || typeof value !== 'object') return value;
  const copy = { ...value };
  if (rest.length === 0 && replacement === undefined) delete copy[head as string];
  else copy[head as string] = mutate(copy[head as string] as J, rest, replacement);
  return copy;
}

const RAW_BODIES = ['', '{', 'NaN', '{"limit": NaN}', '{"limit": 1e999}', '['.repeat(20000), '{"a":1,"a":2}', '\uFEFF{}', 'null', '"str"', '123', '{"points": [{"id": 18446744073709551616, "vector": [1,2,3,4]}]}', '{"query": [1e400, 1, 1, 1]}', '{"points": [{"id": 1, "vector": [1, 2, 3, NaN]}]}'];
const NUMBER_LITERALS = ['1e400', '-1e400', '123456789012345678901234567890', '-0', '1e-400', '18446744073709551616', '-9223372036854775809', '1.0', '0x10'];

interface Plan {
  readonly op: number;
  readonly param: number;
  readonly mode: number;
  readonly pick: number;
  readonly value: J;
  readonly random: J;
  readonly raw: string;
  readonly query: number;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  op: fc.nat(),
  param: fc.nat(),
  mode: fc.integer({ min: 0, max: 5 }),
  pick: fc.nat(),
  value: nasty,
  random: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<J>,
  raw: fc.oneof(fc.constantFrom(...RAW_BODIES), fc.string({ maxLength: 40 })),
  query: fc.integer({ min: 0, max: 5 }),
});

const QUERIES = ['', '', '', '?wait=true', '?wait=maybe&timeout=-1', '?ordering=strong&timeout=99999999999'];

/** The body text of one fuzz request. */
function bodyOf(plan: Plan, method: string, path: string): string {
  const valid = validBody(method, path);
  const all = paths(valid);
  const at = all[plan.pick % all.length] ?? [];
  switch (plan.mode) {
    case 0:
      return JSON.stringify(plan.random);
    case 1:
      return JSON.stringify(mutate(valid, at, plan.value));
    case 2:
      return JSON.stringify(at.length === 0 ? valid : mutate(valid, at, undefined));
    case 3:
      return plan.raw;
    case 4: {
      const literal = NUMBER_LITERALS[plan.pick % NUMBER_LITERALS.length] as string;
      let n = 0;
      return JSON.stringify(valid).replace(/-?\d+(\.\d+)?/g, (m) => (n++ === plan.pick % 3 ? literal : m));
    }
    default:
      return JSON.stringify(mutate(valid, [...at, 'unknown_field'], plan.value));
  }
}

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
  expect((await call(server.url, 'PUT', '/collections/keep', { vectors: { size: 4, distance: 'Euclid' } })).status).toBe(200);
  const points = Array.from({ length: 50 }, (_, i) => ({ id: i, vector: [i, 1, 0, 0], payload: { i } }));
  expect((await call(server.url, 'PUT', '/collections/keep/points?wait=true', { points })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  if (server) removeStorage(server.storage);
});

/** Puts the fuzzed collection back when a request deleted or broke it. */
async function restoreFuzzCollection(): Promise<void> {
  const exists = resultOf<{ exists: boolean }>(await call(server.url, 'GET', '/collections/fuzz/exists'));
  if (!exists.exists) await call(server.url, 'PUT', '/collections/fuzz', { vectors: { size: 4, distance: 'Cosine' } });
  await call(server.url, 'PUT', '/collections/fuzz/points?wait=true', { points: [1, 2, 3].map((id) => ({ id, vector: [id, 1, 2, 3], payload: { city: 'a', n: id } })) });
}

describe('fuzzing every endpoint', () => {
  it('never answers 5xx, always fits the spec, and keeps serving', async () => {
    const ops = operations();
    const plans = fc.sample(planArb, { numRuns: REQUESTS, seed: SEED });
    const serverErrors: string[] = [];
    const violations: string[] = [];
    const unrouted = new Set<string>();
    let sent = 0;
    const startMs = Date.now();
    for (const [i, plan] of plans.entries()) {
      if (i % RESTORE_EVERY === 0) await restoreFuzzCollection();
      const op = ops[plan.op % ops.length] as Operation;
      const path = fillPath(op.template, plan.param);
      const body = op.method === 'GET' ? undefined : bodyOf(plan, op.method, path);
      const url = server.url + path + (QUERIES[plan.query] ?? '');
      const response = await fetch(url, { method: op.method, headers: { 'content-type': 'application/json' }, body });
      const text = await response.text();
      sent++;
      const brief = `${op.method} ${path} ${(body ?? '').slice(0, 200)} -> ${response.status} ${text.slice(0, 200)}`;
      if (response.status >= 500) serverErrors.push(brief);
      if ((response.headers.get('content-type') ?? '').includes('application/json')) {
        try {
          validateBody(op.method, path, response.status, text);
        } catch (error) {
          // The spec gives some error answers no schema (GET /issues 4XX): nothing to check there.
          if (!String(error).includes('has no JSON response for status')) violations.push(`${brief}\n${String(error).slice(0, 500)}`);
        }
      }
      if (response.status === 404 && text.includes(`Not found: ${op.method} `)) unrouted.add(`${op.method} ${op.template}`);
    }
    console.log(`fuzz: ${sent} requests over ${ops.length} operations in ${Date.now() - startMs} ms, 5xx: ${serverErrors.length}, spec violations: ${violations.length}`);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    console.log(`fuzz: spec operations the node does not route: ${[...unrouted].sort().join(', ') || 'none'}`);
    if (violations.length > 0) console.log(`fuzz spec violations by operation: ${JSON.stringify(countBy(violations))}`);
    expect(violations.slice(0, 5)).toEqual([]);
    expect(server.process.exitCode).toBeNull();
    const near = resultOf<{ points: { id: number; score: number }[] }>(await call(server.url, 'POST', '/collections/keep/points/query', { query: [10.2, 1, 0, 0], limit: 3 }));
    expect(near.points.map((p) => p.id)).toEqual([10, 11, 9]);
    expect(near.points[0]?.score).toBeCloseTo(0.2, 4);
    expect(resultOf<{ count: number }>(await call(server.url, 'POST', '/collections/keep/points/count', { exact: true })).count).toBe(50);
    expect(unexpectedErrors(server.output())).toEqual([]);
  }, 120_000);
});

/** How many violations each "METHOD path -> status" produced, for the log. */
function countBy(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) {
    const key = /^(\S+ \S+) .*?-> (\d+)/s.exec(line);
    const label = key === null ? line.slice(0, 60) : `${key[1]} -> ${key[2]}`;
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}
