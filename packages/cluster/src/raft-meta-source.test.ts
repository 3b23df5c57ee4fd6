import { afterEach, describe, expect, it } from 'vitest';
import { MemoryFileSystem, seededRng } from '@shoal/common';
import { ConsensusDriver, LocalTransportHub, RaftLogStore } from '@shoal/consensus';
import { EMPTY_META_STATE, apply, type CollectionConfig, type MetaOperation, type MetaState } from '@shoal/meta';
import { peerId } from '@shoal/raft';
import { RaftMetaSource, operationsBetween } from './raft-meta-source.js';

const CONFIG = {
  vectors: new Map([['', { size: 4, distance: 'Cosine', onDisk: null, datatype: null }]]),
  shardNumber: 1,
} as unknown as CollectionConfig;
const create = (name: string): MetaOperation => ({ kind: 'create_collection', name, config: CONFIG });
const clock = { nowMs: () => performance.now() };

let closeAll: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closeAll.splice(0)) await close();
});

/** A founded one-voter cluster ticking on a 5 ms timer, and a RaftMetaSource over it. */
async function singleNode(heard: string[]): Promise<{ driver: ConsensusDriver; source: RaftMetaSource }> {
  const id = peerId(1);
  const fs = new MemoryFileSystem();
  const driver = await ConsensusDriver.start({
    id,
    uri: 'local://1',
    transport: new LocalTransportHub().transport(id),
    openStorage: () => RaftLogStore.open(fs, 'raft'),
    clock,
    wallClockMs: () => Date.now(),
    rng: seededRng(7),
    bootstrap: new Map([[id, 'local://1']]),
  });
  const timer = setInterval(() => driver.tick(), 5);
  const source = RaftMetaSource.open(
    {
      driver,
      clock,
      proposeToLeader: (op, deadlineMs) => driver.propose(op, deadlineMs),
      proposalTimeoutMs: 5_000,
      retryPauseMs: 5,
      onListenerError: (error) => heard.push(`error ${String(error)}`),
    },
    async (state, op, index, outcome) => {
      heard.push(`${index} ${op.kind} ${outcome.ok ? 'ok' : outcome.refusal.code} [${[...state.collections.keys()].join(',')}]`);
    },
  );
  closeAll.push(async () => {
    clearInterval(timer);
    await source.close();
    await driver.close();
  });
  return { driver, source };
}

describe('RaftMetaSource', () => {
  it('resolves a proposal once the node has acted on it, with the deterministic outcome (a refusal too)', async () => {
    const heard: string[] = [];
    const { source } = await singleNode(heard);
    source.start();
    expect(await source.propose(create('a'))).toEqual({ ok: true });
    expect(source.state.collections.has('a')).toBe(true);
    expect(await source.propose(create('a'))).toEqual({ ok: false, refusal: { code: 'collection_exists', name: 'a' } });
    expect(heard).toEqual([expect.stringMatching(/^\d+ create_collection ok \[a\]$/), expect.stringMatching(/^\d+ create_collection collection_exists \[a\]$/)]);
  });

  it('holds operations back until the node has opened what the state held (start)', async () => {
    const heard: string[] = [];
    const { source } = await singleNode(heard);
    const pending = source.propose(create('early'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toEqual([]);
    expect(source.state.collections.has('early')).toBe(false);
    source.start();
    expect(await pending).toEqual({ ok: true });
    expect(heard).toHaveLength(1);
  });
});

describe('operationsBetween (what a node does when a snapshot replaces its state)', () => {
  const at = (state: MetaState, op: MetaOperation): MetaState => apply(state, state.appliedIndex + 1, op).state;

  it('deletes collections that are gone or were re-created, creates new ones, refreshes changed ones', () => {
    const before = at(at(at(EMPTY_META_STATE, create('gone')), create('recreated')), create('kept'));
    let after = at(at(before, { kind: 'delete_collection', name: 'gone' }), { kind: 'delete_collection', name: 'recreated' });
    after = at(at(after, create('recreated')), create('new'));
    after = at(after, { kind: 'create_field_index', collection: 'kept', field: 'city', params: { type: 'keyword' } as never });
    const ops = operationsBetween(before, after).map((op) => `${op.kind} ${'name' in op ? op.name : 'collection' in op ? op.collection : ''}`);
    // Deletions first, so a re-created name never meets its old incarnation.
    expect(ops).toEqual(['delete_collection gone', 'delete_collection recreated', 'update_collection kept', 'create_field_index kept', 'create_collection recreated', 'create_collection new']);
    expect(operationsBetween(after, after)).toEqual([]);
  });
});
