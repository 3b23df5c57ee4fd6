import { MemoryFileSystem, ShoalError, seededRng, type MemoryFileSystemOptions, type Rng } from '@shoal/common';
import { collectionConfig, type CollectionConfig, type MetaOperation } from '@shoal/meta';
import { peerId, type PeerId } from '@shoal/raft';
import { ConsensusDriver } from './driver.js';
import type { DriverLimits } from './driver-limits.js';
import { LocalTransportHub } from './local-transport.js';
import { RaftLogStore } from './log-store.js';

/**
 * Test support: drivers over a LocalTransportHub and MemoryFileSystems with one manual clock.
 * Every tick advances the clock by TICK_MS, ticks every live driver, then lets the in-process
 * network and the disks settle.
 */
export const TICK_MS = 100;

export const COLLECTION_CONFIG: CollectionConfig = collectionConfig(4);

export const createCollection = (name: string): MetaOperation => ({ kind: 'create_collection', name, config: COLLECTION_CONFIG });

export interface TestNode {
  readonly id: PeerId;
  fs: MemoryFileSystem;
  driver: ConsensusDriver;
  /** The next fsync on this node's disk throws. */
  failNextSync: boolean;
  live: boolean;
  incarnation: number;
}

const flushOnce = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class TestCluster {
  readonly hub = new LocalTransportHub({ limits: { backoffMsMin: 1, backoffMsMax: 4 } });
  readonly nodes = new Map<PeerId, TestNode>();
  nowMs = 0;
  private readonly rng: Rng;

  constructor(
    seed: number,
    private readonly limits: Partial<DriverLimits> = {},
  ) {
    this.rng = seededRng(seed);
  }

  /** Starts `ids` as the founding voters of a new cluster. */
  static async founded(seed: number, ids: number[], limits: Partial<DriverLimits> = {}): Promise<TestCluster> {
    const c = new TestCluster(seed, limits);
    const book = new Map(ids.map((n) => [peerId(n), `local://${n}`] as const));
    for (const n of ids) await c.start(peerId(n), c.newFs(peerId(n)), book);
    return c;
  }

  newFs(id: PeerId): MemoryFileSystem {
    return new MemoryFileSystem(this.faults(id));
  }

  /** The FileSystem wrapper of node `id`: throws on the next fsync when asked to. */
  private faults(id: PeerId): MemoryFileSystemOptions {
    return {
      beforeOp: (op) => {
        const node = this.nodes.get(id);
        if (node?.failNextSync === true && op === 'sync') {
          node.failNextSync = false;
          throw new ShoalError('storage', 'injected fsync failure');
        }
      },
    };
  }

  async start(id: PeerId, fs: MemoryFileSystem, bootstrap?: ReadonlyMap<PeerId, string>, limits: Partial<DriverLimits> = {}): Promise<TestNode> {
    const previous = this.nodes.get(id);
    const incarnation = (previous?.incarnation ?? 0) + 1;
    const driver = await ConsensusDriver.start({
      id,
      uri: `local://${id}`,
      transport: this.hub.transport(id),
      openStorage: () => RaftLogStore.open(fs, 'raft', { walSegmentBytes: 2048 }),
      clock: { nowMs: () => this.nowMs },
      wallClockMs: () => this.nowMs,
      rng: seededRng(id * 7919 + incarnation * 104_729 + this.rng.int(1000)),
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      limits: { ...this.limits, ...limits },
      ...(bootstrap === undefined ? {} : { bootstrap }),
    });
    const node: TestNode = { id, fs, driver, failNextSync: false, live: true, incarnation };
    this.nodes.set(id, node);
    return node;
  }

  node(id: number): TestNode {
    const n = this.nodes.get(peerId(id));
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  live(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.live);
  }

  /** Power loss: the disk keeps only what was synced; the process is gone. */
  async kill(id: number): Promise<MemoryFileSystem> {
    const n = this.node(id);
    n.live = false;
    const image = n.fs.crash(this.rng, this.faults(n.id));
    await n.driver.close();
    return image;
  }

  async restart(id: number, image: MemoryFileSystem): Promise<TestNode> {
    return this.start(peerId(id), image);
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 6; i++) await flushOnce();
  }

  async tick(times = 1): Promise<void> {
    for (let t = 0; t < times; t++) {
      this.nowMs += TICK_MS;
      for (const n of this.live()) n.driver.tick();
      await this.settle();
    }
  }

  /** Ticks until `done` holds; fails after `ticksMax`. */
  async until(done: () => boolean, ticksMax = 300, what = 'condition'): Promise<void> {
    for (let t = 0; t < ticksMax; t++) {
      if (done()) return;
      await this.tick();
    }
    if (!done()) throw new Error(`${what} not reached within ${ticksMax} ticks`);
  }

  /** Ticks until the promise settles. */
  async drive<T>(p: Promise<T>, ticksMax = 300): Promise<T> {
    let settled = false;
    void p.finally(() => (settled = true));
    await this.until(() => settled, ticksMax, 'settlement');
    return p;
  }

  leaders(): TestNode[] {
    return this.live().filter((n) => n.driver.status().role === 'Leader');
  }

  async leader(): Promise<TestNode> {
    await this.until(() => this.leaders().length === 1, 300, 'a single leader');
    return this.leaders()[0]!;
  }

  deadline(ticks = 100): number {
    return this.nowMs + ticks * TICK_MS;
  }

  async close(): Promise<void> {
    for (const n of this.live()) await n.driver.close();
  }
}
