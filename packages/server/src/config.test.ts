import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

function dir(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'shoal-config-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe('loadConfig', () => {
  it('has Qdrant defaults', () => {
    const config = loadConfig({ cwd: dir(), configPath: null, env: {} });
    expect(config.service.httpPort).toBe(6333);
    expect(config.service.grpcPort).toBe(6334);
    expect(config.cluster.p2pPort).toBe(6335);
    expect(config.storagePath).toBe('./storage');
    expect(config.service.maxRequestSizeMb).toBe(32);
    expect(config.cluster.enabled).toBe(false);
  });

  it('layers files, --config-path and environment variables, later winning', () => {
    const cwd = dir({
      'config/config.yaml': 'service:\n  http_port: 7000\n  host: 10.0.0.1\nlog_level: DEBUG\n',
      'config/local.yaml': 'service:\n  http_port: 7001\n',
      'extra.yaml': 'storage:\n  storage_path: /data/x\n',
    });
    const config = loadConfig({
      cwd,
      configPath: join(cwd, 'extra.yaml'),
      env: {
        QDRANT__SERVICE__GRPC_PORT: '7334',
        QDRANT__CLUSTER__ENABLED: 'true',
        QDRANT__CLUSTER__P2P__PORT: '7335',
        QDRANT__LOG_LEVEL: 'warn',
        QDRANT__STORAGE__STORAGE_PATH: '/data/y',
      },
    });
    expect(config.service.httpPort).toBe(7001);
    expect(config.service.host).toBe('10.0.0.1');
    expect(config.service.grpcPort).toBe(7334);
    expect(config.cluster.enabled).toBe(true);
    expect(config.cluster.p2pPort).toBe(7335);
    expect(config.logLevel).toBe('WARN');
    expect(config.storagePath).toBe('/data/y');
  });

  it('stops on a key Qdrant does not have, naming it', () => {
    expect(() => loadConfig({ cwd: dir(), configPath: null, env: { QDRANT__SERVICE__HTTP_PROT: '1' } })).toThrow(/service\.http_prot/);
    const cwd = dir({ 'config/config.yaml': 'storage:\n  storag_path: x\n' });
    expect(() => loadConfig({ cwd, configPath: null, env: {} })).toThrow(ConfigError);
  });

  it('stops on a value of the wrong type, naming the key', () => {
    expect(() => loadConfig({ cwd: dir(), configPath: null, env: { QDRANT__SERVICE__HTTP_PORT: 'abc' } })).toThrow(/service\.http_port/);
    expect(() => loadConfig({ cwd: dir(), configPath: null, env: { QDRANT__CLUSTER__ENABLED: 'maybe' } })).toThrow(/cluster\.enabled/);
    expect(() => loadConfig({ cwd: dir(), configPath: null, env: { QDRANT__SERVICE__HTTP_PORT: '70000' } })).toThrow(/service\.http_port/);
  });

  it('accepts keys Qdrant has that this node does not use, and lists them', () => {
    const cwd = dir({ 'config/config.yaml': 'telemetry_disabled: true\nstorage:\n  performance:\n    max_search_threads: 2\n' });
    const config = loadConfig({ cwd, configPath: null, env: { QDRANT__SERVICE__MAX_WORKERS: '4' } });
    expect(config.ignoredKeys).toEqual(['service.max_workers', 'storage.performance', 'telemetry_disabled']);
  });

  it('stops when --config-path names a missing file', () => {
    expect(() => loadConfig({ cwd: dir(), configPath: '/nonexistent/shoal.yaml', env: {} })).toThrow(/does not exist/);
  });
});
