import { open, mkdir, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { assert } from './assert.js';
import { ShoalError } from './errors.js';
import type { AppendFile, FileSystem } from './fs.js';

/** Wraps an OS error so every storage failure reaches the upper layers as ShoalError('storage'). */
function storageError(action: string, path: string, cause: unknown): ShoalError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ShoalError('storage', `${action} ${path}: ${detail}`, { cause });
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

async function io<T>(action: string, path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw storageError(action, path, error);
  }
}

/** The real file system, through node:fs/promises. */
export class NodeFileSystem implements FileSystem {
  async mkdirp(path: string): Promise<void> {
    await io('mkdir', path, () => mkdir(path, { recursive: true }));
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await readdir(dir)).sort();
    } catch (error) {
      if (isMissing(error)) return [];
      throw storageError('list', dir, error);
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw storageError('stat', path, error);
    }
  }

  async readFile(path: string): Promise<Uint8Array | null> {
    try {
      const buffer = await readFile(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      if (isMissing(error)) return null;
      throw storageError('read', path, error);
    }
  }

  async openAppend(path: string): Promise<AppendFile> {
    const handle = await io('open', path, () => open(path, 'a'));
    try {
      const { size } = await handle.stat();
      return new NodeAppendFile(handle, path, size);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw storageError('stat', path, error);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await io('rename', `${from} -> ${to}`, () => rename(from, to));
  }

  async remove(path: string): Promise<void> {
    await io('remove', path, () => rm(path, { force: true }));
  }

  async removeDir(path: string): Promise<void> {
    await io('remove directory', path, () => rm(path, { recursive: true, force: true }));
  }

  async syncDir(path: string): Promise<void> {
    // A directory's entries become durable only by fsyncing the directory itself (POSIX).
    await io('sync directory', path, async () => {
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }
}

class NodeAppendFile implements AppendFile {
  #size: number;
  #closed = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    size: number,
  ) {
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  async append(data: Uint8Array): Promise<void> {
    assert(!this.#closed, 'append to a closed file');
    await io('append', this.path, async () => {
      // The file is opened with O_APPEND, so each write lands at the end; loop on short writes.
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await this.handle.write(data, done, data.byteLength - done);
        done += bytesWritten;
      }
    });
    this.#size += data.byteLength;
  }

  async sync(): Promise<void> {
    assert(!this.#closed, 'sync of a closed file');
    await io('sync', this.path, () => this.handle.sync());
  }

  async truncate(size: number): Promise<void> {
    assert(!this.#closed, 'truncate of a closed file');
    assert(Number.isSafeInteger(size) && size >= 0 && size <= this.#size, 'truncate size out of range');
    await io('truncate', this.path, () => this.handle.truncate(size));
    this.#size = size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await io('close', this.path, () => this.handle.close());
  }
}
