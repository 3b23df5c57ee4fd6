/**
 * All storage I/O goes through this interface, so tests can run storage on a double that
 * forgets unsynced bytes and tears the last write (see MemoryFileSystem).
 *
 * Durability contract (the same as POSIX with fsync):
 * - bytes appended to a file are durable only after `sync()` on that file;
 * - a created, renamed or removed directory entry is durable only after `syncDir()` of its
 *   directory;
 * - `rename` replaces the target atomically.
 * Paths are plain strings joined with '/'.
 */
export interface FileSystem {
  mkdirp(path: string): Promise<void>;
  /** Entry names in a directory; [] if it does not exist. */
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** The whole file, or null if it does not exist. */
  readFile(path: string): Promise<Uint8Array | null>;
  /** Open for appending, creating it if missing. */
  openAppend(path: string): Promise<AppendFile>;
  rename(from: string, to: string): Promise<void>;
  /** Remove a file; no error if missing. */
  remove(path: string): Promise<void>;
  /** Remove a directory and everything below it; no error if missing. */
  removeDir(path: string): Promise<void>;
  /** Make the directory's entries (creations, renames, removals) durable. */
  syncDir(path: string): Promise<void>;
}

export interface AppendFile {
  /** Current length in bytes, including unsynced appends. */
  readonly size: number;
  append(data: Uint8Array): Promise<void>;
  /** Make everything appended so far durable. */
  sync(): Promise<void>;
  /** Cut the file to `size` bytes (used to drop a torn tail). */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

/** Monotonic time source, injected so simulations control time. */
export interface Clock {
  /** milliseconds, monotonic */
  nowMs(): number;
}

/** Seeded randomness, injected. */
export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
}
