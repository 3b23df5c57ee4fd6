import { describe, it, expect } from 'vitest';
import {
  MemoryFileSystem,
  encodeJson,
  seededRng,
  type JsonValue,
  type NamedVectors,
  type Payload,
  type PointId,
  type PointOperation,
  type Rng,
} from '@shoal/common';
import { createSegment, type SegmentSchema } from '@shoal/segment';
import { InlineExecutor } from './executor.js';
import { LocalShard, type LocalShardOptions } from './shard.js';

// Seeded crash runs: concurrent updates and flushes on a file system that loses power at a
// random I/O operation (dropping unsynced bytes, tearing the last write). After each crash the
// shard is reopened and must hold exactly the first k issued updates for some k that covers
// every acknowledged one.

const SEEDS = 200;
const GENERATIONS = 3;
const STEPS = 40;

const schema: SegmentSchema = {
  vectors: new Map([
    ['', { size: 3, distance: 'Cosine', onDisk: null, datatype: null }],
    ['img', { size: 2, distance: 'Dot', onDisk: null, datatype: null }],
  ]),
};
const all = { kind: 'all' } as const;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)] as T;
const randomId = (rng: Rng): PointId => (rng.int(6) === 0 ? 2n ** 62n + BigInt(rng.int(3)) : 1 + rng.int(12));
const randomIds = (rng: Rng): PointId[] => Array.from({ length: 1 + rng.int(3) }, () => randomId(rng));

function randomValue(rng: Rng): JsonValue {
  return pick<() => JsonValue>(rng, [
    () => rng.int(1000) - 500,
    () => rng.next() * 10,
    () => pick(rng, ['x', 'ünïcødé ✓', 'with "quotes" and \\ and\nnewline', '']),
    () => -(2n ** 64n) - BigInt(rng.int(9)),
    () => ({ inner: rng.int(5), list: [true, null, rng.int(3)] }),
    () => null,
  ])();
}

function randomPayload(rng: Rng): Payload {
  const payload: Payload = {};
  for (const key of ['a', 'b', 'tag', 'deep']) if (rng.int(2) === 0) payload[key] = randomValue(rng);
  return payload;
}

function randomVectors(rng: Rng, withDefault: boolean): NamedVectors {
  const vectors: NamedVectors = new Map();
  if (withDefault || rng.int(2) === 0) vectors.set('', Float32Array.from([rng.next(), -rng.next(), rng.int(3) / 7]));
  if (rng.int(2) === 0) vectors.set('img', Float32Array.from([rng.next(), 1e-30 * rng.next()]));
  return vectors;
}

function randomOp(rng: Rng): PointOperation {
  const selector = { kind: 'ids' as const, ids: randomIds(rng) };
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
      return { kind: 'upsert', points: randomIds(rng).map((id) => ({ id, vectors: randomVectors(rng, true), payload: rng.int(4) === 0 ? null : randomPayload(rng) })) };
    case 3:
      return { kind: 'delete_points', selector };
    case 4:
      return { kind: 'set_payload', selector, payload: randomPayload(rng), key: null };
    case 5:
      return { kind: 'overwrite_payload', selector, payload: randomPayload(rng) };
    case 6:
      return { kind: 'delete_payload', selector, keys: ['a', 'tag'].filter(() => rng.int(2) === 0) };
    case 7:
      return { kind: 'clear_payload', selector };
    case 8:
      return { kind: 'update_vectors', points: randomIds(rng).map((id) => ({ id, vectors: randomVectors(rng, false) })) };
    default:
      return { kind: 'delete_vectors', selector, vectorNames: ['img'] };
  }
}

/** The whole state as text, for comparison. */
function dump(source: Pick<LocalShard, 'scroll'>): string {
  const page = source.scroll({ filter: null, offset: null, limit: 10_000, withPayload: all, withVector: true });
  const points = page.points.map((p) => [p.id, p.payload, [...(p.vectors ?? new Map<string, Float32Array>())].sort().map(([name, v]) => [name, Array.from(v)])]);
  return encodeJson(points).text;
}

const spin = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

interface Totals {
  runs: number;
  issued: number;
  acknowledged: number;
  lost: number;
  mismatches: number;
  tornTails: number;
  crashesDuringIo: number;
  flushes: number;
}

type Hook = (op: string, path: string) => Promise<void>;

