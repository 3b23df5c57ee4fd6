// The filtered-search part of the benchmark: payload fields, their values per point, and the
// exact filtered ground truth (cached under .cache/bench/ like the datasets).
//
// Four keyword fields, one per selectivity: `s1` has 100 values (each held by ~1% of the points),
// `s5` 20, `s10` 10, `s50` 2. Values are drawn from a seeded generator independently of the
// vectors, so a value's points are spread over the whole space (the hard case for a graph walk).
// Query q filters on value q mod V of the field.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { seededRng } from '../../packages/common/dist/index.js';
import { CACHE, K, exactScore, readF32 } from './data.mjs';

/** Bumped whenever the fields or values change, so stale truth is not reused. */
const FORMAT = 'f1';

export const FIELDS = [
  { name: 's1', values: 100, label: '1%' },
  { name: 's5', values: 20, label: '5%' },
  { name: 's10', values: 10, label: '10%' },
  { name: 's50', values: 2, label: '50%' },
];

/** valueOf[f][i]: the value (0..V-1) of field f at point i. */
export function fieldValues(n) {
  return FIELDS.map((field, f) => {
    const rng = seededRng(9000 + f);
    return Uint8Array.from({ length: n }, () => Math.floor(rng.next() * field.values));
  });
}

/** The value query q filters on, in field f. */
export const queryValue = (f, q) => q % FIELDS[f].values;

/** Point ids of each value of each field, ascending: ids[f][v]. */
export function valueIds(values) {
  return values.map((column, f) => {
    const lists = Array.from({ length: FIELDS[f].values }, () => []);
    column.forEach((v, id) => lists[v].push(id));
    return lists.map((ids) => Uint32Array.from(ids));
  });
}

function truthPath(spec) {
  return join(CACHE, `${spec.key}.filtered-${FORMAT}.bin`);
}

/**
 * Per field and query, the K best scores among the points of the query's value (exact f64), so
 * that a returned id counts when its exact score reaches the K-th (ties at rank K are hits).
 * Returns kth[f][q].
 */
export function filteredTruth(spec, log = () => {}) {
  const path = truthPath(spec);
  if (existsSync(path)) {
    const buf = readFileSync(path);
    const all = new Float64Array(new Uint8Array(buf).buffer);
    return FIELDS.map((_, f) => all.subarray(f * spec.q, (f + 1) * spec.q));
  }
  const started = performance.now();
  const base = readF32(spec.base);
  const queries = readF32(spec.queries);
  const ids = valueIds(fieldValues(spec.n));
  const out = new Float64Array(FIELDS.length * spec.q);
  const top = new Float64Array(K);
  FIELDS.forEach((_, f) => {
    for (let q = 0; q < spec.q; q++) {
      top.fill(-Infinity);
      for (const id of ids[f][queryValue(f, q)]) {
        const s = exactScore(base, id, queries, q * spec.dim, spec.dim, spec.metric);
        if (s <= top[K - 1]) continue;
        let i = K - 1;
        while (i > 0 && top[i - 1] < s) { top[i] = top[i - 1]; i--; }
        top[i] = s;
      }
      out[f * spec.q + q] = top[K - 1];
    }
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp-${process.pid}`, new Uint8Array(out.buffer));
  renameSync(`${path}.tmp-${process.pid}`, path);
  log(`${spec.key}: exact filtered ground truth (f64) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return FIELDS.map((_, f) => out.subarray(f * spec.q, (f + 1) * spec.q));
}
