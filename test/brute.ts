// An independent, deliberately naive model of Qdrant's filter and scoring semantics, used to check
// what the server answers. It shares no code with the server.
import { Rand } from './support.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Payload = { [key: string]: Json };
export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';

export interface TestPoint {
  readonly id: number;
  readonly payload: Payload;
  readonly vectors: { [name: string]: number[] };
}

/** Named vectors of the search collection: one per distance. */
export const SPACES: { readonly [name: string]: { readonly size: number; readonly distance: Distance } } = {
  cos: { size: 6, distance: 'Cosine' },
  dot: { size: 5, distance: 'Dot' },
  euc: { size: 4, distance: 'Euclid' },
  man: { size: 3, distance: 'Manhattan' },
};

export const CITIES = ['Berlin', 'Paris', 'Rome', 'Oslo', 'Lisbon', 'Vienna'];
export const COLORS = ['red', 'green', 'blue', 'black'];
export const TAGS = ['t1', 't2', 't3', 't4', 't5'];
// Whole words, none a substring of another, so substring and token matching agree.
export const WORDS = ['apple', 'river', 'stone', 'cloud', 'tiger', 'mango', 'piano', 'quartz'];
export const ITEM_KINDS = ['x', 'y', 'z'];

const DAY_MS = 86_400_000;
const YEAR_START_MS = Date.UTC(2024, 0, 1);

/** RFC 3339 with either Z or a +02:00 offset (same instant). */
function datetimeText(rand: Rand, ms: number): string {
  if (rand.chance(0.5)) return new Date(ms).toISOString().replace('.000Z', 'Z');
  const shifted = new Date(ms + 2 * 3_600_000).toISOString().replace('.000Z', '');
  return `${shifted}+02:00`;
}

function makePayload(rand: Rand, rank: number): Payload {
  const p: Payload = { rank, color: rand.pick(COLORS) };
  const cityRoll = rand.next();
  if (cityRoll < 0.6) p['city'] = rand.pick(CITIES);
  else if (cityRoll < 0.9) p['city'] = rand.sample(CITIES, 2);
  const countRoll = rand.next();
  if (countRoll < 0.8) p['count'] = rand.int(0, 49);
  else if (countRoll < 0.95) p['count'] = rand.sample([...Array(50).keys()], 2);
  if (rand.chance(0.9)) p['price'] = Math.round(rand.next() * 10_000) / 100;
  if (rand.chance(0.9)) p['flag'] = rand.chance(0.5);
  if (rand.chance(0.9)) p['ts'] = datetimeText(rand, YEAR_START_MS + Math.floor(rand.next() * 365 * DAY_MS));
  if (rand.chance(0.9)) p['loc'] = { lon: Math.round((rand.next() * 40 - 10) * 1e4) / 1e4, lat: Math.round((35 + rand.next() * 25) * 1e4) / 1e4 };
  p['text'] = Array.from({ length: rand.int(2, 5) }, () => rand.pick(WORDS)).join(' ');
  p['tags'] = rand.sample(TAGS, rand.int(1, 4));
  const maybeRoll = rand.int(0, 4);
  if (maybeRoll === 1) p['maybe'] = null;
  else if (maybeRoll === 2) p['maybe'] = [];
  else if (maybeRoll === 3) p['maybe'] = 'x';
  else if (maybeRoll === 4) p['maybe'] = ['y', 'z'];
  p['meta'] = { a: { b: rand.int(0, 9) }, c: rand.pick(COLORS) };
  p['items'] = Array.from({ length: rand.int(0, 3) }, () => ({ k: rand.pick(ITEM_KINDS), v: rand.int(0, 20) }));
  return p;
}

/** `count` seeded points with ids 1, 4, 7, …; about one in six lacks the `man` vector. */
export function makePoints(seed: number, count: number): TestPoint[] {
  const rand = new Rand(seed);
  const ranks = rand.sample([...Array(count * 10).keys()], count);
  const points: TestPoint[] = [];
  for (let i = 0; i < count; i++) {
    const vectors: { [name: string]: number[] } = {};
    for (const [name, space] of Object.entries(SPACES)) {
      if (name === 'man' && rand.chance(1 / 6)) continue;
      vectors[name] = rand.vector(space.size);
    }
    points.push({ id: i * 3 + 1, payload: makePayload(rand, ranks[i] ?? i), vectors });
  }
  return points;
}

// ---------------------------------------------------------------- paths and values

interface PathStep {
  readonly key: string;
  readonly each: boolean;
}

function parsePath(path: string): PathStep[] {
  return path.split('.').map((part) => (part.endsWith('[]') ? { key: part.slice(0, -2), each: true } : { key: part, each: false }));
}

