// `npm run cluster` (scripts/cluster.mjs) as a user runs it: three real nodes form a cluster,
// Ctrl-C stops them all and exits 0; a node that dies stops the others and exits 1. Needs the
// built server (npm test builds first). Ports and storage are the test's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../scripts/cluster.mjs', import.meta.url));
/** Longest wait for the script to report the cluster formed, ms (a cold start takes a few s). */
const READY_TIMEOUT_MS = 60_000;

interface Running {
  readonly child: ChildProcess;
  readonly storage: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const started: Running[] = [];

afterEach(() => {
  for (const r of started.splice(0)) {
    // If an assertion failed half-way, leave no node behind.
    for (const pid of nodePids(r.output())) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    rmSync(r.storage, { recursive: true, force: true });
  }
});

/**
 * A base port with room for three nodes (base .. base + 22): below the other multi-process
 * tests' 20000-40000 and the kernel's ephemeral ports (32768 up), away from 6333.
 */
function basePort(): number {
  return 10_000 + 30 * Math.floor(Math.random() * 330);
}

function startScript(port: number): Running {
  const storage = mkdtempSync(join(tmpdir(), 'shoal-local-cluster-'));
  const child = spawn(process.execPath, [SCRIPT, '--base-port', String(port), '--storage', storage], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const running = { child, storage, exit, output: () => output };
  started.push(running);
  return running;
}

/** Waits for the "cluster ready" report; returns the node pids it lists. */
async function ready(r: Running): Promise<number[]> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!/\[cluster\] cluster ready: 3 peers/.test(r.output()) || nodePids(r.output()).length < 3) {
    if (r.child.exitCode !== null) throw new Error(`the script exited with ${r.child.exitCode}:\n${r.output()}`);
    if (Date.now() > deadline) throw new Error(`no cluster within ${READY_TIMEOUT_MS} ms:\n${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return nodePids(r.output());
}

function nodePids(output: string): number[] {
  return [...output.matchAll(/\[cluster\]\s+node\d\s+pid (\d+)/g)].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function peersSeenBy(url: string): Promise<number> {
  const body = (await (await fetch(`${url}/cluster`)).json()) as { result: { peers: Record<string, unknown> } };
  return Object.keys(body.result.peers).length;
}

describe('npm run cluster', () => {
  it('starts three nodes that see each other, prefixes their logs, and stops them all on SIGINT with exit 0', async () => {
    const port = basePort();
    const r = startScript(port);
    const pids = await ready(r);
    expect(pids).toHaveLength(3);
    for (const rest of [port, port + 10, port + 20]) expect(await peersSeenBy(`http://127.0.0.1:${rest}`)).toBe(3);
    expect(r.output()).toMatch(/^\[node2\] \{.*"msg":"REST API listening"/m);
    expect(r.output()).toContain(`p2p http://127.0.0.1:${port + 22}`);

    r.child.kill('SIGINT');
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(pids.filter(alive)).toEqual([]);
    expect(r.output()).toMatch(/\[cluster\] all nodes stopped\n/);
  });

  it('stops the others and exits 1 when a node dies', async () => {
    const r = startScript(basePort());
    const pids = await ready(r);
    process.kill(pids[1]!, 'SIGKILL');
    expect(await r.exit).toEqual({ code: 1, signal: null });
    expect(r.output()).toMatch(/node2 exited unexpectedly \(signal SIGKILL\)/);
    expect(pids.filter(alive)).toEqual([]);
  });
});
