// Node configuration, with Qdrant's key names so existing deployment recipes carry over.
// Sources, later ones winning: built-in defaults, config/config.yaml, config/production.yaml,
// config/local.yaml, --config-path FILE, then QDRANT__SECTION__KEY environment variables.
// A key Qdrant does not have, or a value of the wrong type, stops start-up naming the key. Keys
// Qdrant has that this node does not act on are accepted and reported as warnings.
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface NodeConfig {
  readonly logLevel: LogLevel;
  readonly storagePath: string;
  readonly service: {
    readonly host: string;
    readonly httpPort: number;
    readonly grpcPort: number | null;
    /** Largest request body, MiB (Qdrant default 32). */
    readonly maxRequestSizeMb: number;
    readonly apiKey: string | null;
    readonly readOnlyApiKey: string | null;
    readonly enableCors: boolean;
  };
  readonly cluster: { readonly enabled: boolean; readonly p2pPort: number };
  /** Keys accepted because Qdrant has them, but not acted upon. */
  readonly ignoredKeys: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Check = (value: unknown, key: string) => unknown;

const str: Check = (v, key) => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ConfigError(`config key \`${key}\`: expected a string, got ${JSON.stringify(v)}`);
};
const optStr: Check = (v, key) => (v === null ? null : str(v, key));
const bool: Check = (v, key) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ConfigError(`config key \`${key}\`: expected true or false, got ${JSON.stringify(v)}`);
};
const port: Check = (v, key) => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  throw new ConfigError(`config key \`${key}\`: expected a port number 0..65535, got ${JSON.stringify(v)}`);
};
const optPort: Check = (v, key) => (v === null ? null : port(v, key));
const positive: Check = (v, key) => {
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isFinite(n) && n > 0) return n;
  throw new ConfigError(`config key \`${key}\`: expected a positive number, got ${JSON.stringify(v)}`);
};
const logLevel: Check = (v, key) => {
  const level = typeof v === 'string' ? v.toUpperCase().split(',')[0]!.trim() : v;
  if (level === 'TRACE' || level === 'DEBUG' || level === 'INFO' || level === 'WARN' || level === 'ERROR') return level;
  throw new ConfigError(`config key \`${key}\`: expected one of TRACE, DEBUG, INFO, WARN, ERROR, got ${JSON.stringify(v)}`);
};
/** A Qdrant key this node accepts and does not act upon. */
const IGNORED = Symbol('ignored');

/** Every leaf key this node reads, with its check. */
const KNOWN: Record<string, Check> = {
  log_level: logLevel,
  'storage.storage_path': str,
  'service.host': str,
  'service.http_port': port,
  'service.grpc_port': optPort,
  'service.max_request_size_mb': positive,
  'service.api_key': optStr,
  'service.read_only_api_key': optStr,
  'service.enable_cors': bool,
  'cluster.enabled': bool,
  'cluster.p2p.port': port,
};

/** Sections and keys of Qdrant's config.yaml that are valid but not used by this node. */
const QDRANT_ONLY = [
  'debug', 'telemetry_disabled', 'tls', 'gpu', 'inference', 'audit', 'feature_flags', 'logger',
  'storage.snapshots_path', 'storage.snapshots_config', 'storage.temp_path', 'storage.on_disk_payload',
  'storage.update_concurrency', 'storage.wal', 'storage.performance', 'storage.optimizers', 'storage.hnsw_index',
  'storage.collection', 'storage.shard_transfer_method', 'storage.max_collections', 'storage.update_queue_size',
  'storage.node_type', 'storage.recovery_mode', 'storage.async_scorer',
  'service.max_workers', 'service.enable_tls', 'service.verify_https_client_certificate', 'service.jwt_rbac',
  'service.hide_jwt_dashboard', 'service.static_content_dir', 'service.enable_static_content',
  'service.max_search_threads', 'service.http_timeout', 'service.hardware_reporting', 'service.metrics_prefix',
  'cluster.p2p.enable_tls', 'cluster.p2p.connection_pool_size', 'cluster.consensus', 'cluster.resharding_enabled',
  'cluster.grpc_timeout_ms', 'cluster.connection_timeout_ms',
];

