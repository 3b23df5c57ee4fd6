// Payload key paths as Qdrant spells them: `a`, `a.b`, `a[].b` (every element of an array),
// `a[2].b` (one element), `"a.b"` (a quoted key containing dots). Reading follows Qdrant: a key
// step only descends into objects (it never flattens arrays implicitly), and the leaf value is
// returned as is, so a leaf array is one value whose elements the conditions look into.
import { ShoalError } from '@shoal/common';
import type { JsonObject, JsonValue } from '@shoal/common';
import { cloneJson, setOwn } from './json.js';

export type PathStep =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'all' };

export interface JsonPath {
  readonly first: string;
  readonly rest: readonly PathStep[];
}

const RAW_KEY = /^[\p{L}\p{N}_-]+/u;
const INDEX = /^\[(\d+)\]/;
const PATH_INDEX_MAX = 1_000_000;

/** Parse a key path; throws ShoalError('bad_request') naming the key when it is malformed. */
export function parseJsonPath(text: string): JsonPath {
  let rest = text;
  const takeKey = (): string | null => {
    if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close < 0 || rest.slice(1, close).includes('\\')) return null;
      const key = rest.slice(1, close);
      rest = rest.slice(close + 1);
      return key;
    }
    const match = RAW_KEY.exec(rest);
    if (match === null) return null;
    rest = rest.slice(match[0].length);
    return match[0];
  };
  const first = takeKey();
  if (first === null) throw badPath(text);
  const steps: PathStep[] = [];
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      const key = takeKey();
      if (key === null) throw badPath(text);
      steps.push({ kind: 'key', key });
    } else if (rest.startsWith('[]')) {
      rest = rest.slice(2);
      steps.push({ kind: 'all' });
    } else {
      const match = INDEX.exec(rest);
      const index = match === null ? NaN : Number(match[1]);
      if (match === null || !(index <= PATH_INDEX_MAX)) throw badPath(text);
      rest = rest.slice(match[0].length);
      steps.push({ kind: 'index', index });
    }
  }
  return { first, rest: steps };
}

function badPath(text: string): ShoalError {
  return new ShoalError('bad_request', `Wrong input: invalid payload key path: ${JSON.stringify(text)}`);
}

/** The same path with `[]` appended: the elements of the array the path names. */
export function pathElements(path: JsonPath): JsonPath {
  return { first: path.first, rest: [...path.rest, { kind: 'all' }] };
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/** Every value the path reaches (none when it reaches nothing). */
export function getValues(payload: JsonObject, path: JsonPath): JsonValue[] {
  const out: JsonValue[] = [];
  const start = own(payload, path.first);
  if (start !== undefined) collect(start, path.rest, 0, out);
  return out;
}

function collect(value: JsonValue, steps: readonly PathStep[], at: number, out: JsonValue[]): void {
  const step = steps[at];
  if (step === undefined) {
    out.push(value);
    return;
  }
  if (step.kind === 'key') {
    if (!isObject(value)) return;
    const next = own(value, step.key);
    if (next !== undefined) collect(next, steps, at + 1, out);
  } else if (Array.isArray(value)) {
    if (step.kind === 'index') {
      const next = value[step.index];
      if (next !== undefined) collect(next, steps, at + 1, out);
    } else {
      for (const element of value) collect(element, steps, at + 1, out);
    }
  }
}

/**
 * Merge `source` into the object at `path` inside `target` (mutates target), creating what is
 * missing as Qdrant does: a key step turns a non-object into an object, an index step turns a
 * non-array into an array padded with nulls, `[]` applies to every element (a non-array becomes
 * []). A null in `source` removes that key (Qdrant's merge rule).
 */
export function setAtPath(target: JsonObject, path: JsonPath | null, source: JsonObject): void {
  if (path === null) {
    mergeInto(target, source);
    return;
  }
  const current = own(target, path.first);
  setOwn(target, path.first, setValue(current === undefined ? null : current, path.rest, 0, source));
}

function setValue(dest: JsonValue, steps: readonly PathStep[], at: number, source: JsonObject): JsonValue {
  const step = steps[at];
  if (step === undefined) {
    const object = isObject(dest) ? dest : {};
    mergeInto(object, source);
    return object;
  }
  if (step.kind === 'key') {
    const object = isObject(dest) ? dest : {};
    const current = own(object, step.key);
    setOwn(object, step.key, setValue(current === undefined ? null : current, steps, at + 1, source));
    return object;
  }
  if (step.kind === 'index') {
    const array = Array.isArray(dest) ? dest : [];
    while (array.length <= step.index) array.push(null);
    array[step.index] = setValue(array[step.index] as JsonValue, steps, at + 1, source);
    return array;
  }
  if (!Array.isArray(dest)) return [];
  for (let i = 0; i < dest.length; i++) dest[i] = setValue(dest[i] as JsonValue, steps, at + 1, source);
  return dest;
}

function mergeInto(target: JsonObject, source: JsonObject): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === null) delete target[key];
    else setOwn(target, key, cloneJson(value));
  }
}

