import type { Entry } from '@shoal/raft';

/** FNV-1a over bytes: a cheap fingerprint of an entry's payload for comparing logs. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Identifies an entry's content: equal digests at the same index mean the same entry. */
export function entryDigest(e: Entry): string {
  if (e.kind === 'confChange') return `${e.term}:conf:${JSON.stringify(e.change)}`;
  return `${e.term}:${e.data.byteLength}:${fnv1a(e.data).toString(16)}`;
}
