// deploy/ and helm/ cannot be run here (no Docker engine, no helm, no Kubernetes). What can be
// checked is checked: the files parse, the compose cluster has the ports, volumes and command
// lines it should, the environment and arguments it gives a node start a real node, the image's
// health check command works against a real node, the chart's templates only use values and
// helpers that exist, and the chart's start script gives each pod the right --uri/--bootstrap.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_MAIN = join(ROOT, 'packages/server/dist/main.js');
const CHART = join(ROOT, 'helm/shoal');
/** What the node accepts as --uri / --bootstrap (packages/server/src/main.ts). */
const P2P_URL = /^(https?|grpc):\/\/[^/\s]+:\d+\/?$/;
const START_TIMEOUT_MS = 20_000;

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  readonly build?: { context: string; dockerfile: string };
  readonly image?: string;
  readonly command: string[];
  readonly ports: string[];
  readonly volumes: string[];
  readonly environment: Record<string, string>;
  readonly depends_on?: Record<string, { condition: string }>;
}

function compose(): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  return parseYaml(read('deploy/docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
}

/** Every QDRANT__ variable the compose file and the chart set, with a value valid for a test node. */
function testValue(name: string, storage: string, p2pPort: number, grpcPort: number): string {
  const values: Record<string, string> = {
    QDRANT__CLUSTER__ENABLED: 'true',
    QDRANT__CLUSTER__P2P__PORT: String(p2pPort),
    QDRANT__SERVICE__HOST: '127.0.0.1',
    QDRANT__SERVICE__HTTP_PORT: '0',
    QDRANT__SERVICE__GRPC_PORT: String(grpcPort),
    QDRANT__STORAGE__STORAGE_PATH: storage,
    QDRANT__LOG_LEVEL: 'INFO',
    QDRANT__SERVICE__MAX_REQUEST_SIZE_MB: '32',
    QDRANT__SERVICE__API_KEY: 'test-key',
    QDRANT__SERVICE__READ_ONLY_API_KEY: 'test-read-key',
  };
  const value = values[name];
  if (value === undefined) throw new Error(`${name} is set by deploy/ or helm/ but has no test value: add one, so the node is started with it`);
  return value;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Starts the built node; resolves to its REST port once it listens, or rejects with its output. */
async function startNode(env: Record<string, string>, args: string[]): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  expect(existsSync(SERVER_MAIN), `${SERVER_MAIN} is missing: run npm run build first`).toBe(true);
  const cwd = mkdtempSync(join(tmpdir(), 'shoal-deploy-'));
  dirs.push(cwd);
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const m = /"port":(\d+)[^\n]*"msg":"REST API listening"/.exec(output);
    if (m !== null) return { port: Number(m[1]), child, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the node did not start (exit ${child.exitCode}):\n${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function run(file: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 10_000 }, (error) =>
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : -1),
    );
  });
}

/** The JSON exec form of the Dockerfile's HEALTHCHECK CMD. */
function healthcheckCommand(dockerfile: string): string[] {
  const m = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(dockerfile);
  if (m === null) throw new Error('no HEALTHCHECK ... CMD [..] in the Dockerfile');
  return JSON.parse(m[1]!) as string[];
}

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('builds in two node:20-slim stages and runs the server as a non-root user with storage on a volume', () => {
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toMatch(/^RUN npm ci /m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^EXPOSE 6333 6334 6335$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/qdrant\/storage"\]$/m);
    expect(dockerfile).toMatch(/QDRANT__STORAGE__STORAGE_PATH=\/qdrant\/storage/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "packages\/server\/dist\/main\.js"\]$/m);
    for (const m of dockerfile.matchAll(/^COPY --from=build \/src\/(\S+)/gm)) expect(existsSync(join(ROOT, m[1]!)), m[1]).toBe(true);
    const ignore = read('deploy/Dockerfile.dockerignore');
    for (const pattern of ['**/node_modules', '**/dist', '.git', 'storage']) expect(ignore.split('\n')).toContain(pattern);
  });

  it('its HEALTHCHECK command passes against a ready node and fails once the node is gone', async () => {
    const [file, ...args] = healthcheckCommand(dockerfile);
    expect(file).toBe('node');
    expect(args.join(' ')).toContain('/readyz');
    const storage = mkdtempSync(join(tmpdir(), 'shoal-deploy-storage-'));
    dirs.push(storage);
    const node = await startNode({ QDRANT__SERVICE__HOST: '127.0.0.1', QDRANT__SERVICE__HTTP_PORT: '0', QDRANT__STORAGE__STORAGE_PATH: storage }, []);
    expect(await run(process.execPath, args, { QDRANT__SERVICE__HTTP_PORT: String(node.port) })).toBe(0);
    node.child.kill('SIGTERM');
    await new Promise((r) => node.child.once('exit', r));
    expect(await run(process.execPath, args, { QDRANT__SERVICE__HTTP_PORT: String(node.port) })).toBe(1);
  });
});

