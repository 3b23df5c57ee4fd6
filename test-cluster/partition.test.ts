// Partitions between three real nodes in a private network namespace: partition-scenario.ts runs
// inside `unshare --net` (nodes on 127.0.0.1/2/3, each link cut with ip rules and every cut
// verified by probes) and records every client operation; here its history is checked: no
// acknowledged write lost, no acknowledged delete undone, replicas identical, alias operations
// and linearizable alias reads linearizable. A run counts only if the probes agreed with every
// cut and the faults had an effect (writes acknowledged and writes failing during cuts, a new
// term when the leader was cut off).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/harness.js';
import { checkData, checkMeta, type DataOp } from './history.js';
import type { ScenarioOutput } from './partition-scenario.js';

const SOAK = process.env['SHOAL_SOAK'] === '1';
const CYCLES = SOAK ? 4 : 1;
const HOLD_MS = SOAK ? 8_000 : 5_000;
const RUN_BOUND_MS = SOAK ? 900_000 : 360_000;
const SEED = Number(process.env['SHOAL_PARTITION_SEED'] ?? String(Math.floor(Math.random() * 1_000_000)));
const SCRIPT = join(REPO_ROOT, 'test-cluster/dist/partition-scenario.js');
const SOURCES = ['partition-scenario.ts', 'history.ts', 'netns.ts'].map((f) => join(REPO_ROOT, 'test-cluster', f));

