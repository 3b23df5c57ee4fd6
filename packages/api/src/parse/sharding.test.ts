import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, ShoalError } from '@shoal/common';
import { parseCreateShardKey, parseDropShardKey, parseReadConsistency, parseShardKeySelector, shardKeyOf } from './sharding.js';

function kindOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    return error instanceof ShoalError ? error.kind : 'other';
  }
}

describe('shard keys and read consistency', () => {
  it('reads a key, a list of keys, and a target with a fallback', () => {
    expect(parseShardKeySelector('eu', 'shard_key', DEFAULT_LIMITS)).toEqual({ kind: 'keys', keys: ['eu'] });
    expect(parseShardKeySelector([1, 'b'], 'shard_key', DEFAULT_LIMITS)).toEqual({ kind: 'keys', keys: [1, 'b'] });
    expect(parseShardKeySelector({ target: 't', fallback: 0 }, 'shard_key', DEFAULT_LIMITS)).toEqual({ kind: 'fallback', target: 't', fallback: 0 });
    expect(shardKeyOf({ points: [], shard_key: 'x' }, DEFAULT_LIMITS)).toEqual({ kind: 'keys', keys: ['x'] });
    expect(shardKeyOf({ points: [] }, DEFAULT_LIMITS)).toBeNull();
    expect(kindOf(() => parseShardKeySelector(1.5, 'shard_key', DEFAULT_LIMITS))).toBe('bad_request');
    expect(kindOf(() => parseShardKeySelector(2n ** 60n, 'shard_key', DEFAULT_LIMITS))).toBe('validation');
    expect(kindOf(() => parseShardKeySelector([], 'shard_key', DEFAULT_LIMITS))).toBe('validation');
  });

  it('reads CreateShardingKey and DropShardingKey', () => {
    expect(parseCreateShardKey({ shard_key: 'eu', shards_number: 2, placement: [5, 6], initial_state: 'Active' })).toEqual({
      key: 'eu', shardsNumber: 2, replicationFactor: null, placement: [5, 6], initialState: 'Active',
    });
    expect(kindOf(() => parseCreateShardKey({ shard_key: 'eu', initial_state: 'Sleepy' }))).toBe('bad_request');
    expect(kindOf(() => parseCreateShardKey({}))).toBe('bad_request');
    expect(parseDropShardKey({ shard_key: 7 })).toBe(7);
  });

  it('reads consistency as a number or a name', () => {
    expect(parseReadConsistency('2')).toEqual({ kind: 'factor', n: 2 });
    expect(parseReadConsistency('quorum')).toEqual({ kind: 'quorum' });
    expect(kindOf(() => parseReadConsistency('0'))).toBe('validation');
    expect(kindOf(() => parseReadConsistency('most'))).toBe('bad_request');
  });
});
