// `npm start [-- ARGS]`: one node. REST on service.http_port (6333), data under
// storage.storage_path (./storage); in cluster mode, peers on cluster.p2p.port (6335).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startNode } from './node-process.js';

const USAGE = `usage: shoal [--config-path FILE] [--uri P2P_URL] [--bootstrap PEER_P2P_URL]

Cluster mode (cluster.enabled: true, or QDRANT__CLUSTER__ENABLED=true): the first node starts
with --uri <its p2p URL>; others with --bootstrap <a member's p2p URL> --uri <their own>.

Configuration: config/config.yaml, config/production.yaml, config/local.yaml, --config-path FILE,
then QDRANT__SECTION__KEY environment variables (e.g. QDRANT__SERVICE__HTTP_PORT=7333).`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        'config-path': { type: 'string' },
        uri: { type: 'string' },
        bootstrap: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config;
  try {
    config = loadConfig({ cwd: process.cwd(), configPath: args['config-path'] ?? null, env: process.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`shoal: bad configuration: ${error.message}\n`);
    process.exit(2);
  }
  const cluster = clusterArgs(config.cluster.enabled, args.uri, args.bootstrap);
  if (typeof cluster === 'string') {
    process.stderr.write(`shoal: ${cluster}\n${USAGE}\n`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel.toLowerCase(), base: { service: 'shoal' } });
  for (const key of config.ignoredKeys) logger.warn({ key }, 'config key accepted for compatibility with Qdrant, not used');
  const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
  const running = await startNode({ config, logger, repoRoot, telemetryId: randomUUID(), ...(cluster === undefined ? {} : { cluster }) });
  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/**
 * Cluster mode from the command line: with cluster.enabled, `--uri` (this node's p2p URL) is
 * required; `--bootstrap` (a member's p2p URL) joins an existing cluster, without it this node
 * founds one. A node restarted with stored Raft state ignores --bootstrap. A string says what is wrong.
 */
function clusterArgs(enabled: boolean, uri: string | undefined, bootstrap: string | undefined): { uri: string; bootstrap: string | undefined } | undefined | string {
  if (!enabled) {
    if (uri === undefined && bootstrap === undefined) return undefined;
    return '--uri and --bootstrap need cluster mode: set cluster.enabled: true (QDRANT__CLUSTER__ENABLED=true)';
  }
  if (uri === undefined) return 'cluster mode needs --uri <this node\'s p2p URL>, e.g. --uri http://127.0.0.1:6335';
  for (const [flag, value] of [['--uri', uri], ['--bootstrap', bootstrap]] as const) {
    if (value !== undefined && !/^(https?|grpc):\/\/[^/\s]+:\d+\/?$/.test(value)) return `${flag} must be a URL like http://HOST:PORT, got '${value}'`;
  }
  return { uri, bootstrap };
}

main().catch((error: unknown) => {
  process.stderr.write(`shoal: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