async function runSeed(seed: number, totals: Totals): Promise<void> {
  const rng = seededRng(seed);
  const crashRng = seededRng(seed ^ 0x5eed);
  const hookRef: { current: Hook } = { current: async () => spin(rng.int(3)) };
  const hooks = { beforeOp: (op: string, path: string): Promise<void> => hookRef.current(op, path) };
  let disk = new MemoryFileSystem(hooks);
  let history: PointOperation[] = [];
  const base = {
    dir: '/storage/collections/c/shards/0',
    schema,
    executor: new InlineExecutor(),
    walOptions: { segmentBytes: 256 + rng.int(1024) },
    flushPolicy: { walBytesMax: 300 + rng.int(3000), intervalMs: null },
    walKeepTail: rng.int(4),
    log: (event: { level: string }) => {
      if (event.level === 'warn') totals.tornTails++;
    },
  } satisfies Omit<LocalShardOptions, 'fs'>;

  for (let generation = 0; generation < GENERATIONS; generation++) {
    const current = disk;
    let crashed: MemoryFileSystem | null = null;
    let count = 0;
    const crashAt = 1 + rng.int(120);
    hookRef.current = async () => {
      count++;
      if (crashed === null && count === crashAt && !current.isCrashed) crashed = current.crash(crashRng, hooks);
      await spin(rng.int(4));
    };
    const issued = [...history];
    const acked: number[] = [];
    await drive(current, base, rng, issued, acked, totals);
    if (crashed === null) crashed = current.crash(crashRng, hooks);
    else totals.crashesDuringIo++;

    // Recover without further crashes and compare with the model.
    const recovered = await LocalShard.open({ ...base, fs: crashed });
    const k = recovered.info().appliedSeq;
    totals.runs++;
    totals.issued += issued.length - history.length;
    totals.acknowledged += acked.length;
    totals.lost += acked.filter((seq) => seq > k).length + Math.max(0, history.length - k);
    expect(k).toBeLessThanOrEqual(issued.length);
    const model = createSegment(schema);
    for (const op of issued.slice(0, k)) model.apply(op);
    if (dump(recovered) !== dump(model)) totals.mismatches++;
    history = issued.slice(0, k);
    await recovered.close({ flush: rng.int(2) === 0 });
    disk = crashed;
  }
}

async function drive(
  fs: MemoryFileSystem,
  base: Omit<LocalShardOptions, 'fs'>,
  rng: Rng,
  issued: PointOperation[],
  acked: number[],
  totals: Totals,
): Promise<void> {
  let shard: LocalShard;
  try {
    shard = await LocalShard.open({ ...base, fs });
  } catch (error) {
    expect(fs.isCrashed).toBe(true); // only the power loss may stop it
    return;
  }
  const pending: Promise<unknown>[] = [];
  for (let step = 0; step < STEPS && !fs.isCrashed; step++) {
    const roll = rng.int(20);
    if (roll < 13) {
      const op = randomOp(rng);
      issued.push(op);
      pending.push(shard.update(op).then((r) => acked.push(r.seq), () => undefined));
    } else if (roll < 15) {
      pending.push(shard.flush().then(() => totals.flushes++, () => undefined));
    } else if (roll < 19) {
      await spin(rng.int(30));
    } else {
      await Promise.allSettled(pending);
    }
  }
  await Promise.allSettled(pending);
}

describe('LocalShard crash safety', () => {
  it(`loses no acknowledged update across ${SEEDS} seeds x ${GENERATIONS} power losses`, async () => {
    const totals: Totals = { runs: 0, issued: 0, acknowledged: 0, lost: 0, mismatches: 0, tornTails: 0, crashesDuringIo: 0, flushes: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) await runSeed(seed, totals);
    console.log(
      `crash test: ${totals.runs} crash/recover runs (${SEEDS} seeds x ${GENERATIONS}), ${totals.issued} updates issued, ` +
        `${totals.acknowledged} acknowledged, ${totals.lost} acknowledged lost, ${totals.mismatches} state mismatches, ` +
        `${totals.crashesDuringIo} crashes in the middle of I/O, ${totals.tornTails} torn WAL tails cut, ${totals.flushes} explicit flushes completed`,
    );
    expect(totals.runs).toBe(SEEDS * GENERATIONS);
    expect(totals.acknowledged).toBeGreaterThan(SEEDS * 5);
    expect(totals.crashesDuringIo).toBeGreaterThan(totals.runs / 3);
    expect(totals.tornTails).toBeGreaterThan(0);
    expect(totals.lost).toBe(0);
    expect(totals.mismatches).toBe(0);
  });
});
