import { describe, it, expect } from 'vitest';
import { MemoryFileSystem } from './fs-memory.js';
import { seededRng } from './rng.js';
import { ShoalError } from './errors.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

async function fileWith(fs: MemoryFileSystem, path: string, synced: number[], unsynced: number[]): Promise<void> {
  const file = await fs.openAppend(path);
  await file.append(bytes(...synced));
  await file.sync();
  await file.append(bytes(...unsynced));
}

describe('MemoryFileSystem', () => {
  it('reads back what was written, before any crash', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdirp('/a/b');
    const file = await fs.openAppend('/a/b/f');
    await file.append(bytes(1, 2));
    await file.append(bytes(3));
    expect(file.size).toBe(3);
    expect(await fs.readFile('/a/b/f')).toEqual(bytes(1, 2, 3));
    expect(await fs.list('/a/b')).toEqual(['f']);
    expect(await fs.list('/nope')).toEqual([]);
    expect(await fs.readFile('/a/b/g')).toBeNull();
    await fs.rename('/a/b/f', '/a/g');
    expect(await fs.exists('/a/b/f')).toBe(false);
    expect(await fs.readFile('/a/g')).toEqual(bytes(1, 2, 3));
    await fs.remove('/a/g');
    await fs.removeDir('/a/b');
    expect(await fs.list('/a')).toEqual([]);
  });

  it('refuses to create a file in a missing directory', async () => {
    const fs = new MemoryFileSystem();
    await expect(fs.openAppend('/missing/f')).rejects.toThrow(ShoalError);
  });

  it('forgets files whose directory entry was never synced', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdirp('/d');
    await fileWith(fs, '/d/f', [1, 2, 3], []);
    const after = fs.crash(seededRng(1));
    expect(await after.list('/')).toEqual([]);
  });

  it('keeps synced bytes and entries made durable by syncDir', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdirp('/d');
    await fs.syncDir('/');
    await fileWith(fs, '/d/f', [1, 2, 3], []);
    await fs.syncDir('/d');
    const after = fs.crash(seededRng(1));
    expect(await after.readFile('/d/f')).toEqual(bytes(1, 2, 3));
  });

  it('reverts unsynced renames and removals', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/old', [7], []);
    await fileWith(fs, '/gone', [8], []);
    await fs.syncDir('/');
    await fs.rename('/old', '/new');
    await fs.remove('/gone');
    const after = fs.crash(seededRng(2));
    expect(await after.list('/')).toEqual(['gone', 'old']);
  });

  it('tears the unsynced tail at every possible length across seeds, never touching synced bytes', async () => {
    const seen = new Set<number>();
    let garbled = 0;
    for (let seed = 0; seed < 400; seed++) {
      const fs = new MemoryFileSystem();
      await fileWith(fs, '/f', [1, 2, 3, 4], [5, 6, 7, 8]);
      await fs.syncDir('/');
      const data = await fs.crash(seededRng(seed)).readFile('/f');
      expect(data).not.toBeNull();
      const got = data ?? new Uint8Array(0);
      expect([...got.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
      seen.add(Math.min(got.length, 8));
      const tail = [...got.subarray(4, 8)];
      if (tail.some((value, i) => value !== 5 + i)) garbled++;
    }
    expect([...seen].sort()).toEqual([4, 5, 6, 7, 8]);
    expect(garbled).toBeGreaterThan(0);
  });

  it('may or may not keep an unsynced truncate', async () => {
    const lengths = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const fs = new MemoryFileSystem();
      await fileWith(fs, '/f', [1, 2, 3, 4], []);
      await fs.syncDir('/');
      const file = await fs.openAppend('/f');
      await file.truncate(2);
      const got = await fs.crash(seededRng(seed)).readFile('/f');
      lengths.add(got?.length ?? -1);
    }
    expect([...lengths].sort()).toEqual([2, 4]);
  });

  it('fails every operation after the crash, including on open files', async () => {
    const fs = new MemoryFileSystem();
    const file = await fs.openAppend('/f');
    fs.crash(seededRng(3));
    await expect(file.append(bytes(1))).rejects.toThrow(/crashed/);
    await expect(fs.list('/')).rejects.toThrow(/crashed/);
  });

  it('lets a hook crash the machine in the middle of a sequence of operations', async () => {
    let count = 0;
    let after: MemoryFileSystem | null = null;
    const fs: MemoryFileSystem = new MemoryFileSystem({
      beforeOp: () => {
        count++;
        if (count === 4) after = fs.crash(seededRng(4));
      },
    });
    const file = await fs.openAppend('/f'); // 1
    await file.append(bytes(1)); // 2
    await file.sync(); // 3
    await expect(fs.syncDir('/')).rejects.toThrow(/crashed/); // 4: crash before it acts
    expect(after).not.toBeNull();
    expect(await (after as unknown as MemoryFileSystem).list('/')).toEqual([]);
  });
});

describe('MemoryFileSystem crash timing', () => {
  it('never reports success for an operation that the crash image does not hold', async () => {
    const outcomes = new Set<boolean>();
    for (let delay = 0; delay < 12; delay++) {
      let after: MemoryFileSystem | null = null;
      const fs: MemoryFileSystem = new MemoryFileSystem({
        beforeOp: async (op) => {
          if (op !== 'remove') return;
          for (let i = 0; i < delay; i++) await Promise.resolve();
          after = fs.crash(seededRng(delay));
        },
      });
      const file = await fs.openAppend('/f');
      await fs.syncDir('/');
      await file.append(bytes(1, 2, 3));
      const sync = file.sync().then(
        () => true,
        () => false,
      );
      await fs.remove('/other').catch(() => undefined);
      const synced = await sync;
      outcomes.add(synced);
      const image = await (after as unknown as MemoryFileSystem).readFile('/f');
      if (synced) expect(image).toEqual(bytes(1, 2, 3));
    }
    // The crash landed both before and after the sync took effect.
    expect([...outcomes].sort()).toEqual([false, true]);
  });
});
