import { CONF_CHANGE_BYTES, ENTRY_OVERHEAD_BYTES } from './config.js';
import type { ConfState, Entry } from './messages.js';

/** Payload bytes of an entry: what counts against the uncommitted and per-Ready limits. */
export function payloadBytes(e: Entry): number {
  return e.kind === 'normal' ? e.data.byteLength : CONF_CHANGE_BYTES * Math.max(1, e.change.changes.length);
}

/** Bytes an entry costs on the wire: what counts against msgBytesMax. */
export function wireBytes(e: Entry): number {
  return payloadBytes(e) + ENTRY_OVERHEAD_BYTES;
}

/**
 * The longest prefix of `entries` within `bytesMax` (by `size`), but always at least one entry so
 * progress never stops on one large entry.
 */
export function limitBytes<T extends Entry>(entries: readonly T[], bytesMax: number, size: (e: Entry) => number): T[] {
  let total = 0;
  let n = 0;
  for (const e of entries) {
    total += size(e);
    if (n > 0 && total > bytesMax) break;
    n += 1;
  }
  return entries.slice(0, n);
}

export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};
