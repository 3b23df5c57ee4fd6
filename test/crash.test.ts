// A real node killed with SIGKILL while several clients upsert with wait=true, restarted on the
// same storage, round after round: every acknowledged point must be back with its payload.
import { afterAll, describe, expect, it } from 'vitest';
import { removeStorage, startServer, tempStorage, unexpectedErrors, type ServerProcess } from './harness.js';
import { call, Rand, resultOf, sleep } from './support.js';

const ROUNDS = 4;
const WRITERS = 4;
const BATCH = 20;
const KILL_AFTER_MS_MIN = 300;
const KILL_AFTER_MS_MAX = 1200;

interface Acked {
  readonly id: number;
  readonly payload: { round: number; writer: number; seq: number; text: string };
}

const storage = tempStorage('shoal-crash-');
let server: ServerProcess | null = null;

afterAll(async () => {
  await server?.kill();
  removeStorage(storage);
});

/** Upserts batches until a request fails (the node was killed); returns what was acknowledged. */
async function writer(url: string, round: number, w: number, acked: Acked[]): Promise<void> {
  for (let seq = 0; ; seq++) {
    const batch: Acked[] = Array.from({ length: BATCH }, (_, i) => {
      const id = round * 10_000_000 + w * 1_000_000 + seq * BATCH + i;
      return { id, payload: { round, writer: w, seq, text: `r${round}w${w}s${seq}i${i} ünïcode ✓` } };
    });
    const body = { points: batch.map((p) => ({ id: p.id, vector: [p.id % 7, w, seq % 5, 1], payload: p.payload })) };
    let status: number;
    try {
      status = (await call(url, 'PUT', '/collections/crash/points?wait=true', body)).status;
    } catch (error) {
      // fetch fails with a TypeError when the connection is refused or reset: the node is gone.
      if (error instanceof TypeError) return;
      throw error;
    }
    if (status !== 200) throw new Error(`upsert answered ${status} while the node was up`);
    acked.push(...batch);
  }
}

/** Points missing or with a different payload after the restart. */
async function lostPoints(url: string, acked: readonly Acked[]): Promise<number[]> {
  const lost: number[] = [];
  for (let i = 0; i < acked.length; i += 500) {
    const chunk = acked.slice(i, i + 500);
    const got = resultOf<{ id: number; payload: unknown }[]>(await call(url, 'POST', '/collections/crash/points', { ids: chunk.map((p) => p.id), with_payload: true }));
    const byId = new Map(got.map((p) => [p.id, JSON.stringify(p.payload)]));
    for (const p of chunk) if (byId.get(p.id) !== JSON.stringify(p.payload)) lost.push(p.id);
  }
  return lost;
}

describe('SIGKILL during acknowledged upserts', () => {
  it('loses no acknowledged point over several kill and restart rounds', async () => {
    const rand = new Rand(0xc0ffee);
    server = await startServer({ storage });
    expect((await call(server.url, 'PUT', '/collections/crash', { vectors: { size: 4, distance: 'Dot' } })).status).toBe(200);
    const acked: Acked[] = [];
    let lost: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const url = server.url;
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(url, round, w, acked));
      await sleep(rand.int(KILL_AFTER_MS_MIN, KILL_AFTER_MS_MAX));
      await server.kill();
      await Promise.all(writers);
      expect(unexpectedErrors(server.output())).toEqual([]);
      server = await startServer({ storage });
      lost = await lostPoints(server.url, acked);
      if (lost.length > 0) break;
    }
    const count = resultOf<{ count: number }>(await call(server.url, 'POST', '/collections/crash/points/count', { exact: true })).count;
    console.log(`crash: rounds ${ROUNDS}, writers ${WRITERS}, acknowledged ${acked.length}, lost ${lost.length}, points after restart ${count}`);
    expect(acked.length).toBeGreaterThan(ROUNDS * WRITERS * BATCH);
    expect(lost.slice(0, 20)).toEqual([]);
    expect(count).toBeGreaterThanOrEqual(acked.length);
    // Still a working node: a write and a read after the last restart.
    expect((await call(server.url, 'PUT', '/collections/crash/points?wait=true', { points: [{ id: 1, vector: [1, 1, 1, 1] }] })).status).toBe(200);
    expect(await lostPoints(server.url, acked.slice(-50))).toEqual([]);
  }, 120_000);
});
