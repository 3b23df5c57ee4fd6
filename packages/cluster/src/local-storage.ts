// How a node opens its storage: the metadata log on a WAL, and each local shard on its own WAL
// and segment images. The server and the tests open storage the same way.
import type { FileSystem } from '@shoal/common';
import type { CollectionMeta } from '@shoal/meta';
import { createSegment, loadSegment } from '@shoal/segment';
import { LocalShard, type ShardLogEvent } from '@shoal/shard';
import { Wal } from '@shoal/wal';
import { MetadataStore, type MetaLog, type MetaSourceOpener } from './metadata-store.js';
import type { Replica } from './replica-set.js';

/** Metadata log records kept below the last snapshot, for inspection after incidents. */
const META_LOG_TAIL_RECORDS = 64;

export async function openWalMetaLog(fs: FileSystem, dir: string): Promise<MetaLog> {
  const wal = await Wal.open(fs, dir, {});
  return {
    append: (record) => wal.append(record),
    replay: (from, visit) => wal.replay(from, visit),
    truncateBefore: async (index) => {
      await wal.truncateBefore(index, META_LOG_TAIL_RECORDS);
    },
    close: () => wal.close(),
  };
}

/** A standalone node's metadata: a WAL-backed log with snapshots under `<storagePath>/meta`. */
export function localMetaSource(fs: FileSystem, storagePath: string): MetaSourceOpener {
  return async (listener) => MetadataStore.open(fs, `${storagePath}/meta`, await openWalMetaLog(fs, `${storagePath}/meta/log`), listener);
}

export type ShardLog = (meta: CollectionMeta, shardId: number, event: ShardLogEvent) => void;

/** Opens local shards with the in-memory segment, sized by the collection's wal and optimizer config. */
export function localShardOpener(fs: FileSystem, log: ShardLog) {
  return async (dir: string, meta: CollectionMeta, shardId: number): Promise<Replica> =>
    LocalShard.open({
      fs,
      dir,
      schema: { vectors: meta.config.vectors },
      walOptions: {
        segmentBytes: meta.config.wal.wal_capacity_mb * 1024 * 1024,
        // Stored before this option existed: Qdrant's default.
        retainClosedFiles: meta.config.wal.wal_retain_closed ?? 1,
      },
      flushPolicy: { intervalMs: meta.config.optimizers.flush_interval_sec * 1000 },
      segmentFactory: { createSegment, loadSegment },
      log: (event) => log(meta, shardId, event),
    });
}
