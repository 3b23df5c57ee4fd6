// Bodies of the Points service's calls (proto/p2p.proto): what a coordinator sends a shard
// replica on another peer and what it answers. Writes travel in the shard WAL's record format
// (vectors as raw float32); reads and answers as lossless JSON, whose numbers carry float32
// values exactly (every float32 is a double, and JSON writes doubles in round-trip form).
import {
  ShoalError,
  decodeJson,
  encodeJson,
  type FacetHit,
  type Filter,
  type NamedVectors,
  type PayloadIndexParams,
  type PointId,
  type PointOperation,
  type Record_,
  type ScoredPoint,
  type WithPayload,
  type WithVector,
} from '@shoal/common';
import type { ApplyResult, FacetParams, OrderedRecord, OrderedScrollParams, PayloadIndexInfo, ScrollPage, ScrollParams, SearchParams } from '@shoal/segment';
import type { ClockTag as WireClockTag } from '@shoal/consensus';
import { decodeRecord, encodeOperation, type ClockTag } from '@shoal/shard';
import type { LeadOrdering, ReplicaInfo } from './shard-replica.js';

const utf8 = new TextEncoder();
const utf8Decode = new TextDecoder('utf-8', { fatal: true });

function toBytes(value: unknown): Uint8Array {
  return utf8.encode(encodeJson(value).text);
}

/** Bytes from a peer: malformed ones are that peer's failure, reported as unavailable. */
function fromBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeJson(utf8Decode.decode(bytes), { errorKind: 'storage' });
  } catch (cause) {
    throw new ShoalError('unavailable', `malformed ${what} from a peer`, { cause });
  }
}

// ----- writes

/** A clock tag as ShardRequest.clock_tag carries it. */
export function clockTagToWire(tag: ClockTag | null): WireClockTag | null {
  return tag === null ? null : { peerId: tag.peer, epoch: tag.epoch, clockId: tag.clock, clockTick: tag.tick };
}

export function clockTagFromWire(tag: WireClockTag | null): ClockTag | null {
  return tag === null ? null : { peer: tag.peerId, epoch: tag.epoch, clock: tag.clockId, tick: tag.clockTick };
}

export interface UpdateCall {
  readonly lead: LeadOrdering | null;
  /** A led write's budget on the leader, ms (the caller's remaining time, less a margin for the answer). */
  readonly leadTimeoutMs: number | null;
  readonly op: PointOperation;
}

/** u32 LE header length, the header JSON, then the operation as a shard WAL record. */
export function encodeUpdate(call: UpdateCall): Uint8Array {
  const header = utf8.encode(JSON.stringify({ lead: call.lead, leadTimeoutMs: call.leadTimeoutMs }));
  const op = encodeOperation(call.op);
  const out = new Uint8Array(4 + header.length + op.length);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  out.set(op, 4 + header.length);
  return out;
}

export function decodeUpdate(bytes: Uint8Array): UpdateCall {
  if (bytes.length < 4) throw new ShoalError('bad_request', 'malformed update call');
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + length > bytes.length) throw new ShoalError('bad_request', 'malformed update call');
  const header = JSON.parse(utf8Decode.decode(bytes.subarray(4, 4 + length))) as { lead?: unknown; leadTimeoutMs?: unknown };
  const lead = header.lead === 'medium' || header.lead === 'strong' ? header.lead : null;
  const t = header.leadTimeoutMs;
  const leadTimeoutMs = typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : null;
  return { lead, leadTimeoutMs, op: decodeRecord(bytes.slice(4 + length)).op };
}

export const encodeApplyResult = (result: ApplyResult): Uint8Array => toBytes(result);
export const decodeApplyResult = (bytes: Uint8Array): ApplyResult => fromBytes(bytes, 'update result') as ApplyResult;

// ----- reads

type WireVectors = Array<[string, number[]]> | null;

interface WireRecord {
  id: PointId;
  payload: Record_['payload'];
  vectors: WireVectors;
  score?: number;
  orderValue?: number;
}

function vectorsToWire(vectors: NamedVectors | null): WireVectors {
  return vectors === null ? null : [...vectors].map(([name, v]) => [name, Array.from(v)]);
}

function vectorsFromWire(vectors: WireVectors): NamedVectors | null {
  return vectors === null ? null : new Map(vectors.map(([name, v]) => [name, new Float32Array(v)]));
}

