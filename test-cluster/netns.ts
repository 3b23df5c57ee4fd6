// Network faults between nodes that run inside a private network namespace (`unshare --net`):
// every node binds its own 127.0.0.N and runs as its own user, and each user's connections leave
// from its node's address (a routing table per user, chosen by a uidrange rule), so a rule
// `from 127.0.0.A to 127.0.0.B blackhole|prohibit` cuts exactly the link A -> B. Root (the test
// client and the probes' parent) sends from 127.0.0.9 and is never cut. Only for use inside a
// namespace the test created: the rules change the namespace's routing.
import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';

export const CLIENT_ADDRESS = '127.0.0.9';
/** Rule preferences: cuts below the per-user lookups (50), which sit below the local table (100). */
const CUT_PREF_MIN = 10;
const USER_PREF = 50;
const LOCAL_PREF = 100;
const PROBE_TIMEOUT_MS = 1_500;

export interface NetNode {
  /** 127.0.0.N */
  readonly host: string;
  readonly uid: number;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

export function ipRules(): string {
  return execFileSync('ip', ['rule', 'show'], { encoding: 'utf8', timeout: 10_000 });
}

/** Loopback up, our rules ahead of the local table, and each node user's source address. */
export function setUpNamespace(nodes: readonly NetNode[]): void {
  ip('link', 'set', 'lo', 'up');
  ip('rule', 'add', 'from', 'all', 'lookup', 'local', 'pref', String(LOCAL_PREF));
  ip('rule', 'del', 'pref', '0');
  const sources = [...nodes.map((n) => ({ host: n.host, uids: `${n.uid}-${n.uid}` })), { host: CLIENT_ADDRESS, uids: '0-0' }];
  sources.forEach((s, i) => {
    const table = String(100 + i + 1);
    ip('route', 'add', 'local', '127.0.0.0/8', 'dev', 'lo', 'src', s.host, 'table', table);
    ip('rule', 'add', 'uidrange', s.uids, 'lookup', table, 'pref', String(USER_PREF));
  });
}

export type CutMode = 'blackhole' | 'prohibit';

/** A cut link: packets from `from` to `to` are dropped (blackhole) or refused (prohibit). */
export interface Cut {
  readonly from: string;
  readonly to: string;
  readonly mode: CutMode;
}

/** The rules in place; `cut` adds, `heal` removes them all. */
export class Links {
  private cuts: Array<Cut & { pref: number }> = [];

  cut(cuts: readonly Cut[]): void {
    for (const c of cuts) {
      const pref = CUT_PREF_MIN + this.cuts.length;
      if (pref >= USER_PREF) throw new Error('too many cuts at once');
      ip('rule', 'add', 'from', c.from, 'to', c.to, c.mode, 'pref', String(pref));
      this.cuts.push({ ...c, pref });
    }
  }

  heal(): void {
    for (const c of this.cuts) ip('rule', 'del', 'pref', String(c.pref));
    this.cuts = [];
  }

  current(): readonly Cut[] {
    return this.cuts;
  }
}

/** Both directions of every pair, in `mode`. */
export function cutPairs(pairs: ReadonlyArray<readonly [string, string]>, mode: CutMode): Cut[] {
  return pairs.flatMap(([a, b]) => [{ from: a, to: b, mode }, { from: b, to: a, mode }]);
}

/**
 * A TCP connection A -> B needs both A -> B (the SYN) and B -> A (the answer): with either cut it
 * fails, by an error or a timeout.
 */
export function expectConnects(cuts: readonly Cut[], from: string, to: string): boolean {
  return !cuts.some((c) => (c.from === from && c.to === to) || (c.from === to && c.to === from));
}

export interface ProbeResult {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly connected: boolean;
  /** The connection's source address, or why it failed. */
  readonly detail: string;
  readonly expected: boolean;
}

// Runs as a node's user: connects to each target and prints one JSON line of results.
const PROBE_SCRIPT = `
const net = require('node:net');
const targets = JSON.parse(process.argv[1]);
const timeoutMs = Number(process.argv[2]);
Promise.all(targets.map((t) => new Promise((resolve) => {
  const s = net.connect({ host: t.host, port: t.port });
  const done = (connected, detail) => { clearTimeout(timer); s.destroy(); resolve({ ...t, connected, detail }); };
  const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
  s.once('connect', () => done(true, s.localAddress));
  s.once('error', (e) => done(false, e.code || String(e)));
}))).then((r) => { process.stdout.write(JSON.stringify(r)); });
`;

function probeAs(uid: number, targets: ReadonlyArray<{ host: string; port: number }>): Promise<Array<{ host: string; port: number; connected: boolean; detail: string }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE_SCRIPT, JSON.stringify(targets), String(PROBE_TIMEOUT_MS)], { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS + 20_000);
    // 'close', not 'exit': the child's output may still be in the pipe when it has exited.
    child.once('close', (code) => {
      clearTimeout(killer);
      try {
        resolve(JSON.parse(out) as Array<{ host: string; port: number; connected: boolean; detail: string }>);
      } catch {
        reject(new Error(`probe as uid ${uid} exited with ${code}: ${err}`));
      }
    });
  });
}

function probeRoot(host: string, port: number): Promise<{ connected: boolean; detail: string }> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (connected: boolean, detail: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ connected, detail });
    };
    const timer = setTimeout(() => done(false, 'timeout'), PROBE_TIMEOUT_MS);
    s.once('connect', () => done(true, s.localAddress ?? '?'));
    s.once('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? String(e)));
  });
}

/**
 * The whole connectivity matrix under `cuts`: each node's user to every other node's p2p port
 * (fails exactly for cut pairs), and root to every node's REST port (always connects).
 */
export async function probeMatrix(nodes: ReadonlyArray<NetNode & { readonly restPort: number }>, p2pPort: number, cuts: readonly Cut[]): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  const perUser = await Promise.all(
    nodes.map(async (n) => ({ from: n.host, answers: await probeAs(n.uid, nodes.filter((m) => m !== n).map((m) => ({ host: m.host, port: p2pPort }))) })),
  );
  for (const { from, answers } of perUser) {
    for (const a of answers) results.push({ from, to: a.host, port: a.port, connected: a.connected, detail: a.detail, expected: expectConnects(cuts, from, a.host) });
  }
  const rest = await Promise.all(nodes.map(async (n) => ({ n, r: await probeRoot(n.host, n.restPort) })));
  for (const { n, r } of rest) results.push({ from: CLIENT_ADDRESS, to: n.host, port: n.restPort, connected: r.connected, detail: r.detail, expected: true });
  return results;
}

/** Probes that did not do what the cuts say they should, or connected from another address. */
export function probeMismatches(results: readonly ProbeResult[]): ProbeResult[] {
  return results.filter((r) => r.connected !== r.expected || (r.connected && r.detail !== r.from));
}
