import { describe, it, expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryFileSystem,
  NodeFileSystem,
  ShoalError,
  seededRng,
  type AppendFile,
  type FileSystem,
} from '@shoal/common';
import { Wal } from './wal.js';
import { crc32c } from '@shoal/common';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function readAll(wal: Wal, from = 1): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  await wal.replay(from, (seq, payload) => {
    out.push([seq, str(payload)]);
  });
  return out;
}

/** Counts fsyncs of files, by wrapping another FileSystem. */
class CountingFs implements FileSystem {
  syncs = 0;
  constructor(private readonly inner: FileSystem) {}
  mkdirp = (p: string): Promise<void> => this.inner.mkdirp(p);
  list = (p: string): Promise<string[]> => this.inner.list(p);
  exists = (p: string): Promise<boolean> => this.inner.exists(p);
  readFile = (p: string): Promise<Uint8Array | null> => this.inner.readFile(p);
  rename = (a: string, b: string): Promise<void> => this.inner.rename(a, b);
  remove = (p: string): Promise<void> => this.inner.remove(p);
  removeDir = (p: string): Promise<void> => this.inner.removeDir(p);
  syncDir = (p: string): Promise<void> => this.inner.syncDir(p);
  async openAppend(path: string): Promise<AppendFile> {
    const file = await this.inner.openAppend(path);
    const sync = async (): Promise<void> => {
      this.syncs++;
      await file.sync();
    };
    return {
      get size() {
        return file.size;
      },
      append: (d) => file.append(d),
      sync,
      truncate: (n) => file.truncate(n),
      close: () => file.close(),
    };
  }
}

async function rewrite(fs: MemoryFileSystem, path: string, change: (bytes: Uint8Array) => void): Promise<void> {
  const bytes = await fs.readFile(path);
  if (bytes === null) throw new Error(`missing ${path}`);
  change(bytes);
  await fs.remove(path);
  const file = await fs.openAppend(path);
  await file.append(bytes);
  await file.sync();
  await file.close();
}

describe('crc32c', () => {
  it('matches the standard check value and chains', () => {
    expect(crc32c(text('123456789'))).toBe(0xe3069283);
    const data = text('The quick brown fox jumps over the lazy dog, twice over.');
    expect(crc32c(data, 20, data.length, crc32c(data, 0, 20))).toBe(crc32c(data));
  });
});