function recordToWire(r: Record_ & { score?: number }): WireRecord {
  const out: WireRecord = { id: r.id, payload: r.payload, vectors: vectorsToWire(r.vectors) };
  if (r.score !== undefined) out.score = r.score;
  if (r.orderValue !== undefined) out.orderValue = r.orderValue;
  return out;
}

function recordFromWire(w: WireRecord): Record_ & { score?: number } {
  const r: Record_ & { score?: number; orderValue?: number } = { id: w.id, payload: w.payload, vectors: vectorsFromWire(w.vectors) };
  if (w.score !== undefined) r.score = w.score;
  if (w.orderValue !== undefined) r.orderValue = w.orderValue;
  return r;
}

export interface RetrieveCall {
  readonly ids: readonly PointId[];
  readonly withPayload: WithPayload;
  readonly withVector: WithVector;
}

export const encodeRetrieve = (call: RetrieveCall): Uint8Array => toBytes(call);
export const decodeRetrieve = (bytes: Uint8Array): RetrieveCall => fromBytes(bytes, 'retrieve call') as RetrieveCall;

export const encodeRecords = (records: readonly Record_[]): Uint8Array => toBytes(records.map(recordToWire));
export const decodeRecords = (bytes: Uint8Array): Record_[] => (fromBytes(bytes, 'records') as WireRecord[]).map(recordFromWire);

export const encodeScored = (points: readonly ScoredPoint[]): Uint8Array => toBytes(points.map(recordToWire));
export const decodeScored = (bytes: Uint8Array): ScoredPoint[] => (fromBytes(bytes, 'search result') as WireRecord[]).map((w) => recordFromWire(w) as ScoredPoint);

export const encodeSearch = (params: SearchParams): Uint8Array => toBytes({ ...params, vector: Array.from(params.vector) });
export function decodeSearch(bytes: Uint8Array): SearchParams {
  const wire = fromBytes(bytes, 'search call') as Omit<SearchParams, 'vector'> & { vector: number[] };
  return { ...wire, vector: new Float32Array(wire.vector) };
}

export type ScrollCall = { readonly ordered: false; readonly params: ScrollParams } | { readonly ordered: true; readonly params: OrderedScrollParams };

export const encodeScroll = (call: ScrollCall): Uint8Array => toBytes(call);
export const decodeScroll = (bytes: Uint8Array): ScrollCall => fromBytes(bytes, 'scroll call') as ScrollCall;

export const encodeScrollPage = (page: ScrollPage): Uint8Array => toBytes({ points: page.points.map(recordToWire), nextOffset: page.nextOffset });
export function decodeScrollPage(bytes: Uint8Array): ScrollPage {
  const wire = fromBytes(bytes, 'scroll page') as { points: WireRecord[]; nextOffset: PointId | null };
  return { points: wire.points.map(recordFromWire), nextOffset: wire.nextOffset };
}

export const encodeOrdered = (records: readonly OrderedRecord[]): Uint8Array => toBytes(records.map(recordToWire));
export const decodeOrdered = (bytes: Uint8Array): OrderedRecord[] => (fromBytes(bytes, 'ordered records') as WireRecord[]).map((w) => recordFromWire(w) as OrderedRecord);

export const encodeCount = (filter: Filter | null): Uint8Array => toBytes({ filter });
export const decodeCount = (bytes: Uint8Array): Filter | null => (fromBytes(bytes, 'count call') as { filter: Filter | null }).filter;

export const encodeNumber = (n: number): Uint8Array => toBytes(n);
export function decodeNumber(bytes: Uint8Array): number {
  const n = fromBytes(bytes, 'count');
  if (typeof n !== 'number') throw new ShoalError('unavailable', 'malformed count from a peer');
  return n;
}

export const encodeFacet = (params: FacetParams): Uint8Array => toBytes(params);
export const decodeFacet = (bytes: Uint8Array): FacetParams => fromBytes(bytes, 'facet call') as FacetParams;

export const encodeFacetHits = (hits: readonly FacetHit[]): Uint8Array => toBytes(hits);
export const decodeFacetHits = (bytes: Uint8Array): FacetHit[] => fromBytes(bytes, 'facet hits') as FacetHit[];

