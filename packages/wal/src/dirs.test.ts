import { describe, it, expect } from 'vitest';
import { MemoryFileSystem, seededRng } from '@shoal/common';
import { ensureDirDurable, parentDir } from './dirs.js';

describe('ensureDirDurable', () => {
  it('makes a new directory chain survive a crash, even one created earlier without a sync', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdirp('/storage/collections');
    await ensureDirDurable(fs, '/storage/collections/c/shards/0');
    const after = fs.crash(seededRng(1));
    expect(await after.exists('/storage/collections/c/shards/0')).toBe(true);
  });

  it('names parents of absolute and relative paths', () => {
    expect(parentDir('/a/b/')).toBe('/a');
    expect(parentDir('/a')).toBe('/');
    expect(parentDir('a')).toBe('.');
    expect(parentDir('a/b')).toBe('a');
  });
});
