// Composition root of one node: storage, the node's collections, the REST server.
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, NodeFileSystem, type Limits } from '@shoal/common';
import { LocalNode, localMetaSource, localShardOpener } from '@shoal/cluster';
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
  const node = new LocalNode({
    fs,
    storagePath: config.storagePath,
    limits,
    openMetaSource: localMetaSource(fs, config.storagePath),
    openShard: localShardOpener(fs, (meta, shard, event) =>
      logger[event.level]({ collection: meta.name, shard, err: event.cause }, event.message),
    ),
    onWarning: (message, detail) => logger.warn(detail, message),
    newPeerId: randomPeerId,
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
