import type { Rng } from '@shoal/common';
import { collectionConfig, type MetaOperation } from '@shoal/meta';

/**
 * Random client operations on the metadata state machine. Names come from small pools so that
 * operations collide (create what exists, alias what was deleted): refusals are deterministic
 * outcomes too, and every node must refuse the same ones.
 */

const COLLECTIONS = ['a', 'b', 'c', 'd'];
const ALIASES = ['x', 'y', 'z'];


const KEYWORD_INDEX = { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null } as const;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)] as T;

/** One random operation; `serial` makes payloads distinct so every entry is recognisable. */
export function randomOperation(rng: Rng, serial: number): MetaOperation {
  const roll = rng.int(10);
  const name = pick(rng, COLLECTIONS);
  if (roll < 2) return { kind: 'create_collection', name, config: collectionConfig(1 + (serial % 64)) };
  if (roll < 3) {
    // With placement, ring routing and Initializing replicas, as a cluster node proposes it.
    const config = collectionConfig(1 + (serial % 64), 'Cosine', { shardNumber: 2, replicationFactor: 2 });
    const placement = [[1, 2], [2, 3]];
    return { kind: 'create_collection', name, config, routing: { kind: 'ring', vnodes: 8, seed: serial }, placement, initialState: 'Initializing' };
  }
  if (roll < 4) return { kind: 'delete_collection', name };
  if (roll < 7) {
    const alias = pick(rng, ALIASES);
    const r = rng.int(3);
    if (r === 0) return { kind: 'change_aliases', actions: [{ kind: 'create', alias, collection: name }] };
    if (r === 1) return { kind: 'change_aliases', actions: [{ kind: 'delete', alias }] };
    return { kind: 'change_aliases', actions: [{ kind: 'rename', oldAlias: alias, newAlias: pick(rng, ALIASES) }] };
  }
  if (roll < 9) {
    return { kind: 'create_field_index', collection: name, field: `f${serial}`, params: KEYWORD_INDEX };
  }
  return { kind: 'delete_field_index', collection: name, field: `f${serial - 1 - rng.int(8)}` };
}
