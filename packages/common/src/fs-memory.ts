import { assert } from './assert.js';
import { ShoalError } from './errors.js';
import type { AppendFile, FileSystem, Rng } from './fs.js';

/**
 * An in-memory FileSystem that models what survives a power loss, for crash tests.
 *
 * Files: bytes up to `durableLength` were covered by a sync(); bytes after it live only in the
 * "page cache". Directories: `entries` is what a reader sees now; `durable` is the set of entries
 * as of the last syncDir(). crash() builds the state a disk would show after power loss: durable
 * directory entries only, and for every file its synced bytes plus a random prefix of the
 * unsynced tail (so the last write can be torn at any byte), sometimes with garbage in it.
 */
interface FileNode {
  readonly kind: 'file';
  data: Uint8Array;
  length: number;
  durableLength: number;
  /** The durable bytes before a truncate() that no sync() has made durable yet. */
  durableBeforeTruncate: Uint8Array | null;
}

interface DirNode {
  readonly kind: 'dir';
  entries: Map<string, Node>;
  durable: Map<string, Node>;
}

type Node = FileNode | DirNode;

export interface MemoryFileSystemOptions {
  /**
   * Called before every operation takes effect (op name and path). Tests use it to delay
   * operations (changing interleavings), to inject failures by throwing, or to call crash().
   */
  readonly beforeOp?: (op: string, path: string) => void | Promise<void>;
}

const newDir = (): DirNode => ({ kind: 'dir', entries: new Map(), durable: new Map() });
const newFile = (bytes: Uint8Array, durable: boolean): FileNode => ({
  kind: 'file',
  data: bytes,
  length: bytes.length,
  durableLength: durable ? bytes.length : 0,
  durableBeforeTruncate: null,
});

function components(path: string): string[] {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  assert(!parts.includes('..'), `'..' is not supported in paths: ${path}`);
  return parts;
}

const missing = (op: string, path: string): ShoalError =>
  new ShoalError('storage', `${op} ${path}: no such file or directory`);

export class MemoryFileSystem implements FileSystem {
  private root: DirNode;
  private crashed = false;
  private readonly beforeOp: MemoryFileSystemOptions['beforeOp'];

  constructor(options: MemoryFileSystemOptions = {}, root: DirNode = newDir()) {
    this.root = root;
    this.beforeOp = options.beforeOp;
  }

  /** Runs the hook (which may delay, throw, or crash the machine). Callers then check `alive`. */
  async gate(op: string, path: string): Promise<void> {
    if (this.beforeOp !== undefined) await this.beforeOp(op, path);
  }

  /**
   * Throws if the machine crashed. Called synchronously right before every effect: an await
   * between this check and the effect would let a crash slip in, and an operation that
   * "succeeded" after the crash would not be in the crash image.
   */
  alive(op: string, path: string): void {
    if (this.crashed) throw new ShoalError('storage', `${op} ${path}: the file system has crashed`);
  }

  private lookup(path: string): Node | null {
    let node: Node = this.root;
    for (const part of components(path)) {
      if (node.kind !== 'dir') return null;
      const child = node.entries.get(part);
      if (child === undefined) return null;
      node = child;
    }
    return node;
  }

  /** The directory holding `path` and the entry name, or an error if the directory is missing. */
  private parentOf(op: string, path: string): { dir: DirNode; name: string } {
    const parts = components(path);
    const name = parts.pop();
    if (name === undefined) throw new ShoalError('storage', `${op} ${path}: not a file path`);
    const dir = this.lookup(parts.join('/'));
    if (dir === null || dir.kind !== 'dir') throw missing(op, path);
    return { dir, name };
  }

  async mkdirp(path: string): Promise<void> {
    await this.gate('mkdirp', path);
    this.alive('mkdirp', path);
    let dir = this.root;
    for (const part of components(path)) {
      let child = dir.entries.get(part);
      if (child === undefined) {
        child = newDir();
        dir.entries.set(part, child);
      }
      if (child.kind !== 'dir') throw new ShoalError('storage', `mkdirp ${path}: ${part} is a file`);
      dir = child;
    }
  }

  async list(dir: string): Promise<string[]> {
    await this.gate('list', dir);
    this.alive('list', dir);
    const node = this.lookup(dir);
    return node !== null && node.kind === 'dir' ? [...node.entries.keys()].sort() : [];
  }

  async exists(path: string): Promise<boolean> {
    await this.gate('exists', path);
    this.alive('exists', path);
    return this.lookup(path) !== null;
  }

  async readFile(path: string): Promise<Uint8Array | null> {
    await this.gate('readFile', path);
    this.alive('readFile', path);
    const node = this.lookup(path);
    if (node === null) return null;
    if (node.kind !== 'file') throw new ShoalError('storage', `readFile ${path}: is a directory`);
    return node.data.slice(0, node.length);
  }

  async openAppend(path: string): Promise<AppendFile> {
    await this.gate('openAppend', path);
    this.alive('openAppend', path);
    const { dir, name } = this.parentOf('openAppend', path);
    let node = dir.entries.get(name);
    if (node === undefined) {
      node = newFile(new Uint8Array(0), false);
      dir.entries.set(name, node);
    }
    if (node.kind !== 'file') throw new ShoalError('storage', `openAppend ${path}: is a directory`);
    return new MemoryAppendFile(this, node, path);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.gate('rename', `${from} -> ${to}`);
    this.alive('rename', `${from} -> ${to}`);
    const source = this.parentOf('rename', from);
    const target = this.parentOf('rename', to);
    const node = source.dir.entries.get(source.name);
    if (node === undefined) throw missing('rename', from);
    const replaced = target.dir.entries.get(target.name);
    if (replaced !== undefined && replaced.kind !== node.kind) {
      throw new ShoalError('storage', `rename ${from} -> ${to}: cannot replace a ${replaced.kind} by a ${node.kind}`);
    }
    source.dir.entries.delete(source.name);
    target.dir.entries.set(target.name, node);
  }

