import type { PointId } from './model.js';

const U64_MAX = (1n << 64n) - 1n;
const UUID_HEX = /^[0-9a-f]{32}$/;

/**
 * A point id from a JSON value: a non-negative integer (number or bigint up to 2^64 - 1) or a
 * UUID in any standard spelling (hyphenated, simple, braced, urn:uuid:). Returns null when the
 * value is not a valid id.
 */
export function parsePointId(value: unknown): PointId | null {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : null;
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) return null;
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (typeof value === 'string') return canonicalUuid(value);
  return null;
}

/** The canonical form (lowercase, hyphenated) of a UUID string, or null if it is not one. */
export function canonicalUuid(text: string): string | null {
  let s = text.trim().toLowerCase();
  if (s.startsWith('urn:uuid:')) s = s.slice(9);
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  let hex: string;
  if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return null;
    hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  } else if (s.length === 32) {
    hex = s;
  } else {
    return null;
  }
  if (!UUID_HEX.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A key for Maps and Sets: distinct ids give distinct keys. Safe integers stay numbers (fast);
 * big integers become 'n' + decimal, which cannot collide with a canonical UUID.
 */
export type PointKey = number | string;
export function pointKey(id: PointId): PointKey {
  return typeof id === 'bigint' ? `n${id}` : id;
}

export function pointIdFromKey(key: PointKey): PointId {
  if (typeof key === 'number') return key;
  return key.startsWith('n') ? BigInt(key.slice(1)) : key;
}

/** Qdrant's order: integers ascending, then UUIDs by their 128-bit value. */
export function comparePointIds(a: PointId, b: PointId): number {
  const aUuid = typeof a === 'string';
  const bUuid = typeof b === 'string';
  if (aUuid !== bUuid) return aUuid ? 1 : -1;
  if (aUuid) return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  // both integers; compare as numbers when both are safe
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = BigInt(a);
  const y = BigInt(b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function pointIdToString(id: PointId): string {
  return typeof id === 'string' ? id : id.toString();
}