/** Why partitions cannot run here, or null: they need root and `unshare --net`. */
function unavailable(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: network namespaces, ip rules and per-node users need it';
  try {
    execFileSync('unshare', ['--net', 'ip', 'rule', 'add', 'from', '127.0.0.1', 'to', '127.0.0.3', 'prohibit', 'pref', '10'], { stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    return `unshare --net with ip rules failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
  return null;
}

const skipReason = unavailable();
if (skipReason !== null) process.stderr.write(`partition test skipped: ${skipReason}\n`);

const workDir = mkdtempSync(join(tmpdir(), 'shoal-partition-out-'));
/** A failed run's history stays for a look. */
let keep = false;
afterAll(() => {
  if (keep || process.env['SHOAL_KEEP_HISTORY'] === '1') process.stderr.write(`partition history kept in ${workDir}\n`);
  else rmSync(workDir, { recursive: true, force: true });
});

/** Runs the scenario in its own namespace and process group; all of it is killed past the bound. */
function runScenario(out: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--net', process.execPath, SCRIPT, '--out', out, '--seed', String(SEED), '--cycles', String(CYCLES), '--hold-ms', String(HOLD_MS), '--max-ms', String(RUN_BOUND_MS)], {
      detached: true,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      process.stderr.write(c);
    });
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(killGroup, RUN_BOUND_MS + 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      killGroup(); // nodes left behind by a crashed run
      resolve({ code, stderr });
    });
  });
}

const within = (op: DataOp, from: number, to: number): boolean => op.invokeMs >= from && op.invokeMs <= to;

describe('partitions in a private network namespace', () => {
  it.skipIf(skipReason !== null)(
    `no acknowledged write lost, no delete undone, replicas identical, aliases linearizable (${CYCLES} cycle(s) of 5 faults, ${HOLD_MS} ms each)`,
    async () => {
      expect(existsSync(SCRIPT), `${SCRIPT} missing: build first (npm run build)`).toBe(true);
      // Each source against its own output: tsc -b rewrites only the outputs that changed.
      for (const source of SOURCES) {
        const output = join(REPO_ROOT, 'test-cluster/dist', basename(source).replace(/\.ts$/, '.js'));
        expect(existsSync(output) && statSync(source).mtimeMs <= statSync(output).mtimeMs, `${source} is newer than its build: npm run build`).toBe(true);
      }

      const outFile = join(workDir, 'history.json');
      keep = true;
      const started = performance.now();
      const run = await runScenario(outFile);
      expect(run.code, `the scenario failed (seed ${SEED}):\n${run.stderr.slice(-4000)}`).toBe(0);
      const o = JSON.parse(readFileSync(outFile, 'utf8')) as ScenarioOutput;

      // The run counts only if every cut did what it should, and nothing else was cut.
      expect(o.baselineMismatches).toEqual([]);
      for (const r of o.rounds) expect(r.probeMismatches, `${r.kind}: ${r.description}`).toEqual([]);
      expect(o.healMismatches).toEqual([]);
      expect(o.baselineProbes.length).toBe(9);

      // ... and if the faults had an effect.
      const inCuts = o.dataOps.filter((op) => o.rounds.some((r) => within(op, r.startMs, r.endMs)));
      const okInCuts = inCuts.filter((op) => op.outcome === 'ok').length;
      const notOkInCuts = inCuts.filter((op) => op.outcome !== 'ok').length;
      expect(okInCuts, 'writes acknowledged during cuts').toBeGreaterThan(0);
      expect(notOkInCuts, 'writes failed or unknown during cuts').toBeGreaterThan(0);
      for (const r of o.rounds.filter((x) => x.kind === 'isolate-leader')) {
        expect(r.termAfter!, `a new term after ${r.description}`).toBeGreaterThan(r.termBefore!);
        expect(r.leaderAfter).not.toBe(r.leaderBefore);
        expect(r.leaderAfter).not.toBeNull();
      }

      const data = checkData(o.dataOps, o.replicas, o.shards);
      const meta = checkMeta(o.metaOps, o.aliases);
      const count = (kind: string, outcome: string): number => o.dataOps.filter((op) => op.kind.startsWith(kind) && op.outcome === outcome).length;
      const metaCount = (kind: string, outcome: string): number => o.metaOps.filter((op) => op.kind === kind && op.outcome === outcome).length;
      process.stderr.write(
        `partitions (seed ${SEED}): acknowledged ${data.acknowledged}, lost ${data.lost.length}, resurrected ${data.resurrected.length} under ${o.rounds.length} partitions; ` +
          `points deleted ${data.deleted}, unknown ${data.unknown}; ` +
          `upserts ok/fail/unknown ${count('upsert', 'ok')}/${count('upsert', 'fail')}/${count('upsert', 'unknown')}, ` +
          `deletes ${count('delete', 'ok')}/${count('delete', 'fail')}/${count('delete', 'unknown')}; during cuts ${okInCuts} ok, ${notOkInCuts} not; ` +
          `alias writes ${metaCount('write', 'ok')}/${metaCount('write', 'fail')}/${metaCount('write', 'unknown')}, deletes ${metaCount('delete', 'ok')}/${metaCount('delete', 'fail')}/${metaCount('delete', 'unknown')}, ` +
          `reads ${meta.linearizableReads} linearizable + ${meta.localReads} local; ` +
          `green ${Math.round(o.greenMs)} ms after the last heal; run ${Math.round((performance.now() - started) / 1000)} s\n` +
          `schedule: ${o.rounds.map((r) => `${r.kind} [${r.description}]${r.termBefore === undefined ? '' : ` term ${r.termBefore}->${r.termAfter}`}`).join('; ')}\n`,
      );

      expect(o.countMismatches, 'replica point counts equal the points read from it').toEqual([]);
      expect(data.unread).toEqual([]);
      expect(data.acknowledged).toBeGreaterThan(0);
      // Counts and the first few of each kind, not thousands of lines.
      const problems = (list: readonly unknown[]): { count: number; first: unknown[] } => ({ count: list.length, first: list.slice(0, 5) });
      expect({
        lost: problems(data.lost),
        resurrected: problems(data.resurrected),
        phantom: problems(data.phantom),
        corrupted: problems(data.corrupted),
        diverged: problems(data.diverged),
      }).toEqual({ lost: problems([]), resurrected: problems([]), phantom: problems([]), corrupted: problems([]), diverged: problems([]) });
      expect(meta.linearizableReads).toBeGreaterThan(0);
      for (const [alias, verdict] of Object.entries(meta.registers)) expect(verdict, `alias ${alias}`).toMatchObject({ ok: true });
      expect(meta.impossibleReads).toEqual([]);
      expect(o.nodeErrors).toEqual([]);
      keep = false;
    },
    RUN_BOUND_MS + 60_000,
  );
});
