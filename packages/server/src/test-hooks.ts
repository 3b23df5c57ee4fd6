// Hooks for multi-process tests, enabled only by environment variables a test sets. Nothing here
// runs in a normal deployment.
import { existsSync, writeFileSync } from 'node:fs';
import type { BeforeBatchHook } from '@shoal/cluster';

/** Pause while the test's release file is missing, ms. */
const GATE_POLL_MS = 50;

/**
 * SHOAL_TEST_TRANSFER_GATE=<dir> (with SHOAL_TEST_TRANSFER_GATE_BATCH=<n>, default 2): the first
 * time this node, as a transfer's source, is about to send its n-th copied batch, it writes the
 * batch's point ids to <dir>/held.json and holds the batch (and every message queued behind it)
 * until <dir>/release exists. Lets a test change a point whose copy is on its way.
 */
export function transferGateFromEnv(env: NodeJS.ProcessEnv): BeforeBatchHook | undefined {
  const dir = env['SHOAL_TEST_TRANSFER_GATE'];
  if (dir === undefined || dir === '') return undefined;
  const batch = Number(env['SHOAL_TEST_TRANSFER_GATE_BATCH'] ?? '2');
  let used = false;
  return async (info) => {
    if (used || info.batch !== batch) return;
    used = true;
    const ids = info.ids.map((id) => (typeof id === 'bigint' ? id.toString() : id));
    writeFileSync(`${dir}/held.json`, JSON.stringify({ collection: info.collection, shard: info.shard, transferId: info.transferId, batch: info.batch, ids }));
    while (!existsSync(`${dir}/release`)) await new Promise((resolve) => setTimeout(resolve, GATE_POLL_MS));
  };
}