const DEFAULTS: Record<string, unknown> = {
  log_level: 'INFO',
  'storage.storage_path': './storage',
  'service.host': '0.0.0.0',
  'service.http_port': 6333,
  'service.grpc_port': 6334,
  'service.max_request_size_mb': 32,
  'service.api_key': null,
  'service.read_only_api_key': null,
  'service.enable_cors': true,
  'cluster.enabled': false,
  'cluster.p2p.port': 6335,
};

function classify(key: string): Check | typeof IGNORED | null {
  const known = KNOWN[key];
  if (known !== undefined) return known;
  if (QDRANT_ONLY.some((prefix) => key === prefix || key.startsWith(`${prefix}.`))) return IGNORED;
  return null;
}

/** Flatten a parsed YAML document into dotted keys, checking each as it goes. */
function mergeDocument(values: Map<string, unknown>, ignored: Set<string>, doc: unknown, source: string, prefix = ''): void {
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${source}: config key \`${prefix || '(root)'}\` must be a mapping`);
  }
  for (const [name, value] of Object.entries(doc)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    const kind = classify(key);
    if (kind === IGNORED) {
      ignored.add(key);
    } else if (kind !== null) {
      values.set(key, kind(value, key));
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && isSection(key)) {
      mergeDocument(values, ignored, value, source, key);
    } else {
      throw new ConfigError(`${source}: unknown config key \`${key}\``);
    }
  }
}

function isSection(key: string): boolean {
  return Object.keys(KNOWN).some((k) => k.startsWith(`${key}.`));
}

function readYaml(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as Error).message}`);
  }
}

/** QDRANT__SERVICE__HTTP_PORT=7333 -> service.http_port = 7333 (values parsed as YAML scalars). */
function envDocument(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('QDRANT__') || raw === undefined) continue;
    const path = name.slice('QDRANT__'.length).toLowerCase().split('__');
    let node = doc;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node = (typeof next === 'object' && next !== null ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parseYaml(raw) as unknown;
  }
  return doc;
}

export interface ConfigSources {
  readonly cwd: string;
  readonly configPath: string | null;
  readonly env: NodeJS.ProcessEnv;
}

export function loadConfig(sources: ConfigSources): NodeConfig {
  const values = new Map<string, unknown>(Object.entries(DEFAULTS));
  const ignored = new Set<string>();
  for (const name of ['config/config.yaml', 'config/production.yaml', 'config/local.yaml']) {
    const path = `${sources.cwd}/${name}`;
    if (existsSync(path)) mergeDocument(values, ignored, readYaml(path), path);
  }
  if (sources.configPath !== null) {
    if (!existsSync(sources.configPath)) throw new ConfigError(`config file ${sources.configPath} (--config-path) does not exist`);
    mergeDocument(values, ignored, readYaml(sources.configPath), sources.configPath);
  }
  mergeDocument(values, ignored, envDocument(sources.env), 'environment (QDRANT__…)');
  const get = <T>(key: string): T => values.get(key) as T;
  return {
    logLevel: get('log_level'),
    storagePath: get('storage.storage_path'),
    service: {
      host: get('service.host'),
      httpPort: get('service.http_port'),
      grpcPort: get('service.grpc_port'),
      maxRequestSizeMb: get('service.max_request_size_mb'),
      apiKey: get('service.api_key'),
      readOnlyApiKey: get('service.read_only_api_key'),
      enableCors: get('service.enable_cors'),
    },
    cluster: { enabled: get('cluster.enabled'), p2pPort: get('cluster.p2p.port') },
    ignoredKeys: [...ignored].sort(),
  };
}
