#!/usr/bin/env node
// `npm run cluster [-- --base-port 6333 --storage ./storage/cluster]`: three nodes of a local
// cluster on 127.0.0.1. Node N (1..3) serves REST on base + 10(N-1), gRPC one above, p2p two
// above (6333/6334/6335, 6343/6344/6345, 6353/6354/6355), and keeps its data in
// <storage>/nodeN. Node 1 founds the cluster, nodes 2 and 3 join it through node 1's p2p port.
// Their log lines are printed prefixed with the node's name. Ctrl-C (SIGINT) or SIGTERM stops
// every node with SIGTERM (SIGKILL after a grace period) and exits 0; a node that exits on its
// own stops the others and exits 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_MAIN = join(REPO_ROOT, 'packages/server/dist/main.js');
const HOST = '127.0.0.1';
const NODES = 3;
/** Ports between one node and the next: REST, gRPC and p2p of a node fit in this step. */
const PORT_STEP = 10;
/** Longest wait for every node to see all three peers, ms; a cold start takes a few seconds. */
const FORM_TIMEOUT_MS = 60_000;
/** Grace between SIGTERM and SIGKILL when stopping, ms: a node flushes and closes in well under this. */
const STOP_GRACE_MS = 10_000;
/** Pause between polls of GET /cluster while the cluster forms, ms. */
const POLL_MS = 200;
/** Longest wait for one status request, ms. */
const REQUEST_TIMEOUT_MS = 2_000;

const USAGE = `usage: npm run cluster [-- --base-port PORT] [--storage DIR]

Starts three nodes on ${HOST}: REST on PORT, PORT+10, PORT+20 (default 6333), gRPC one above
each, p2p two above; data in DIR/node1..3 (default ./storage/cluster). Ctrl-C stops them.`;

function options() {
  let values;
  try {
    values = parseArgs({
      options: {
        'base-port': { type: 'string', default: '6333' },
        storage: { type: 'string', default: 'storage/cluster' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const basePort = Number(values['base-port']);
  if (!/^\d+$/.test(values['base-port']) || basePort < 1 || basePort + PORT_STEP * (NODES - 1) + 2 > 65535) {
    process.stderr.write(`--base-port must be a port number leaving room for ${NODES} nodes, got '${values['base-port']}'\n`);
    process.exit(2);
  }
  return { basePort, storage: resolve(values.storage) };
}

/** What each node listens on and stores, and the arguments that found or join the cluster. */
function plan({ basePort, storage }) {
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const rest = basePort + PORT_STEP * i;
    const p2pUri = `http://${HOST}:${rest + 2}`;
    const first = nodes[0]?.p2pUri ?? p2pUri;
    nodes.push({
      name: `node${i + 1}`,
      rest,
      grpc: rest + 1,
      p2p: rest + 2,
      p2pUri,
      url: `http://${HOST}:${rest}`,
      storage: join(storage, `node${i + 1}`),
      args: i === 0 ? ['--uri', p2pUri] : ['--bootstrap', first, '--uri', p2pUri],
      child: null,
      exited: null,
    });
  }
  return nodes;
}

const color = process.stdout.isTTY ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text;
const COLORS = [36, 33, 35];
const say = (text) => process.stdout.write(`${color(1, '[cluster]')} ${text}\n`);

function buildIfMissing() {
  if (existsSync(SERVER_MAIN)) return;
  say(`${shown(SERVER_MAIN)} is missing: building (npm run build)`);
  const built = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (built.status !== 0 || !existsSync(SERVER_MAIN)) {
    process.stderr.write('the build failed\n');
    process.exit(1);
  }
}

/** Pipes a stream's lines to stdout behind the node's name. */
function prefixLines(stream, prefix) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => process.stdout.write(`${prefix} ${line}\n`));
}

function start(node, index, onExit) {
  mkdirSync(node.storage, { recursive: true });
  const child = spawn(process.execPath, [SERVER_MAIN, ...node.args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      QDRANT__CLUSTER__ENABLED: 'true',
      QDRANT__SERVICE__HOST: HOST,
      QDRANT__SERVICE__HTTP_PORT: String(node.rest),
      QDRANT__SERVICE__GRPC_PORT: String(node.grpc),
      QDRANT__CLUSTER__P2P__PORT: String(node.p2p),
      QDRANT__STORAGE__STORAGE_PATH: node.storage,
    },
    // Its own process group: a terminal's Ctrl-C reaches this script only, which then stops
    // the nodes in order, so a node's exit during shutdown is never mistaken for a crash.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = color(COLORS[index % COLORS.length], `[${node.name}]`);
  prefixLines(child.stdout, prefix);
  prefixLines(child.stderr, prefix);
  node.child = child;
  node.exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      node.child = null;
      resolveExit();
      onExit(node, code, signal);
    });
  });
}