/** The raw values a key path reaches (before flattening the last array). */
export function rawValues(payload: Json, path: string): Json[] {
  let current: Json[] = [payload];
  for (const step of parsePath(path)) {
    const next: Json[] = [];
    for (const value of current) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
      const child = value[step.key];
      if (child === undefined) continue;
      if (step.each) {
        if (Array.isArray(child)) next.push(...child);
      } else {
        next.push(child);
      }
    }
    current = next;
  }
  return current;
}

/** The values at a path, a final array counting as its elements. */
export function valuesAt(payload: Json, path: string): Json[] {
  return rawValues(payload, path).flatMap((v) => (Array.isArray(v) ? v : [v]));
}

// ---------------------------------------------------------------- filters

export type Filter = {
  must?: Condition[] | Condition | null;
  should?: Condition[] | Condition | null;
  must_not?: Condition[] | Condition | null;
  min_should?: { conditions: Condition[]; min_count: number } | null;
};
export type Condition = Filter | { [key: string]: unknown };

function asList(c: Condition[] | Condition | null | undefined): Condition[] {
  if (c === null || c === undefined) return [];
  return Array.isArray(c) ? c : [c];
}

type Subject = { readonly id: number | null; readonly payload: Json; readonly vectors: { [name: string]: number[] } };

export function matchesFilter(filter: Filter, subject: Subject): boolean {
  const test = (c: Condition): boolean => matchesCondition(c, subject);
  if (!asList(filter.must).every(test)) return false;
  const should = asList(filter.should);
  if (should.length > 0 && !should.some(test)) return false;
  if (asList(filter.must_not).some(test)) return false;
  if (filter.min_should) {
    const hits = filter.min_should.conditions.filter(test).length;
    if (hits < filter.min_should.min_count) return false;
  }
  return true;
}

function field<T>(c: { [key: string]: unknown }, name: string): T {
  return c[name] as T;
}

function matchesCondition(c: Condition, s: Subject): boolean {
  const cond = c as { [key: string]: unknown };
  if ('must' in cond || 'should' in cond || 'must_not' in cond || 'min_should' in cond) return matchesFilter(cond as Filter, s);
  if ('has_id' in cond) return s.id !== null && field<number[]>(cond, 'has_id').includes(s.id);
  if ('has_vector' in cond) return s.vectors[field<string>(cond, 'has_vector')] !== undefined;
  if ('is_empty' in cond) {
    const values = valuesAt(s.payload, field<{ key: string }>(cond, 'is_empty').key);
    return values.every((v) => v === null);
  }
  if ('is_null' in cond) return rawValues(s.payload, field<{ key: string }>(cond, 'is_null').key).some((v) => v === null);
  if ('nested' in cond) {
    const nested = field<{ key: string; filter: Filter }>(cond, 'nested');
    return valuesAt(s.payload, nested.key).some((element) => matchesFilter(nested.filter, { id: null, payload: element, vectors: {} }));
  }
  return matchesField(cond, valuesAt(s.payload, field<string>(cond, 'key')));
}

function matchesField(cond: { [key: string]: unknown }, values: Json[]): boolean {
  if ('values_count' in cond) return checkRange(field<Range>(cond, 'values_count'), values.length);
  return values.some((v) => matchesValue(cond, v));
}

type Range = { gt?: number | string; gte?: number | string; lt?: number | string; lte?: number | string };

function checkRange(range: Range, x: number): boolean {
  const bound = (b: number | string | undefined): number | undefined => (typeof b === 'string' ? Date.parse(b) : b);
  const gt = bound(range.gt), gte = bound(range.gte), lt = bound(range.lt), lte = bound(range.lte);
  return (gt === undefined || x > gt) && (gte === undefined || x >= gte) && (lt === undefined || x < lt) && (lte === undefined || x <= lte);
}

function isDatetimeRange(range: Range): boolean {
  return [range.gt, range.gte, range.lt, range.lte].some((b) => typeof b === 'string');
}

function matchesValue(cond: { [key: string]: unknown }, v: Json): boolean {
  if ('match' in cond) return matchesMatch(field<{ [key: string]: unknown }>(cond, 'match'), v);
  if ('range' in cond) {
    const range = field<Range>(cond, 'range');
    if (isDatetimeRange(range)) return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && checkRange(range, Date.parse(v));
    return typeof v === 'number' && checkRange(range, v);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof v['lon'] !== 'number' || typeof v['lat'] !== 'number') return false;
  const point = { lon: v['lon'], lat: v['lat'] };
  if ('geo_bounding_box' in cond) {
    const box = field<{ top_left: GeoPoint; bottom_right: GeoPoint }>(cond, 'geo_bounding_box');
    return point.lon >= box.top_left.lon && point.lon <= box.bottom_right.lon && point.lat <= box.top_left.lat && point.lat >= box.bottom_right.lat;
  }
  if ('geo_radius' in cond) {
    const radius = field<{ center: GeoPoint; radius: number }>(cond, 'geo_radius');
    return haversineMeters(point, radius.center) < radius.radius;
  }
  if ('geo_polygon' in cond) return insidePolygon(point, field<{ exterior: { points: GeoPoint[] } }>(cond, 'geo_polygon').exterior.points);
  throw new Error(`brute force does not know condition ${JSON.stringify(cond)}`);
}

