// JSON helpers for payloads that are not the codec (the codec is encodeJson / decodeJson in
// @shoal/common): own-property writes, deep copies, size estimates.
import type { JsonObject, JsonValue } from '@shoal/common';

/** Set an own property, even one named `__proto__` (plain assignment would change the prototype). */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** A deep copy (payloads are stored by value; nothing outside the segment may alias them). */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) setOwn(out, key, cloneJson(inner));
  return out as T;
}

/** Rough size in bytes of a value as JSON, for stats; no allocation. */
export function approxJsonBytes(value: JsonValue): number {
  if (value === null) return 4;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 5;
    default:
      break;
  }
  let total = 2;
  if (Array.isArray(value)) {
    for (const inner of value) total += approxJsonBytes(inner) + 1;
    return total;
  }
  for (const key in value) total += key.length + 4 + approxJsonBytes(value[key] as JsonValue);
  return total;
}