  async remove(path: string): Promise<void> {
    await this.gate('remove', path);
    this.alive('remove', path);
    const node = this.lookup(path);
    if (node === null) return;
    if (node.kind !== 'file') throw new ShoalError('storage', `remove ${path}: is a directory`);
    const { dir, name } = this.parentOf('remove', path);
    dir.entries.delete(name);
  }

  async removeDir(path: string): Promise<void> {
    await this.gate('removeDir', path);
    this.alive('removeDir', path);
    const node = this.lookup(path);
    if (node === null) return;
    if (node.kind !== 'dir') throw new ShoalError('storage', `removeDir ${path}: is a file`);
    if (node === this.root) {
      this.root.entries.clear();
      return;
    }
    const { dir, name } = this.parentOf('removeDir', path);
    dir.entries.delete(name);
  }

  async syncDir(path: string): Promise<void> {
    await this.gate('syncDir', path);
    this.alive('syncDir', path);
    const node = this.lookup(path);
    if (node === null || node.kind !== 'dir') throw missing('syncDir', path);
    node.durable = new Map(node.entries);
  }

  /**
   * The disk as it would be found after a power loss now. This file system is dead afterwards:
   * every later operation on it (and on its open files) fails, as the process would have died.
   */
  crash(rng: Rng, options: MemoryFileSystemOptions = {}): MemoryFileSystem {
    assert(!this.crashed, 'crash() of a file system that already crashed');
    this.crashed = true;
    const root = crashDir(this.root, rng, new Map());
    // The root directory itself always exists; its durable entries were copied above.
    return new MemoryFileSystem(options, root);
  }

  get isCrashed(): boolean {
    return this.crashed;
  }
}

function crashDir(dir: DirNode, rng: Rng, seen: Map<Node, Node>): DirNode {
  const result = newDir();
  for (const [name, child] of dir.durable) {
    let copy = seen.get(child);
    if (copy === undefined) {
      copy = child.kind === 'dir' ? crashDir(child, rng, seen) : crashFile(child, rng);
      seen.set(child, copy);
    }
    result.entries.set(name, copy);
  }
  result.durable = new Map(result.entries);
  return result;
}

/** Synced bytes, plus a random prefix of the unsynced tail, sometimes garbled or zero-extended. */
function crashFile(file: FileNode, rng: Rng): FileNode {
  if (file.durableBeforeTruncate !== null && rng.int(2) === 0) {
    return newFile(file.durableBeforeTruncate.slice(), true);
  }
  const unsynced = file.length - file.durableLength;
  const roll = rng.int(4);
  // A quarter lose the whole tail, a quarter keep it whole, the rest tear at a random byte.
  const kept = unsynced === 0 || roll === 0 ? 0 : roll === 1 ? unsynced : rng.int(unsynced + 1);
  const extra = unsynced > 0 && rng.int(8) === 0 ? 1 + rng.int(64) : 0;
  const bytes = new Uint8Array(file.durableLength + kept + extra);
  bytes.set(file.data.subarray(0, file.durableLength + kept));
  if (kept > 0 && rng.int(3) === 0) {
    // Garbage: sectors of the torn write that hold neither the old nor the new bytes.
    const from = file.durableLength + rng.int(kept);
    const to = from + 1 + rng.int(file.durableLength + kept - from);
    for (let i = from; i < to; i++) bytes[i] = rng.int(256);
  }
  return newFile(bytes, true);
}

class MemoryAppendFile implements AppendFile {
  private closed = false;

  constructor(
    private readonly fs: MemoryFileSystem,
    private readonly node: FileNode,
    private readonly path: string,
  ) {}

  get size(): number {
    return this.node.length;
  }

  /** Synchronously right before the effect (see MemoryFileSystem.alive). */
  private check(op: string): void {
    this.fs.alive(op, this.path);
    if (this.closed) throw new ShoalError('storage', `${op} ${this.path}: file is closed`);
  }

  async append(data: Uint8Array): Promise<void> {
    await this.fs.gate('append', this.path);
    this.check('append');
    const file = this.node;
    const needed = file.length + data.length;
    if (needed > file.data.length) {
      const grown = new Uint8Array(Math.max(needed, file.data.length * 2, 64));
      grown.set(file.data.subarray(0, file.length));
      file.data = grown;
    }
    file.data.set(data, file.length);
    file.length = needed;
  }

  async sync(): Promise<void> {
    await this.fs.gate('sync', this.path);
    this.check('sync');
    this.node.durableLength = this.node.length;
    this.node.durableBeforeTruncate = null;
  }

  async truncate(size: number): Promise<void> {
    await this.fs.gate('truncate', this.path);
    this.check('truncate');
    const file = this.node;
    assert(Number.isSafeInteger(size) && size >= 0 && size <= file.length, 'truncate size out of range');
    if (size < file.durableLength) {
      // Until the next sync, a crash may show the file either before or after this truncate.
      file.durableBeforeTruncate ??= file.data.slice(0, file.durableLength);
      file.durableLength = size;
    }
    file.length = size;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
