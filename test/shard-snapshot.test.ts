// GET /collections/{c}/shards/{id}/snapshot on a standalone node: the shard archive streamed as
// application/octet-stream, readable as a plain tar, restorable into a shard that holds the same
// points; 404 in the error envelope for an unknown collection or shard.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeFileSystem } from '@shoal/common';
import { InlineExecutor, LocalShard, restoreShardArchive } from '@shoal/shard';
import { Rand, useServer } from './support.js';

const shoal = useServer();
const DIM = 4;

/** Entry names and sizes of a ustar stream, read here without the tar binary. */
function tarEntries(bytes: Uint8Array): { name: string; size: number }[] {
  const out: { name: string; size: number }[] = [];
  const text = new TextDecoder();
  let at = 0;
  while (at + 512 <= bytes.length) {
    const block = bytes.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    expect(text.decode(block.subarray(257, 263))).toBe('ustar\u0000');
    const end = block.indexOf(0);
    const name = text.decode(block.subarray(0, end < 0 || end > 100 ? 100 : end));
    const size = parseInt(text.decode(block.subarray(124, 135)), 8);
    out.push({ name, size });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

async function snapshot(path: string): Promise<Response> {
  return fetch(`${shoal.server.url}${path}`);
}

describe('GET /collections/{c}/shards/{id}/snapshot', () => {
  it('streams the shard as a tar archive that restores to the same points', async () => {
    const rand = new Rand(5);
    await shoal.client.createCollection('snap', {
      vectors: { size: DIM, distance: 'Dot' },
      shard_number: 2,
      optimizers_config: { indexing_threshold: 8 },
    });
    for (let batch = 0; batch < 6; batch++) {
      const points = Array.from({ length: 250 }, (_, i) => ({ id: batch * 250 + i, vector: rand.vector(DIM), payload: { n: batch * 250 + i } }));
      await shoal.client.upsert('snap', { wait: true, points });
    }
    await shoal.client.delete('snap', { wait: true, points: [0, 1, 2, 3, 700, 701, 1499] });

    const response = await snapshot('/collections/snap/shards/1/snapshot');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="snap-\d+-shard-1-seq-\d+\.tar"$/);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(bytes.length).toBe(Number(response.headers.get('content-length')));
    const entries = tarEntries(bytes);
    expect(entries[0]!.name).toBe('shoal-shard.json');
    expect(entries[1]!.name).toBe('segment.img');
    expect(entries.at(-1)!.name).toBe('shoal-archive.crc32c');
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(512, 512 + entries[0]!.size))) as {
      collection: string; shardId: number; seq: number; files: { path: string; length: number }[];
    };
    expect(header).toMatchObject({ collection: 'snap', shardId: 1 });
    expect(header.seq).toBeGreaterThan(0);
    // Sealed segment files travel besides the image.
    expect(header.files.filter((f) => f.path.startsWith('segments/')).length).toBeGreaterThan(0);
    expect(entries.slice(1, -1).map((e) => [e.name, e.size])).toEqual(header.files.map((f) => [f.path, f.length]));

    const dir = mkdtempSync(join(tmpdir(), 'shoal-snap-'));
    try {
      // The tar binary reads it as a plain archive.
      writeFileSync(join(dir, 'shard.tar'), bytes);
      const listed = execFileSync('tar', ['tf', join(dir, 'shard.tar')], { encoding: 'utf8' }).trim().split('\n');
      expect(listed).toEqual(entries.map((e) => e.name));

      const fs = new NodeFileSystem();
      await restoreShardArchive(fs, (async function* () { yield bytes; })(), join(dir, 'restored'));
      const schema = { vectors: new Map([['', { size: DIM, distance: 'Dot' as const, onDisk: null, datatype: null }]]) };
      const restored = await LocalShard.open({ fs, dir: join(dir, 'restored'), schema, executor: new InlineExecutor(), flushPolicy: { intervalMs: null } });
      const local = restored.scroll({ filter: null, offset: null, limit: 10_000, withPayload: { kind: 'all' }, withVector: true }).points;
      await restored.close();
      expect(local.length).toBeGreaterThan(0);
      // The restored shard holds exactly the points the server returns for those ids.
      const ids = local.map((p) => p.id as number);
      const served = await shoal.client.retrieve('snap', { ids, with_payload: true, with_vector: true });
      expect(served.length).toBe(ids.length);
      const byId = new Map(served.map((p) => [p.id, p]));
      for (const point of local) {
        const other = byId.get(point.id as number);
        expect(other?.payload).toEqual(point.payload);
        expect(other?.vector).toEqual(Array.from(point.vectors!.get('')!));
      }
      // Both shards' archives together hold every live point once.
      const zero = new Uint8Array(await (await snapshot('/collections/snap/shards/0/snapshot')).arrayBuffer());
      await restoreShardArchive(fs, (async function* () { yield zero; })(), join(dir, 'zero'));
      const other = await LocalShard.open({ fs, dir: join(dir, 'zero'), schema, executor: new InlineExecutor(), flushPolicy: { intervalMs: null } });
      const count = other.count(null);
      await other.close();
      expect(count + local.length).toBe((await shoal.client.count('snap', { exact: true })).count);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 404 in the error envelope for an unknown collection or shard, 400 for a bad shard id', async () => {
    await shoal.client.createCollection('one', { vectors: { size: DIM, distance: 'Dot' } });
    for (const [path, status, message] of [
      ['/collections/nope/shards/0/snapshot', 404, /Collection `nope` doesn't exist/],
      ['/collections/one/shards/7/snapshot', 404, /Shard 7 of collection `one` does not exist/],
      ['/collections/one/shards/x/snapshot', 400, /shard_id/],
    ] as const) {
      const response = await snapshot(path);
      expect(response.status, path).toBe(status);
      expect(response.headers.get('content-type')).toContain('application/json');
      const body = (await response.json()) as { status: { error: string }; time: number };
      expect(body.status.error).toMatch(message);
      expect(typeof body.time).toBe('number');
    }
    // The other shard snapshot routes are still declined clearly.
    const list = await snapshot('/collections/one/shards/0/snapshots');
    expect(list.status).toBe(400);
  });
});