async function clusterPeers(node) {
  try {
    const response = await fetch(`${node.url}/cluster`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) return 0;
    const body = await response.json();
    return body?.result?.status === 'enabled' ? Object.keys(body.result.peers ?? {}).length : 0;
  } catch {
    return 0; // not listening yet
  }
}

/** A path relative to the working directory when it lies below it, else absolute. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `test` until it holds, the deadline passes (false), or `cancelled()` turns true. */
async function until(test, deadline, cancelled) {
  while (!cancelled()) {
    if (await test()) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return false;
}

async function main() {
  const opts = options();
  buildIfMissing();
  const nodes = plan(opts);
  let stopping = null;

  const stop = (code) => {
    stopping ??= (async () => {
      const alive = nodes.filter((n) => n.child !== null);
      if (alive.length > 0) say(`stopping ${alive.map((n) => n.name).join(', ')}`);
      for (const n of alive) n.child?.kill('SIGTERM');
      const all = Promise.all(nodes.map((n) => n.exited ?? Promise.resolve()));
      const timer = setTimeout(() => {
        for (const n of nodes) {
          if (n.child === null) continue;
          say(`${n.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM: SIGKILL`);
          n.child.kill('SIGKILL');
        }
      }, STOP_GRACE_MS);
      await all;
      clearTimeout(timer);
      say(code === 0 ? 'all nodes stopped' : 'all nodes stopped after a failure');
      process.exit(code);
    })();
    return stopping;
  };

  const onExit = (node, code, signal) => {
    if (stopping !== null) return;
    say(`${node.name} exited unexpectedly (${signal === null ? `exit code ${code}` : `signal ${signal}`})`);
    void stop(1);
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (stopping !== null) {
        // A second Ctrl-C: do not wait for the grace period.
        for (const n of nodes) n.child?.kill('SIGKILL');
        return;
      }
      say(`${signal}: stopping the cluster`);
      void stop(0);
    });
  }
  // Last resort if this script dies on an error: never leave nodes running behind it.
  process.on('exit', () => {
    for (const n of nodes) n.child?.kill('SIGKILL');
  });

  const deadline = Date.now() + FORM_TIMEOUT_MS;
  const cancelled = () => stopping !== null;
  start(nodes[0], 0, onExit);
  // The others join through node 1's p2p port, which opens before its REST port: wait until
  // GET /cluster answers. Not /readyz: after a restart node 1 alone cannot elect a leader, and
  // stays unready until the others are back.
  if (!(await until(async () => (await clusterPeers(nodes[0])) > 0, deadline, cancelled))) {
    if (!cancelled()) say(`node1 did not answer GET /cluster within ${FORM_TIMEOUT_MS / 1000} s`);
    return stop(1);
  }
  for (let i = 1; i < NODES; i++) start(nodes[i], i, onExit);
  const formed = await until(async () => (await Promise.all(nodes.map(clusterPeers))).every((n) => n === NODES), deadline, cancelled);
  if (!formed) {
    if (!cancelled()) say(`the nodes did not all see ${NODES} peers within ${FORM_TIMEOUT_MS / 1000} s`);
    return stop(1);
  }
  say(`cluster ready: ${NODES} peers`);
  for (const n of nodes) {
    say(`  ${n.name}  pid ${n.child?.pid}  REST ${n.url}  gRPC ${n.grpc}  p2p ${n.p2pUri}  storage ${shown(n.storage)}`);
  }
  say(`try: npx shoal --url ${nodes[0].url} cluster peers    (Ctrl-C stops all nodes)`);
}

main().catch((error) => {
  process.stderr.write(`cluster: ${error?.stack ?? error}\n`);
  process.exit(1);
});