export const encodeInfo = (info: ReplicaInfo): Uint8Array => toBytes({ points: info.points, payloadIndexes: [...info.payloadIndexes] });
export function decodeInfo(bytes: Uint8Array): ReplicaInfo {
  const wire = fromBytes(bytes, 'replica info') as { points: number; payloadIndexes: Array<[string, { params: PayloadIndexParams; points: number }]> };
  return { points: wire.points, payloadIndexes: new Map<string, PayloadIndexInfo>(wire.payloadIndexes) };
}

// ----- transfers

export interface TransferBatchCall {
  /** The transfer's id (the index of the entry that started it). */
  readonly transferId: number;
  /**
   * Which run of the transfer on its source sends this (random per run): a source that restarts
   * and runs the same transfer again is refused by a target that heard from the earlier run, so
   * numbering never starts over into a half-filled target.
   */
  readonly run: number;
  /** The number of the first message (1 for the first of a run). */
  readonly firstSeq: number;
  /**
   * Each message: an operation in the shard WAL's record format (its clock tag in it, for a
   * forwarded write), an applied-ticks seed (encodeTicksMessage), or a piece or the end of a
   * shard archive (encodeArchiveMessage, encodeArchiveEndMessage).
   */
  readonly records: readonly Uint8Array[];
}

/**
 * A transfer message: a point operation (with its clock tag; `size` is its encoded length), the
 * source's applied ticks, or (snapshot transfers) a piece of the shard archive and its end.
 */
export type TransferMessage =
  | { readonly kind: 'op'; readonly op: PointOperation; readonly tag: ClockTag | null; readonly size: number }
  | { readonly kind: 'redo'; readonly op: PointOperation; readonly tag: ClockTag | null }
  | { readonly kind: 'ticks'; readonly ticks: readonly ClockTag[] }
  | { readonly kind: 'archive'; readonly bytes: Uint8Array }
  | { readonly kind: 'archive_end'; readonly size: number };

/** First byte of a ticks message: no WAL record format has this number. */
const TICKS_MESSAGE = 0xf1;
/** First byte of a piece of a shard archive (the bytes follow as they are). */
const ARCHIVE_MESSAGE = 0xf2;
/** First byte of the end of a shard archive: JSON {"size": <archive bytes>} follows. */
const ARCHIVE_END_MESSAGE = 0xf3;

/** First byte of a record of the source's WAL sent again (`wal_delta`): the record follows as it is. */
const REDO_MESSAGE = 0xf4;

/** A record of the source's WAL (a `wal_delta` transfer) as a transfer message: the marker byte, then the record. */
export function encodeRedoMessage(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + record.length);
  out[0] = REDO_MESSAGE;
  out.set(record, 1);
  return out;
}

/** A piece of a shard archive as a transfer message: the marker byte, then the bytes. */
export function encodeArchiveMessage(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = ARCHIVE_MESSAGE;
  out.set(bytes, 1);
  return out;
}

/** The end of a shard archive of `size` bytes (every piece was sent before it). */
export function encodeArchiveEndMessage(size: number): Uint8Array {
  const json = utf8.encode(JSON.stringify({ size }));
  const out = new Uint8Array(1 + json.length);
  out[0] = ARCHIVE_END_MESSAGE;
  out.set(json, 1);
  return out;
}

/** The source's applied-ticks map as a transfer message: the marker byte, then JSON [[peer, epoch, clock, tick], …]. */
export function encodeTicksMessage(ticks: readonly ClockTag[]): Uint8Array {
  const json = encodeTicksReply(ticks);
  const out = new Uint8Array(1 + json.length);
  out[0] = TICKS_MESSAGE;
  out.set(json, 1);
  return out;
}

function decodeTransferMessage(bytes: Uint8Array, malformed: () => ShoalError): TransferMessage {
  if (bytes[0] === ARCHIVE_MESSAGE) return { kind: 'archive', bytes: bytes.subarray(1) };
  if (bytes[0] === REDO_MESSAGE) {
    const { op, tag } = decodeRecord(bytes.subarray(1));
    return { kind: 'redo', op, tag };
  }
  if (bytes[0] === ARCHIVE_END_MESSAGE) {
    let end: unknown;
    try {
      end = JSON.parse(utf8Decode.decode(bytes.subarray(1)));
    } catch {
      throw malformed();
    }
    const size = (end as { size?: unknown } | null)?.size;
    if (!isCount(size)) throw malformed();
    return { kind: 'archive_end', size };
  }
  if (bytes[0] !== TICKS_MESSAGE) {
    const { op, tag } = decodeRecord(bytes);
    return { kind: 'op', op, tag, size: bytes.length };
  }
  return { kind: 'ticks', ticks: decodeTicksJson(bytes.subarray(1), malformed) };
}