describe('Wal', () => {
  it('replays what was appended, in order, after a reopen', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/data/wal');
    expect(wal.lastSeq).toBe(0);
    for (let i = 1; i <= 10; i++) expect(await wal.append(text(`r${i}`))).toBe(i);
    await wal.close();
    const again = await Wal.open(fs, '/data/wal');
    expect(again.lastSeq).toBe(10);
    expect(await readAll(again, 8)).toEqual([[8, 'r8'], [9, 'r9'], [10, 'r10']]);
    expect(await again.append(text('r11'))).toBe(11);
    expect((await readAll(again)).length).toBe(11);
    await again.close();
    await expect(again.append(text('late'))).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('works on the real file system', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shoal-wal-'));
    try {
      const fs = new NodeFileSystem();
      const wal = await Wal.open(fs, `${root}/wal`, { segmentBytes: 64 });
      await Promise.all(Array.from({ length: 20 }, (_, i) => wal.append(text(`record ${i}`))));
      await wal.close();
      const again = await Wal.open(fs, `${root}/wal`, { segmentBytes: 64 });
      expect(again.fileCount).toBeGreaterThan(1);
      expect((await readAll(again)).map(([, s]) => s)).toEqual(Array.from({ length: 20 }, (_, i) => `record ${i}`));
      await again.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('rolls over to new files at the size limit and reads across them', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 30; i++) await wal.append(text(`payload-${i}`));
    expect(wal.fileCount).toBeGreaterThanOrEqual(8);
    for (const name of await fs.list('/w')) {
      expect((await fs.readFile(`/w/${name}`))?.length ?? 0).toBeLessThanOrEqual(100);
    }
    await wal.close();
    const again = await Wal.open(fs, '/w', { segmentBytes: 100 });
    expect(await readAll(again, 28)).toEqual([[28, 'payload-28'], [29, 'payload-29'], [30, 'payload-30']]);
    expect((await readAll(again)).map(([seq]) => seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('commits concurrent appends in groups: fewer fsyncs than appends', async () => {
    const fs = new CountingFs(new MemoryFileSystem());
    const wal = await Wal.open(fs, '/w');
    const seqs = await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(text(`c${i}`))));
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(fs.syncs).toBeLessThanOrEqual(3);
    expect((await readAll(wal)).map(([, s]) => s)).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
  });

  it('bounds a group by groupBytesMax', async () => {
    const fs = new CountingFs(new MemoryFileSystem());
    const wal = await Wal.open(fs, '/w', { groupBytesMax: 100 });
    await Promise.all(Array.from({ length: 40 }, () => wal.append(new Uint8Array(30))));
    // 46 bytes per record: two per group
    expect(fs.syncs).toBeGreaterThanOrEqual(20);
    expect(wal.lastSeq).toBe(40);
  });

  it("answers 'overloaded' when the queue is full, and keeps the accepted appends", async () => {
    const wal = await Wal.open(new MemoryFileSystem(), '/w', { queueMax: 4 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => wal.append(text(`o${i}`))));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason).toMatchObject({ kind: 'overloaded' });
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    expect(wal.lastSeq).toBe(accepted);
    expect(await readAll(wal)).toHaveLength(accepted);
  });

  it("rejects a record larger than recordBytesMax with 'too_large'", async () => {
    const wal = await Wal.open(new MemoryFileSystem(), '/w', { recordBytesMax: 10 });
    await expect(wal.append(new Uint8Array(11))).rejects.toMatchObject({ kind: 'too_large' });
    expect(await wal.append(new Uint8Array(10))).toBe(1);
  });

  it('drops a torn last record at every byte offset, never returning it, and keeps going', async () => {
    const tornAt = new Set<number>();
    let recovered6 = 0;
    for (let seed = 0; seed < 600; seed++) {
      let armed = false;
      let after: MemoryFileSystem | null = null;
      const fs: MemoryFileSystem = new MemoryFileSystem({
        beforeOp: (op) => {
          if (armed && op === 'sync') after = fs.crash(seededRng(seed));
        },
      });
      const wal = await Wal.open(fs, '/w');
      for (let i = 1; i <= 5; i++) await wal.append(text(`rec-${i}`));
      const fileBefore = (await fs.readFile('/w/' + (await fs.list('/w'))[0])) as Uint8Array;
      armed = true;
      await expect(wal.append(text('rec-6'))).rejects.toBeInstanceOf(ShoalError);
      const disk = after as unknown as MemoryFileSystem;
      const name = (await disk.list('/w'))[0] as string;
      tornAt.add(Math.min(((await disk.readFile(`/w/${name}`)) as Uint8Array).length - fileBefore.length, 21));

      const reopened = await Wal.open(disk, '/w');
      const records = await readAll(reopened);
      expect(records.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((i) => [i, `rec-${i}`]));
      expect(records.length === 5 || (records.length === 6 && records[5]?.[1] === 'rec-6')).toBe(true);
      if (records.length === 6) recovered6++;
      const next = await reopened.append(text('after'));
      expect(next).toBe(records.length + 1);
      await reopened.close();
      const third = await Wal.open(disk, '/w');
      expect((await readAll(third)).at(-1)).toEqual([next, 'after']);
    }
    // Record 6 is 16 header + 5 payload bytes: every cut from 0 to 21 bytes was seen.
    expect([...tornAt].sort((a, b) => a - b)).toEqual(Array.from({ length: 22 }, (_, i) => i));
    expect(recovered6).toBeGreaterThan(0);
  });

  it("refuses to open when a record in the middle of an earlier file is corrupt ('storage')", async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 20; i++) await wal.append(text(`payload-${i}`));
    await wal.close();
    const first = (await fs.list('/w'))[0] as string;
    await rewrite(fs, `/w/${first}`, (bytes) => {
      bytes[20] = (bytes[20] as number) ^ 0xff;
    });
    await expect(Wal.open(fs, '/w', { segmentBytes: 100 })).rejects.toMatchObject({ kind: 'storage' });
  });

  it("refuses to open when a file in the middle is missing ('storage')", async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 20; i++) await wal.append(text(`payload-${i}`));
    await wal.close();
    await fs.remove(`/w/${(await fs.list('/w'))[1] as string}`);
    await expect(Wal.open(fs, '/w', { segmentBytes: 100 })).rejects.toMatchObject({ kind: 'storage' });
  });

  it('truncates whole files below a seq, keeping the requested tail', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 30; i++) await wal.append(text(`payload-${i}`));
    const files = wal.fileCount;
    expect(await wal.truncateBefore(31, 10)).toBeGreaterThan(0);
    expect(wal.firstSeq).toBeLessThanOrEqual(21);
    expect(wal.fileCount).toBeLessThan(files);
    expect((await readAll(wal, 21)).map(([seq]) => seq)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    await expect(readAll(wal, 1)).rejects.toMatchObject({ kind: 'not_found' });

    await wal.truncateBefore(31, 0);
    expect(wal.fileCount).toBe(1);
    expect(wal.lastSeq).toBe(30);
    await wal.close();
    const again = await Wal.open(fs, '/w', { segmentBytes: 100 });
    expect(again.lastSeq).toBe(30);
    expect(await again.append(text('next'))).toBe(31);
    expect((await readAll(again, again.firstSeq)).at(-1)).toEqual([31, 'next']);
  });

  it('never truncates records at or above the seq', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 30; i++) await wal.append(text(`payload-${i}`));
    await wal.truncateBefore(12, 0);
    expect(wal.firstSeq).toBeLessThanOrEqual(12);
    expect((await readAll(wal, 12))[0]).toEqual([12, 'payload-12']);
  });

  it('keeps retainClosedFiles closed files below the cut (wal_retain_closed)', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100, retainClosedFiles: 2 });
    for (let i = 1; i <= 30; i++) await wal.append(text(`payload-${i}`));
    expect(wal.fileCount).toBeGreaterThan(3);
    await wal.truncateBefore(31, 0);
    // the file being written plus the two closed files before it
    expect(wal.fileCount).toBe(3);
    expect((await readAll(wal, wal.firstSeq)).at(-1)).toEqual([30, 'payload-30']);
    await wal.close();
  });

  it('reads forward in pieces across files, and keeps the files an open reader needs', async () => {
    const fs = new MemoryFileSystem();
    const wal = await Wal.open(fs, '/w', { segmentBytes: 100 });
    for (let i = 1; i <= 30; i++) await wal.append(text(`payload-${i}`));
    expect(wal.fileCount).toBeGreaterThan(3);
    const reader = wal.reader(5);
    await wal.truncateBefore(31, 0);
    // the file holding seq 5 and every later one stay
    expect(wal.firstSeq).toBeLessThanOrEqual(5);
    const seen: Array<[number, string]> = [];
    for (;;) {
      const piece = await reader.read(20);
      if (piece.length === 0) break;
      expect(piece.length).toBeGreaterThanOrEqual(1);
      for (const r of piece) seen.push([r.seq, str(r.payload)]);
    }
    expect(seen.map(([seq]) => seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 5));
    expect(seen[0]).toEqual([5, 'payload-5']);
    // records appended later are read by the same reader
    await wal.append(text('payload-31'));
    expect((await reader.read(1000)).map((r) => r.seq)).toEqual([31]);
    reader.close();
    await wal.truncateBefore(32, 0);
    expect(wal.firstSeq).toBeGreaterThan(5);
    await expect(reader.read(10)).rejects.toMatchObject({ kind: 'unavailable' });
    expect(() => wal.reader(1)).toThrow(ShoalError);
    await wal.close();
  });
});
