// One process per storage directory: two nodes appending to the same WAL files would corrupt
// them. The lock file holds the owner's pid; a lock left by a process that no longer exists (a
// crash, kill -9) is taken over, so a restart after a crash needs no manual step.
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync, fsyncSync } from 'node:fs';

const LOCK_FILE = '.lock';

export class StorageLockedError extends Error {
  override readonly name = 'StorageLockedError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the lock or throw StorageLockedError naming the holder. Returns the release function. */
export function lockStorage(storagePath: string): () => void {
  mkdirSync(storagePath, { recursive: true });
  const path = `${storagePath}/${LOCK_FILE}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      fsyncSync(fd);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
        throw new StorageLockedError(`storage ${storagePath} is in use by process ${holder}`);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new StorageLockedError(`could not lock storage ${storagePath}`);
}