describe('deploy/docker-compose.yml', () => {
  it('runs three nodes from the image: REST on host ports 6333/6343/6353, one named volume each, node1 founding', () => {
    const { services, volumes } = compose();
    expect(Object.keys(services)).toEqual(['node1', 'node2', 'node3']);
    expect(Object.keys(volumes)).toEqual(['node1', 'node2', 'node3']);
    ['node1', 'node2', 'node3'].forEach((name, i) => {
      const s = services[name]!;
      expect(s.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(s.ports).toEqual([`${6333 + 10 * i}:6333`, `${6334 + 10 * i}:6334`]);
      expect(s.volumes).toEqual([`${name}:/qdrant/storage`]);
      expect(s.environment).toMatchObject({ QDRANT__CLUSTER__ENABLED: 'true', QDRANT__CLUSTER__P2P__PORT: '6335', QDRANT__SERVICE__HOST: '0.0.0.0', QDRANT__STORAGE__STORAGE_PATH: '/qdrant/storage' });
      const uri = `http://${name}:6335`;
      expect(s.command).toEqual(i === 0 ? ['--uri', uri] : ['--bootstrap', 'http://node1:6335', '--uri', uri]);
      for (const url of s.command.filter((a) => a.startsWith('http'))) expect(url).toMatch(P2P_URL);
    });
    expect(services['node2']!.depends_on).toEqual({ node1: { condition: 'service_started' } });
    // The build context (the repository root, relative to deploy/) holds the Dockerfile.
    expect(existsSync(join(ROOT, 'deploy', '..', 'deploy/Dockerfile'))).toBe(true);
  });

  it('node1\'s environment and command line start a real node that founds a cluster', async () => {
    const node1 = compose().services['node1']!;
    const storage = mkdtempSync(join(tmpdir(), 'shoal-deploy-storage-'));
    dirs.push(storage);
    const p2p = 20_000 + Math.floor(Math.random() * 20_000);
    const env = Object.fromEntries(Object.keys(node1.environment).map((k) => [k, testValue(k, storage, p2p, p2p + 1)]));
    const args = node1.command.map((a) => a.replace('http://node1:6335', `http://127.0.0.1:${p2p}`));
    const node = await startNode(env, args);
    const body = (await (await fetch(`http://127.0.0.1:${node.port}/cluster`)).json()) as { result: { status: string; peers: Record<string, { uri: string }> } };
    expect(body.result.status).toBe('enabled');
    expect(Object.values(body.result.peers).map((p) => p.uri)).toEqual([`http://127.0.0.1:${p2p}`]);
    expect(node.output()).not.toMatch(/not used|bad configuration/);
  });
});

describe('helm/shoal', () => {
  const templates = readdirSync(join(CHART, 'templates')).filter((f) => f.endsWith('.yaml') || f.endsWith('.tpl') || f.endsWith('.txt'));
  const text = (file: string): string => readFileSync(join(CHART, 'templates', file), 'utf8');
  const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;

  it('Chart.yaml and values.yaml are valid YAML with the chart\'s metadata and defaults', () => {
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'shoal', type: 'application' });
    expect(chart['version']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(values).toMatchObject({ replicaCount: 3, ports: { http: 6333, grpc: 6334, p2p: 6335 }, podDisruptionBudget: { enabled: true, maxUnavailable: 1 } });
    expect(templates.sort()).toEqual(['NOTES.txt', '_helpers.tpl', 'pdb.yaml', 'secret.yaml', 'service-headless.yaml', 'service.yaml', 'statefulset.yaml']);
  });

  it('templates use only values that values.yaml defines and helpers that _helpers.tpl defines, with balanced blocks', () => {
    const helpers = new Set([...text('_helpers.tpl').matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
    for (const file of templates) {
      const body = text(file);
      for (const m of body.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let node: unknown = values;
        for (const key of m[1]!.slice(1).split('.')) {
          expect(typeof node === 'object' && node !== null && key in node, `${file}: .Values${m[1]} is not in values.yaml`).toBe(true);
          node = (node as Record<string, unknown>)[key];
        }
      }
      for (const m of body.matchAll(/include "([^"]+)"/g)) expect(helpers.has(m[1]), `${file}: include "${m[1]}" is not defined`).toBe(true);
      expect(body.split('{{').length, `${file}: unbalanced {{ }}`).toBe(body.split('}}').length);
      const opened = [...body.matchAll(/\{\{-?\s*(if|with|range|define)\b/g)].length;
      const closed = [...body.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
      expect(closed, `${file}: ${opened} blocks opened, ${closed} closed`).toBe(opened);
    }
  });

  it('the StatefulSet probes /readyz and /livez, runs pods in parallel behind a headless Service that publishes unready pods', () => {
    const sts = text('statefulset.yaml');
    expect(sts).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \/readyz/);
    expect(sts).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/livez/);
    expect(sts).toMatch(/podManagementPolicy: Parallel/);
    expect(sts).toMatch(/volumeClaimTemplates:/);
    expect(text('service-headless.yaml')).toMatch(/clusterIP: None\n\s+publishNotReadyAddresses: true/);
    expect(text('pdb.yaml')).toMatch(/kind: PodDisruptionBudget/);
  });

  it('every QDRANT__ variable it sets is one a real node accepts', async () => {
    const names = new Set([...text('statefulset.yaml').matchAll(/name: (QDRANT__[A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect(names.size).toBeGreaterThanOrEqual(8);
    const storage = mkdtempSync(join(tmpdir(), 'shoal-deploy-storage-'));
    dirs.push(storage);
    const p2p = 20_000 + Math.floor(Math.random() * 20_000);
    const env = Object.fromEntries([...names].map((k) => [k, testValue(k, storage, p2p, p2p + 1)]));
    const node = await startNode(env, ['--uri', `http://127.0.0.1:${p2p}`]);
    expect(node.output()).not.toMatch(/not used|bad configuration/);
  });

  it('its start script gives pod 0 --uri only and the other pods --bootstrap through pod 0, with URIs a node accepts', async () => {
    const sts = text('statefulset.yaml');
    const block = /args:\n\s+- \|\n((?:\s{14}.*\n)+)/.exec(sts);
    expect(block, 'the container args script').not.toBeNull();
    // Render the few template expressions the script uses, as helm would for release "shoal".
    const script = block![1]!
      .replace(/^ {14}/gm, '')
      .replaceAll('{{ $headless }}', 'shoal-headless')
      .replaceAll('{{ $fullname }}', 'shoal')
      .replaceAll('{{ .Values.clusterDomain }}', String(values['clusterDomain']))
      .replaceAll('{{ .Values.ports.p2p }}', String((values['ports'] as Record<string, number>)['p2p']))
      .replaceAll('exec node packages/server/dist/main.js', 'exec echo');
    expect(script).not.toMatch(/\{\{/);
    const argsOf = async (pod: string): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile('/bin/sh', ['-c', script], { env: { POD_NAME: pod, POD_NAMESPACE: 'db' } }, (error, stdout) => (error === null ? resolve(stdout.trim()) : reject(error))),
      );
    const uri = (pod: string): string => `http://${pod}.shoal-headless.db.svc.cluster.local:6335`;
    expect(await argsOf('shoal-0')).toBe(`--uri ${uri('shoal-0')}`);
    expect(await argsOf('shoal-2')).toBe(`--bootstrap ${uri('shoal-0')} --uri ${uri('shoal-2')}`);
    expect(await argsOf('my-shoal-db-10')).toBe(`--bootstrap ${uri('shoal-0')} --uri ${uri('my-shoal-db-10')}`);
    expect(uri('shoal-2')).toMatch(P2P_URL);
  });
});
