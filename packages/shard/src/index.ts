export { LocalShard, DEFAULT_FLUSH_POLICY, DEFAULT_WAL_KEEP_TAIL, FLUSH_INTERVAL_MS_MIN } from './shard.js';
export type {
  SegmentFactory,
  FlushPolicy,
  LocalShardOptions,
  ShardLogEvent,
  ShardUpdateResult,
  ShardInfo,
} from './shard.js';
export { encodeOperation, decodeOperation } from './codec.js';
