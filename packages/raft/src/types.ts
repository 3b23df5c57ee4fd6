import { assert } from '@shoal/common';

/**
 * Branded numbers, made only by the checking functions below, so a term can never be passed
 * where an index is expected. All three are exact integers below 2^53 (JSON and JS clients keep
 * them exactly).
 */
export type PeerId = number & { readonly __brand: 'PeerId' };
export type Term = number & { readonly __brand: 'Term' };
export type LogIndex = number & { readonly __brand: 'LogIndex' };

const LIMIT = 2 ** 53;

/** A peer id: an integer in [1, 2^53). 0 is never an id (protobuf's "unset"). */
export function peerId(n: number): PeerId {
  assert(Number.isSafeInteger(n) && n >= 1 && n < LIMIT, `bad peer id ${n}`);
  return n as PeerId;
}

export function term(n: number): Term {
  assert(Number.isSafeInteger(n) && n >= 0, `bad term ${n}`);
  return n as Term;
}

export function logIndex(n: number): LogIndex {
  assert(Number.isSafeInteger(n) && n >= 0, `bad log index ${n}`);
  return n as LogIndex;
}

export function isPeerId(n: number): n is PeerId {
  return Number.isSafeInteger(n) && n >= 1 && n < LIMIT;
}

export function maxIndex(a: LogIndex, b: LogIndex): LogIndex {
  return a > b ? a : b;
}

export function minIndex(a: LogIndex, b: LogIndex): LogIndex {
  return a < b ? a : b;
}

/** Ascending numeric order for ids (Array.prototype.sort is lexicographic by default). */
export function byId(a: PeerId, b: PeerId): number {
  return a - b;
}