/** Remove what the path names from `target` (mutates it); a missing path is a no-op. */
export function removeAtPath(target: JsonObject, path: JsonPath): void {
  const head = path.rest[0];
  if (head === undefined) {
    delete target[path.first];
    return;
  }
  const start = own(target, path.first);
  if (start !== undefined) removeValue(start, path.rest, 0);
}

function removeValue(value: JsonValue, steps: readonly PathStep[], at: number): void {
  const step = steps[at];
  if (step === undefined) return;
  const last = at === steps.length - 1;
  if (step.kind === 'key') {
    if (!isObject(value)) return;
    if (last) delete value[step.key];
    else {
      const next = own(value, step.key);
      if (next !== undefined) removeValue(next, steps, at + 1);
    }
  } else if (Array.isArray(value)) {
    if (step.kind === 'index') {
      if (step.index >= value.length) return;
      if (last) value.splice(step.index, 1);
      else removeValue(value[step.index] as JsonValue, steps, at + 1);
    } else if (last) {
      value.length = 0;
    } else {
      for (const element of value) removeValue(element, steps, at + 1);
    }
  }
}

/**
 * The part of `payload` the paths select, keeping its shape (`a.b` gives `{a: {b: …}}`,
 * `a[].b` gives `{a: [{b: …}, …]}`). Used for with_payload include lists.
 */
export function projectPayload(payload: JsonObject, paths: readonly JsonPath[]): JsonObject {
  const out: JsonObject = {};
  for (const path of paths) {
    const value = own(payload, path.first);
    if (value === undefined) continue;
    const picked = project(value, path.rest, 0);
    if (picked === undefined) continue;
    const existing = own(out, path.first);
    setOwn(out, path.first, existing === undefined ? picked : mergeProjected(existing, picked));
  }
  return out;
}

function project(value: JsonValue, steps: readonly PathStep[], at: number): JsonValue | undefined {
  const step = steps[at];
  if (step === undefined) return cloneJson(value);
  if (step.kind === 'key') {
    if (!isObject(value)) return undefined;
    const next = own(value, step.key);
    if (next === undefined) return undefined;
    const picked = project(next, steps, at + 1);
    if (picked === undefined) return undefined;
    const out: JsonObject = {};
    setOwn(out, step.key, picked);
    return out;
  }
  if (!Array.isArray(value)) return undefined;
  if (step.kind === 'index') {
    const next = value[step.index];
    if (next === undefined) return undefined;
    const picked = project(next, steps, at + 1);
    return picked === undefined ? undefined : [picked];
  }
  const out: JsonValue[] = [];
  for (const element of value) {
    const picked = project(element, steps, at + 1);
    if (picked !== undefined) out.push(picked);
  }
  return out;
}

function mergeProjected(a: JsonValue, b: JsonValue): JsonValue {
  if (isObject(a) && isObject(b)) {
    const out: JsonObject = { ...a };
    for (const [key, value] of Object.entries(b)) {
      const existing = own(out, key);
      setOwn(out, key, existing === undefined ? value : mergeProjected(existing, value));
    }
    return out;
  }
  return b;
}
