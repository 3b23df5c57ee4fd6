// Composition root of one node: storage, the node's collections, the REST server.
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, NodeFileSystem, type Limits } from '@shoal/common';
import { ClusterConsensus, LocalNode, localMetaSource, localShardOpener, type BeforeBatchHook, type MetaSourceOpener, type RaftMetaSource } from '@shoal/cluster';
import { createApp } from './app.js';
import { sourceCommit } from './build-info.js';
import type { NodeConfig } from './config.js';
import { Metrics } from './metrics.js';
import { registerCollectionRoutes } from './rest/index.js';
import { lockStorage } from './storage-lock.js';
import { transferGateFromEnv } from './test-hooks.js';
import type { ServiceState } from './service-routes.js';

export interface StartOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly repoRoot: string;
  readonly telemetryId: string;
  /** Cluster mode (cluster.enabled): this node's p2p URI (--uri) and a member to join (--bootstrap). */
  readonly cluster?: { readonly uri: string; readonly bootstrap: string | undefined };
}

export interface RunningNode {
  readonly httpPort: number;
  stop(): Promise<void>;
}

/** Uniform in [1, 2^53): exact as a JSON number in every client. */
function randomPeerId(): number {
  const [value] = crypto.getRandomValues(new BigUint64Array(1));
  return Number((value ?? 0n) % (2n ** 53n - 1n)) + 1;
}

export async function startNode(options: StartOptions): Promise<RunningNode> {
  const { config, logger } = options;
  const releaseLock = lockStorage(config.storagePath);
  const fs = new NodeFileSystem();
  const limits: Limits = { ...DEFAULT_LIMITS, requestBytesMax: Math.floor(config.service.maxRequestSizeMb * 1024 * 1024) };
  let consensus: ClusterConsensus | null = null;
  let raftSource: RaftMetaSource | null = null;
  const clusterOptions = options.cluster;
  // In cluster mode Raft orders the metadata; it starts once LocalNode knows its peer id.
  const openMetaSource: MetaSourceOpener =
    clusterOptions === undefined
      ? localMetaSource(fs, config.storagePath)
      : async (listener) => {
          consensus = await ClusterConsensus.start({
            peerId: node.peerId,
            uri: clusterOptions.uri,
            bootstrapUri: clusterOptions.bootstrap,
            listen: `${config.service.host}:${config.cluster.p2pPort}`,
            fs,
            dir: `${config.storagePath}/raft`,
            log: (level, message, detail) => logger[level](detail, message),
          });
          // Shards placed on other peers are reached through the consensus' transport.
          node.attachCluster(consensus.link());
          raftSource = consensus.openMetaSource(listener);
          return raftSource;
        };
  const node = new LocalNode({
    fs,
    storagePath: config.storagePath,
    limits,
    openMetaSource,
    openShard: localShardOpener(fs, (meta, shard, event) =>
      logger[event.level]({ collection: meta.name, shard, err: event.cause }, event.message),
    ),
    onWarning: (message, detail) => logger.warn(detail, message),
    onInfo: (message, detail) => logger.info(detail, message),
    newPeerId: randomPeerId,
    ...optionalHook(transferGateFromEnv(process.env)),
  });
  const startedLoading = performance.now();
  await node.open();
  // The node opened what the metadata held at open; operations applied since reach it now.
  (raftSource as RaftMetaSource | null)?.start();
  // Other peers' routers reach this node's shard replicas from now on.
  (consensus as ClusterConsensus | null)?.servePoints((method, request, signal) => node.answerPoints(method, request, signal));
  logger.info({ storage: config.storagePath, ms: Math.round(performance.now() - startedLoading) }, 'storage loaded');

  const metrics = new Metrics();
  const state: ServiceState = {
    node,
    metrics,
    commit: sourceCommit(options.repoRoot),
    startedAt: new Date(),
    telemetryId: options.telemetryId,
    ready: true,
    cluster: consensus,
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
      // Raft and the transport stop first: no operation reaches the node while it closes its shards.
      await (consensus as ClusterConsensus | null)?.close();
      await node.close();
      metrics.stop();
      releaseLock();
    },
  };
}

function optionalHook(hook: BeforeBatchHook | undefined): { beforeTransferBatch?: BeforeBatchHook } {
  return hook === undefined ? {} : { beforeTransferBatch: hook };
}

function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}