function matchesMatch(m: { [key: string]: unknown }, v: Json): boolean {
  if ('value' in m) return m['value'] === v;
  if ('any' in m) return (m['any'] as Json[]).includes(v);
  if ('except' in m) return (typeof v === 'string' || typeof v === 'number') && !(m['except'] as Json[]).includes(v);
  if ('text' in m) return typeof v === 'string' && v.includes(m['text'] as string);
  throw new Error(`brute force does not know match ${JSON.stringify(m)}`);
}

export interface GeoPoint {
  readonly lon: number;
  readonly lat: number;
}

export function haversineMeters(a: GeoPoint, b: GeoPoint): number {
  const r = 6_371_000;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

function insidePolygon(p: GeoPoint, ring: GeoPoint[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i] as GeoPoint, b = ring[j] as GeoPoint;
    if (a.lat > p.lat !== b.lat > p.lat && p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) inside = !inside;
  }
  return inside;
}

export function filterIds(points: readonly TestPoint[], filter: Filter | undefined): number[] {
  return points.filter((p) => filter === undefined || matchesFilter(filter, p)).map((p) => p.id);
}

// ---------------------------------------------------------------- scoring

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

export function score(distance: Distance, a: readonly number[], b: readonly number[]): number {
  let s = 0;
  switch (distance) {
    case 'Cosine': {
      const na = norm(a) || 1, nb = norm(b) || 1;
      for (let i = 0; i < a.length; i++) s += ((a[i] ?? 0) / na) * ((b[i] ?? 0) / nb);
      return s;
    }
    case 'Dot':
      for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
      return s;
    case 'Euclid':
      for (let i = 0; i < a.length; i++) s += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
      return Math.sqrt(s);
    case 'Manhattan':
      for (let i = 0; i < a.length; i++) s += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
      return s;
  }
}

/** Larger is better for Cosine and Dot; smaller for the two distances. */
export function higherIsBetter(distance: Distance): boolean {
  return distance === 'Cosine' || distance === 'Dot';
}

export interface Scored {
  readonly id: number;
  readonly score: number;
}

/** Every matching point with a vector of that name, best first. */
export function rank(points: readonly TestPoint[], name: string, query: readonly number[], filter?: Filter, excludeId?: number): Scored[] {
  const distance = (SPACES[name] as { distance: Distance }).distance;
  const scored: Scored[] = [];
  for (const p of points) {
    const v = p.vectors[name];
    if (v === undefined || p.id === excludeId || (filter !== undefined && !matchesFilter(filter, p))) continue;
    scored.push({ id: p.id, score: score(distance, query, v) });
  }
  return scored.sort((a, b) => (higherIsBetter(distance) ? b.score - a.score : a.score - b.score));
}

/** Tolerance for comparing float32 scores computed by the server with float64 ones. */
export function scoreTolerance(expected: number): number {
  return 1e-4 * Math.max(1, Math.abs(expected));
}

export interface RankingMismatch {
  readonly position: number;
  readonly detail: string;
}

/**
 * Differences between a result page and the brute-force ranking (empty when they agree). Equal
 * scores may come in any order, so positions are compared by score and ids by their own score.
 */
export function rankingMismatches(got: readonly { id: number | string; score: number }[], expected: readonly Scored[], limit: number, offset = 0): RankingMismatch[] {
  const want = expected.slice(offset, offset + limit);
  const out: RankingMismatch[] = [];
  if (got.length !== want.length) out.push({ position: -1, detail: `length ${got.length}, expected ${want.length}` });
  const truth = new Map(expected.map((s) => [s.id, s.score]));
  const seen = new Set<number | string>();
  got.forEach((g, i) => {
    if (seen.has(g.id)) out.push({ position: i, detail: `id ${g.id} returned twice` });
    seen.add(g.id);
    const own = truth.get(Number(g.id));
    if (own === undefined) out.push({ position: i, detail: `id ${g.id} should not be in the result` });
    else if (Math.abs(own - g.score) > scoreTolerance(own)) out.push({ position: i, detail: `id ${g.id} score ${g.score}, expected ${own}` });
    const slot = want[i];
    if (slot !== undefined && Math.abs(slot.score - g.score) > scoreTolerance(slot.score)) {
      out.push({ position: i, detail: `score ${g.score} at this position, expected ${slot.score} (id ${slot.id})` });
    }
  });
  return out;
}
