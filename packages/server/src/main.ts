// `npm start [-- ARGS]`: one node. REST on service.http_port (6333), data under
// storage.storage_path (./storage).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startNode } from './node-process.js';

const USAGE = `usage: shoal [--config-path FILE] [--uri P2P_URL] [--bootstrap PEER_P2P_URL]

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
  if (config.cluster.enabled || args.uri !== undefined || args.bootstrap !== undefined) {
    process.stderr.write(
      'shoal: cluster mode (cluster.enabled, --uri, --bootstrap) is not available in this build yet; ' +
        'start without it to run a standalone node\n',
    );
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel.toLowerCase(), base: { service: 'shoal' } });
  for (const key of config.ignoredKeys) logger.warn({ key }, 'config key accepted for compatibility with Qdrant, not used');
  const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
  const running = await startNode({ config, logger, repoRoot, telemetryId: randomUUID() });
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

main().catch((error: unknown) => {
  process.stderr.write(`shoal: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
