import { describe, it, expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from './fs-node.js';
import { ShoalError } from './errors.js';

describe('NodeFileSystem', () => {
  it('appends, syncs, truncates, renames and removes real files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shoal-fs-'));
    try {
      const fs = new NodeFileSystem();
      const dir = `${root}/a/b`;
      await fs.mkdirp(dir);
      const file = await fs.openAppend(`${dir}/f`);
      await file.append(Uint8Array.from([1, 2, 3]));
      await file.sync();
      await file.truncate(2);
      await file.append(Uint8Array.from([9]));
      expect(file.size).toBe(3);
      await file.close();
      await fs.syncDir(dir);
      expect(await fs.readFile(`${dir}/f`)).toEqual(Uint8Array.from([1, 2, 9]));
      const reopened = await fs.openAppend(`${dir}/f`);
      expect(reopened.size).toBe(3);
      await reopened.close();
      await fs.rename(`${dir}/f`, `${dir}/g`);
      expect(await fs.list(dir)).toEqual(['g']);
      expect(await fs.exists(`${dir}/f`)).toBe(false);
      expect(await fs.readFile(`${dir}/f`)).toBeNull();
      await fs.remove(`${dir}/g`);
      await fs.remove(`${dir}/g`);
      await fs.removeDir(`${root}/a`);
      expect(await fs.list(root)).toEqual([]);
      expect(await fs.list(`${root}/missing`)).toEqual([]);
      await expect(fs.openAppend(`${root}/missing/f`)).rejects.toBeInstanceOf(ShoalError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
