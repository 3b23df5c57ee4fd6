// Peer and shard ids. Qdrant's peer ids are u64: above 2^53 a JSON number loses digits, so a
// peer id is kept as its decimal text and written back as an exact integer.
import { InvalidArgumentError } from 'commander';

export type PeerId = string & { readonly __brand: 'PeerId' };

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 2 ** 32 - 1;

/** A peer id from JSON (number or bigint from the exact decoder), or null when it is not a u64. */
export function peerIdFromJson(value: unknown): PeerId | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? (String(value) as PeerId) : null;
  if (typeof value === 'bigint') return value >= 0n && value <= U64_MAX ? (value.toString() as PeerId) : null;
  return null;
}

/** A peer id from text (a map key of GET /cluster, a command-line argument), or null. */
export function peerIdFromText(text: string): PeerId | null {
  if (!/^\d{1,20}$/.test(text)) return null;
  const value = BigInt(text);
  return value <= U64_MAX ? (value.toString() as PeerId) : null;
}

/** The id as JSON writes it: a number while exact, a bigint (bare digits via encodeJson) beyond. */
export function peerIdToJson(id: PeerId): number | bigint {
  const value = BigInt(id);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Numeric order of two peer ids (their text has no leading zeros). */
export function comparePeerIds(a: PeerId, b: PeerId): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** commander argument parser for a peer id. */
export function peerIdArg(text: string): PeerId {
  const id = peerIdFromText(text);
  if (id === null) throw new InvalidArgumentError(`a peer id is an integer in [0, 2^64), got '${text}'`);
  return id;
}

/** commander argument parser for a shard id (u32). */
export function shardIdArg(text: string): number {
  const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value <= U32_MAX)) throw new InvalidArgumentError(`a shard id is an integer in [0, 2^32), got '${text}'`);
  return value;
}

/** commander parser for a positive integer option (shard counts, replication factors). */
export function positiveIntArg(text: string): number {
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1)) throw new InvalidArgumentError(`expected a positive integer, got '${text}'`);
  return value;
}

/** commander parser for a duration in seconds (may be fractional). */
export function secondsArg(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError(`expected a positive number of seconds, got '${text}'`);
  return value;
}

/** commander parser for a comma-separated list of peer ids. */
export function peerListArg(text: string): PeerId[] {
  return text.split(',').map((part) => peerIdArg(part.trim()));
}
