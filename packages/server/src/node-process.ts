// Composition root of one node: storage, the node's collections, the REST server.
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, NodeFileSystem, type Limits } from '@shoal/common';
import { LocalNode, type MetaLog, type Replica } from '@shoal/cluster';
import type { CollectionMeta } from '@shoal/meta';
import { createSegment, loadSegment } from '@shoal/segment';
import { LocalShard } from '@shoal/shard';
import { Wal } from '@shoal/wal';
import { createApp } from './app.js';
import { sourceCommit } from './build-info.js';
import type { NodeConfig } from './config.js';
import { Metrics } from './metrics.js';
import { registerCollectionRoutes } from './rest/index.js';
import { lockStorage } from './storage-lock.js';
import type { ServiceState } from './service-routes.js';

export interface StartOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly repoRoot: string;
  readonly telemetryId: string;
}

export interface RunningNode {
  readonly httpPort: number;
  stop(): Promise<void>;
}

/** WAL records of the metadata log kept below the last snapshot, for inspection after incidents. */
const META_LOG_TAIL_RECORDS = 64;

async function openMetaLog(fs: NodeFileSystem, dir: string): Promise<MetaLog> {
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

function shardOpener(fs: NodeFileSystem, logger: Logger) {
  return async (dir: string, meta: CollectionMeta, shardId: number): Promise<Replica> =>
    LocalShard.open({
      fs,
      dir,
      schema: { vectors: meta.config.vectors },
      walOptions: { segmentBytes: meta.config.wal.wal_capacity_mb * 1024 * 1024 },
      flushPolicy: { intervalMs: meta.config.optimizers.flush_interval_sec * 1000 },
      segmentFactory: { createSegment, loadSegment },
      log: (event) => logger[event.level]({ collection: meta.name, shard: shardId, err: event.cause }, event.message),
    });
}

export async function startNode(options: StartOptions): Promise<RunningNode> {
  const { config, logger } = options;
  const releaseLock = lockStorage(config.storagePath);
  const fs = new NodeFileSystem();
  const limits: Limits = { ...DEFAULT_LIMITS, requestBytesMax: Math.floor(config.service.maxRequestSizeMb * 1024 * 1024) };
  const node = new LocalNode({
    fs,
    storagePath: config.storagePath,
    limits,
    openMetaLog: (dir) => openMetaLog(fs, dir),
    openShard: shardOpener(fs, logger),
    onWarning: (message, detail) => logger.warn(detail, message),
  });
  const startedLoading = performance.now();
  await node.open();
  logger.info({ storage: config.storagePath, ms: Math.round(performance.now() - startedLoading) }, 'storage loaded');

  const metrics = new Metrics();
  const state: ServiceState = {
    node,
    metrics,
    commit: sourceCommit(options.repoRoot),
    startedAt: new Date(),
    telemetryId: options.telemetryId,
    ready: true,
  };
  const app = createApp({
    config,
    state,
    registerCollectionRoutes: (target) => registerCollectionRoutes(target, node, { limits }),
    onRequestError: (error, path) => logger.error({ err: error, path }, 'unexpected error while serving a request'),
  });
  const server = await listen(app.fetch, config.service.host, config.service.httpPort);
  const address = server.address();
  const httpPort = typeof address === 'object' && address !== null ? address.port : config.service.httpPort;
  logger.info({ host: config.service.host, port: httpPort }, 'REST API listening');

  return {
    httpPort,
    async stop(): Promise<void> {
      state.ready = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.close();
      metrics.stop();
      releaseLock();
    },
  };
}

function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}
