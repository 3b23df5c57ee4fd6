import { describe, expect, it } from 'vitest';
import { apply, EMPTY_META_STATE, resolveCollection, type MetaState } from './state.js';
import { decodeOperation, decodeState, encodeOperation, encodeState, stateHash } from './codec.js';
import type { CollectionConfig, MetaOperation } from './types.js';
import { collectionConfig } from './defaults.js';

const config: CollectionConfig = collectionConfig(4);

function run(ops: MetaOperation[]): { state: MetaState; outcomes: boolean[] } {
  let state = EMPTY_META_STATE;
  const outcomes: boolean[] = [];
  ops.forEach((op, i) => {
    const applied = apply(state, i + 1, op);
    state = applied.state;
    outcomes.push(applied.outcome.ok);
  });
  return { state, outcomes };
}

describe('meta apply', () => {
  it('creates, refuses duplicates, deletes with aliases', () => {
    const { state, outcomes } = run([
      { kind: 'create_collection', name: 'a', config },
      { kind: 'create_collection', name: 'a', config },
      { kind: 'change_aliases', actions: [{ kind: 'create', alias: 'x', collection: 'a' }] },
      { kind: 'delete_collection', name: 'a' },
    ]);
    expect(outcomes).toEqual([true, false, true, true]);
    expect(state.collections.size).toBe(0);
    expect(state.aliases.size).toBe(0);
    expect(state.appliedIndex).toBe(4);
  });

  it('applies alias actions atomically', () => {
    const { state, outcomes } = run([
      { kind: 'create_collection', name: 'a', config },
      { kind: 'change_aliases', actions: [{ kind: 'create', alias: 'x', collection: 'a' }] },
      {
        kind: 'change_aliases',
        actions: [
          { kind: 'rename', oldAlias: 'x', newAlias: 'y' },
          { kind: 'delete', alias: 'missing' },
        ],
      },
    ]);
    expect(outcomes).toEqual([true, true, false]);
    expect([...state.aliases]).toEqual([['x', 'a']]);
    expect(resolveCollection(state, 'x')?.name).toBe('a');
  });

  it('does not mutate its input', () => {
    const first = run([{ kind: 'create_collection', name: 'a', config }]).state;
    const before = stateHash(first);
    apply(first, 2, { kind: 'create_field_index', collection: 'a', field: 'f', params: { type: 'keyword', lookup: null, range: null, isPrincipal: null, isTenant: null, onDisk: null } });
    apply(first, 2, { kind: 'delete_collection', name: 'a' });
    expect(stateHash(first)).toBe(before);
  });

  it('patches hnsw and optimizer config', () => {
    const { state } = run([
      { kind: 'create_collection', name: 'a', config },
      {
        kind: 'update_collection',
        name: 'a',
        patch: { vectors: null, params: null, hnsw: { m: 32 }, optimizers: { indexing_threshold: 0 }, quantization: null, strictMode: null, metadata: null },
      },
    ]);
    const meta = state.collections.get('a');
    expect(meta?.config.hnsw.m).toBe(32);
    expect(meta?.config.hnsw.ef_construct).toBe(100);
    expect(meta?.config.optimizers.indexing_threshold).toBe(0);
    expect(meta?.version).toBe(2);
  });

  it('round-trips operations and state through the codec with an equal hash', () => {
    const ops: MetaOperation[] = [
      { kind: 'create_collection', name: 'a', config },
      { kind: 'create_field_index', collection: 'a', field: 'f', params: { type: 'integer', lookup: true, range: false, isPrincipal: null, isTenant: null, onDisk: null } },
      { kind: 'change_aliases', actions: [{ kind: 'create', alias: 'x', collection: 'a' }] },
    ];
    const direct = run(ops).state;
    const replayed = run(ops.map((op) => decodeOperation(encodeOperation(op)))).state;
    expect(stateHash(replayed)).toBe(stateHash(direct));
    expect(stateHash(decodeState(encodeState(direct)))).toBe(stateHash(direct));
    expect(decodeState(encodeState(direct)).collections.get('a')?.config.vectors.get('')?.size).toBe(4);
  });
});
