// Metadata proposal throughput on a 3-node loopback cluster (127.0.0.1/2/3), through REST:
// concurrent clients, spread over the three nodes (followers forward to the leader), each
// changing an alias in a loop; every change is one Raft entry, answered once applied on the
// node that received it. Prints one line. Needs a build (`npx tsc -b`).
//
//   node scripts/bench-raft.mjs [--clients 8] [--seconds 10]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '8' }, seconds: { type: 'string', default: '10' } } });
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const MAIN = fileURLToPath(new URL('../packages/server/dist/main.js', import.meta.url));
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const P2P_PORT = 20_000 + Math.floor(Math.random() * 20_000);

function start(host, args) {
  const storage = mkdtempSync(join(tmpdir(), 'shoal-bench-raft-'));
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: storage,
    env: {
      PATH: process.env.PATH ?? '',
      QDRANT__CLUSTER__ENABLED: 'true',
      QDRANT__SERVICE__HOST: host,
      QDRANT__SERVICE__HTTP_PORT: '0',
      QDRANT__CLUSTER__P2P__PORT: String(P2P_PORT),
      QDRANT__STORAGE__STORAGE_PATH: join(storage, 'storage'),
      QDRANT__LOG_LEVEL: 'INFO',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  return { child, storage, host, output: () => output };
}

async function until(what, test, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await test();
      if (v) return v;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not reached in ${timeoutMs} ms`);
}

async function call(url, method, path, body) {
  const r = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json.result;
}

// The REST port is chosen by the OS (port 0) and read from the "REST API listening" log line.
async function restUrl(node) {
  return until(`${node.host} REST port`, async () => {
    const m = /"port":(\d+)[^\n]*"msg":"REST API listening"/.exec(node.output());
    return m ? `http://${node.host}:${m[1]}` : undefined;
  });
}

const nodes = [];
try {
  const first = `http://${HOSTS[0]}:${P2P_PORT}`;
  for (const [i, host] of HOSTS.entries()) {
    const uri = `http://${host}:${P2P_PORT}`;
    nodes.push(start(host, i === 0 ? ['--uri', uri] : ['--bootstrap', first, '--uri', uri]));
    if (i === 0) await until('first node', async () => /REST API listening/.test(nodes[0].output()));
  }
  const urls = [];
  for (const n of nodes) urls.push(await restUrl(n));
  await until('3 voters', async () => {
    const all = await Promise.all(urls.map((u) => call(u, 'GET', '/cluster')));
    return all.every((s) => s.raft_info.is_voter && s.raft_info.leader !== null && Object.keys(s.peers).length === 3);
  });
  await call(urls[1], 'PUT', '/collections/bench', { vectors: { size: 4, distance: 'Dot' } });

  const latencies = [];
  let errors = 0;
  const endAt = performance.now() + SECONDS * 1000;
  const client = async (c) => {
    const url = urls[c % urls.length];
    for (let i = 0; performance.now() < endAt; i++) {
      const t = performance.now();
      try {
        await call(url, 'POST', '/collections/aliases', { actions: [{ create_alias: { collection_name: 'bench', alias_name: `a${c}_${i % 16}` } }] });
        latencies.push(performance.now() - t);
      } catch {
        errors += 1;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  // Ticks run on each node's event loop: its worst delay bounds how late a heartbeat can be.
  let loopDelayMaxMs = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /process_event_loop_delay_seconds\{quantile="1"\} ([0-9.e-]+)/.exec(text);
    if (m) loopDelayMaxMs = Math.max(loopDelayMaxMs, Number(m[1]) * 1000);
  }
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  console.log(
    `raft proposals on a 3-node loopback cluster: ${Math.round(latencies.length / elapsed)} alias changes/s ` +
      `(${CLIENTS} clients over 3 nodes, ${latencies.length} in ${elapsed.toFixed(1)} s, p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, errors ${errors}, ` +
      `event-loop delay max ${loopDelayMaxMs.toFixed(0)} ms)`,
  );
} finally {
  for (const n of nodes) n.child.kill('SIGKILL');
  for (const n of nodes) rmSync(n.storage, { recursive: true, force: true });
}