function decodeTicksJson(bytes: Uint8Array, malformed: () => ShoalError): ClockTag[] {
  let entries: unknown;
  try {
    entries = JSON.parse(utf8Decode.decode(bytes));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(entries)) throw malformed();
  return entries.map((entry: unknown): ClockTag => {
    if (!Array.isArray(entry) || entry.length !== 4 || !entry.every(isCount)) throw malformed();
    const [peer, epoch, clock, tick] = entry as [number, number, number, number];
    return { peer, epoch, clock, tick };
  });
}

/** A `wal_delta` source asks its target for the applied ticks of its replica: the call names the transfer. */
export function encodeTransferTicksCall(transferId: number): Uint8Array {
  return encodeTransferStatusCall(transferId);
}
export function decodeTransferTicksCall(bytes: Uint8Array): number {
  return decodeTransferStatusCall(bytes);
}

/** The target's applied ticks: JSON [[peer, epoch, clock, tick], …]. */
export const encodeTicksReply = (ticks: readonly ClockTag[]): Uint8Array => utf8.encode(JSON.stringify(ticks.map((t) => [t.peer, t.epoch, t.clock, t.tick])));
export function decodeTicksReply(bytes: Uint8Array): ClockTag[] {
  return decodeTicksJson(bytes, () => new ShoalError('bad_request', 'malformed applied ticks'));
}

/** u32 LE header length, the header JSON, then each message as a u32 LE length and its record. */
export function encodeTransferBatch(call: TransferBatchCall): Uint8Array {
  const header = utf8.encode(JSON.stringify({ transferId: call.transferId, run: call.run, firstSeq: call.firstSeq, count: call.records.length }));
  const size = 4 + header.length + call.records.reduce((n, r) => n + 4 + r.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  for (const record of call.records) {
    view.setUint32(at, record.length, true);
    out.set(record, at + 4);
    at += 4 + record.length;
  }
  return out;
}

export function decodeTransferBatch(bytes: Uint8Array): { readonly transferId: number; readonly run: number; readonly firstSeq: number; readonly messages: TransferMessage[] } {
  const malformed = (): ShoalError => new ShoalError('bad_request', 'malformed transfer batch');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw malformed();
  const length = view.getUint32(0, true);
  if (4 + length > bytes.length) throw malformed();
  let header: { transferId?: unknown; run?: unknown; firstSeq?: unknown; count?: unknown };
  try {
    header = JSON.parse(utf8Decode.decode(bytes.subarray(4, 4 + length))) as typeof header;
  } catch {
    throw malformed();
  }
  const { transferId, run, firstSeq, count } = header;
  if (!isCount(transferId) || !isCount(run) || !isCount(firstSeq) || firstSeq < 1 || !isCount(count)) throw malformed();
  const messages: TransferMessage[] = [];
  let at = 4 + length;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw malformed();
    const size = view.getUint32(at, true);
    if (at + 4 + size > bytes.length) throw malformed();
    messages.push(decodeTransferMessage(bytes.slice(at + 4, at + 4 + size), malformed));
    at += 4 + size;
  }
  if (at !== bytes.length) throw malformed();
  return { transferId, run, firstSeq, messages };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** What a transfer's source reports about it (the leader's watchdog asks). */
export interface TransferStatus {
  /** The transfer runs here. */
  readonly running: boolean;
  /** The metadata index this node has applied. */
  readonly applied: number;
  /** Messages the target acknowledged so far: progress, for the watchdog's stall check. */
  readonly acked: number;
}

export const encodeTransferStatusCall = (transferId: number): Uint8Array => toBytes({ transferId });
export function decodeTransferStatusCall(bytes: Uint8Array): number {
  const wire = fromBytes(bytes, 'transfer status call') as { transferId?: unknown };
  if (!isCount(wire.transferId)) throw new ShoalError('bad_request', 'malformed transfer status call');
  return wire.transferId;
}
export const encodeTransferStatus = (status: TransferStatus): Uint8Array => toBytes(status);
export const decodeTransferStatus = (bytes: Uint8Array): TransferStatus => fromBytes(bytes, 'transfer status') as TransferStatus;
