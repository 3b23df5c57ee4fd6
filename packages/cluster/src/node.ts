// The node's collections, as the REST layer sees them (CollectionsService). Metadata changes go
// through the MetaSource (a local log on a standalone node, Raft in a cluster); point traffic is
// split by shard and goes through each shard's replica set, to replicas here and on other peers.
import {
  badRequest,
  comparePointIds,
  conflict,
  DEFAULT_LIMITS,
  notFound,
  ShoalError,
  unreachable,
  type FacetHit,
  type FileSystem,
  type Filter,
  type Limits,
  writeFileAtomic,
  type PayloadIndexParams,
  type PointId,
  type PointOperation,
  type Record_,
  type ScoredPoint,
  type WithPayload,
  type WithVector,
} from '@shoal/common';
import type { PointsMethod, ShardReply, ShardRequest } from '@shoal/consensus';
import {
  balancedPlacement,
  formatShardKey,
  RING_VNODES_DEFAULT,
  replicaCounts,
  resolveCollection,
  shardKeysOf,
  type AliasAction,
  type ApplyOutcome,
  type CollectionConfig,
  type CollectionMeta,
  type CollectionPatch,
  type MetaOperation,
  type MetaRefusal,
  type MetaState,
  type ShardKey,
  type ShardMeta,
  type TransferMethod,
} from '@shoal/meta';
import type { ApplyResult } from '@shoal/segment';
import type { ClockTag } from '@shoal/shard';
import { Collection, mergeTopK, orderRecords, shardKeysById, tagShardKeys, type RouteGroup } from './collection.js';
import type {
  ClusterOperation,
  CollectionClusterInfo,
  CollectionInfo,
  CollectionsService,
  CreateShardKeyRequest,
  PayloadFieldInfo,
  PointRecord,
  PointWrite,
  RequestOptions,
  ScoredPointRecord,
  ScrollRequest,
  ScrollResult,
  SearchRequest,
  UpdateResult,
  WriteOptions,
} from './contract.js';
import { DeadMarker } from './dead-marker.js';
import { DATA_PLANE_TIMING, TRANSFER_TIMING, type DataPlaneTiming, type TransferTiming } from './limits.js';
import type { MetaSource, MetaSourceOpener } from './metadata-store.js';
import { mergeFacets, mergeOrdered, mergeScroll, resolveById, resolveCount, resolveFacets, resolveScrollPages } from './merge.js';
import { RemoteReplica, type PointsCaller, type ShardAddress } from './remote-replica.js';
import { servePoints, type ReplicaHost } from './replica-service.js';
import { DEFAULT_READ_CONSISTENCY, ReplicaSet, type Replica, type ReplicaSetHost } from './replica-set.js';
import { localOptimizerSummary, reconfigureLocalShard } from './local-storage.js';
import { exportLocalShard } from './shard-export.js';
import { LocalShardReplica, StaleView, type CallContext, type LeadOrdering, type ShardReplica } from './shard-replica.js';
import { ReplicaAdapter } from './replica-adapter.js';
import { restoreShardArchive, type ShardArchive, type ShardArchiveHeader } from '@shoal/shard';
import { TransferManager } from './transfer-manager.js';
import type { BeforeBatchHook, TransferHost } from './transfer-source.js';

export interface LocalNodeOptions {
  readonly fs: FileSystem;
  /** Root of this node's storage (storage.storage_path). */
  readonly storagePath: string;
  /** The metadata: `localMetaSource(…)` on a standalone node, Raft in a cluster. */
  readonly openMetaSource: MetaSourceOpener;
  /** Open (creating if missing) one local shard of a collection in `dir`. */
  readonly openShard: (dir: string, meta: CollectionMeta, shardId: number) => Promise<Replica>;
  readonly limits?: Limits;
  /** A fresh random peer id (an integer below 2^53), used once when the storage is new. */
  readonly newPeerId: () => number;
  readonly onWarning?: (message: string, detail: Record<string, unknown>) => void;
  readonly onInfo?: (message: string, detail: Record<string, unknown>) => void;
  readonly timing?: Partial<DataPlaneTiming>;
  readonly transferTiming?: Partial<TransferTiming>;
  /** Test hook: called before a copied batch of a transfer this node sends goes out. */
  readonly beforeTransferBatch?: BeforeBatchHook;
}

/** What a node in a cluster needs from its consensus and transport (ClusterConsensus provides it). */
export interface ClusterLink {
  /** Sends a Points call to a peer by id. */
  readonly callPoints: PointsCaller;
  /** Catches up with the leader's commit (ReadIndex) and waits until this node acted on it. */
  catchUp(deadlineMs: number): Promise<void>;
  /** Members that answer now, this node included: where new shards can go. */
  reachablePeers(deadlineMs: number): Promise<number[]>;
  /** Waits until `peer` has acted on the metadata up to `index`; false at the deadline. */
  peerApplied(peer: number, index: number, deadlineMs: number): Promise<boolean>;
  /** Waits until this node has acted on `index`; false at the deadline. */
  waitActed(index: number, deadlineMs: number): Promise<boolean>;
  /** Whether `peer` answers within `timeoutMs` (this node always does). */
  peerAlive(peer: number, timeoutMs: number): Promise<boolean>;
  /** Whether this node leads Raft now. */
  isLeader(): boolean;
  /** The cluster's members (voters and learners), this node included. */
  members(): number[];
  /** Removes `peer` from the Raft membership (through the leader). */
  removeMember(peer: number): Promise<void>;
}

/**
 * A replica's directory: the shard id, and for a replica filled by a transfer the transfer's id
 * (ReplicaMeta.storage), so a new transfer never writes into what an earlier one left.
 */
function shardDirName(shardId: number, storage: number | undefined): string {
  return storage === undefined ? String(shardId) : `${shardId}@${storage}`;
}

/**
 * A collection incarnation's directory name: readable, safe as a path segment, and unique per
 * incarnation (the index of the entry that created it).
 */
function collectionDirName(meta: CollectionMeta): string {
  return `${encodeURIComponent(meta.name).replace(/^\./, '%2E')}@${meta.createdIndex}`;
}

interface StateWaiter {
  readonly test: (state: MetaState) => boolean;
  readonly resolve: (ok: boolean) => void;
}

export class LocalNode implements CollectionsService, ReplicaHost {
  private readonly collections = new Map<string, Collection>();
  private metadata: MetaSource | null = null;
  private peerIdValue: number | null = null;
  /** This start's epoch: the boot counter kept with the storage (tags the writes this node coordinates). */
  private epochValue: number | null = null;
  private operationCounter = 0;
  private cluster: ClusterLink | null = null;
  private readonly timing: DataPlaneTiming;
  private readonly deadMarker: DeadMarker;
  /** Replicas of this node whose activation is being proposed ("collection@incarnation/shard"). */
  private readonly activating = new Set<string>();
  private stateWaiters: StateWaiter[] = [];
  private closed = false;
  /** Shard transfers this node is an end of, and recovery of its Dead replicas (cluster mode). */
  private transfers: TransferManager | null = null;
  private readonly transferTiming: TransferTiming;
  readonly limits: Limits;

  constructor(private readonly options: LocalNodeOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.timing = { ...DATA_PLANE_TIMING, ...options.timing };
    this.transferTiming = { ...TRANSFER_TIMING, ...options.transferTiming };
    this.deadMarker = new DeadMarker({
      propose: (op) => this.proposeOutcome(op),
      state: () => this.metaState,
      retryPauseMs: this.timing.deadMarkRetryMsMin,
      retryPauseMsMax: this.timing.deadMarkRetryMsMax,
      onError: (error, collection) => this.warn('marking replicas Dead failed; retrying', { collection, err: String(error) }),
    });
  }

  get leadTimeoutMs(): number {
    return this.timing.leadTimeoutMs;
  }

  private get collectionsDir(): string {
    return `${this.options.storagePath}/collections`;
  }

  /**
   * Joins this node to a cluster's data plane: shards placed on other peers are reached through
   * `link`. Called once, before open() returns (from the metadata source opener).
   */
  attachCluster(link: ClusterLink): void {
    this.cluster = link;
  }

  /** Replay the metadata, open every collection's local shards, remove directories nothing owns. */
  async open(): Promise<void> {
    const { fs } = this.options;
    await fs.mkdirp(this.collectionsDir);
    this.peerIdValue = await this.loadPeerId();
    // Durable before any write is served: a clock's ticks start over in each epoch.
    this.epochValue = await bumpEpoch(this.options.fs, `${this.options.storagePath}/epoch`);
    this.metadata = await this.options.openMetaSource((state, op, _index, outcome) => this.onApplied(state, op, outcome));
    const state = this.metadata.state;
    for (const meta of state.collections.values()) await this.openCollection(meta);
    const owned = new Set([...state.collections.values()].map(collectionDirName));
    for (const entry of await fs.list(this.collectionsDir)) {
      if (!owned.has(entry)) await fs.removeDir(`${this.collectionsDir}/${entry}`);
    }
    if (this.cluster !== null) {
      this.transfers = new TransferManager({ host: this.transferHost(), timing: this.transferTiming, beforeBatch: this.options.beforeTransferBatch ?? null });
      this.transfers.start();
    }
  }

  /** This node's id, chosen once and kept with the storage. */
  get peerId(): number {
    if (this.peerIdValue === null) throw new ShoalError('unavailable', 'Service is starting');
    return this.peerIdValue;
  }

  private async loadPeerId(): Promise<number> {
    const path = `${this.options.storagePath}/peer_id`;
    const stored = await this.options.fs.readFile(path);
    if (stored !== null) {
      const text = new TextDecoder().decode(stored).trim();
      const id = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(id)) throw new ShoalError('storage', `corrupt peer id in ${path}`);
      return id;
    }
    const id = this.options.newPeerId();
    if (!Number.isSafeInteger(id) || id < 1) throw new ShoalError('storage', `peer id ${id} is not an integer in [1, 2^53)`);
    await writeFileAtomic(this.options.fs, path, [new TextEncoder().encode(`${id}\n`)]);
    return id;
  }

  /** This start's epoch (1 at the first start with this storage, then one more per start). */
  get epoch(): number {
    if (this.epochValue === null) throw new ShoalError('unavailable', 'Service is starting');
    return this.epochValue;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.transfers?.close();
    this.deadMarker.close();
    for (const w of this.stateWaiters.splice(0)) w.resolve(false);
    await this.metadata?.close();
    for (const collection of this.collections.values()) {
      for (const id of [...collection.adapters.keys()]) await this.closeLocal(collection, id, false);
    }
    this.collections.clear();
  }

  get metaState(): MetaState {
    if (this.metadata === null) throw new ShoalError('unavailable', 'Service is starting');
    return this.metadata.state;
  }

  private warn(message: string, detail: Record<string, unknown>): void {
    this.options.onWarning?.(message, detail);
  }

  /** Whether a replica on `peer` is this node's. A standalone node holds every replica. */
  private isLocal(peer: number): boolean {
    return this.cluster === null || peer === this.peerId;
  }

  // ----- acting on the metadata ----------------------------------------------------------------

  private async openCollection(meta: CollectionMeta): Promise<void> {
    const dir = `${this.collectionsDir}/${collectionDirName(meta)}`;
    const collection = new Collection(meta, dir, (c, shardId) => new ReplicaSet(shardId, this.replicaSetHost(c, shardId)));
    collection.viewIndex = this.metaState.appliedIndex;
    this.collections.set(meta.name, collection);
    await this.options.fs.mkdirp(dir);
    await this.syncLocalReplicas(collection, true);
  }

  /**
   * Opens the replicas placed on this node that are not open, drops those no longer placed here.
   * A replica whose storage key changed (a transfer started filling it) is dropped and opened
   * again, empty, in the directory of its new key.
   */
  private async syncLocalReplicas(collection: Collection, removeOrphans = false): Promise<void> {
    const meta = collection.meta;
    for (const shard of [...meta.shards.values()].sort((a, b) => a.id - b.id)) {
      const own = shard.replicas.find((r) => this.isLocal(r.peer));
      if (own === undefined) continue;
      const open = collection.adapters.get(shard.id);
      if (open !== undefined && open.storage === own.storage) continue;
      if (open !== undefined) {
        this.options.onInfo?.('dropping a replica for new storage', { collection: collection.name, shard: shard.id, from: open.storage ?? null, to: own.storage ?? null });
        await this.closeLocal(collection, shard.id, true);
      }
      const replica = await this.options.openShard(`${collection.dir}/${shardDirName(shard.id, own.storage)}`, meta, shard.id);
      collection.local.set(shard.id, replica);
      collection.adapters.set(shard.id, new ReplicaAdapter(replica, (metaIndex) => this.fenceCheck(collection, shard.id, metaIndex), own.storage));
    }
    for (const id of [...collection.adapters.keys()]) {
      const shard = meta.shards.get(id);
      if (shard === undefined || !shard.replicas.some((r) => this.isLocal(r.peer))) await this.closeLocal(collection, id, true);
    }
    if (removeOrphans) await this.removeOrphanShards(collection);
    await this.reconcileIndexes(collection);
    this.activateLocal(collection);
  }

  private async closeLocal(collection: Collection, shardId: number, drop: boolean): Promise<void> {
    const adapter = collection.adapters.get(shardId);
    collection.adapters.delete(shardId);
    collection.local.delete(shardId);
    if (adapter === undefined) return;
    adapter.markClosed();
    await (drop ? adapter.replica.drop() : adapter.replica.close());
  }

  /** Shard directories no replica placed here owns (left by a crash during a transfer's start or a drop). */
  private async removeOrphanShards(collection: Collection): Promise<void> {
    const wanted = new Set<string>();
    for (const shard of collection.meta.shards.values()) {
      const own = shard.replicas.find((r) => this.isLocal(r.peer));
      if (own !== undefined) wanted.add(shardDirName(shard.id, own.storage));
    }
    for (const entry of await this.options.fs.list(collection.dir)) {
      // `.snapshot` (and its `.restoring`): a snapshot transfer's restore a crash cut short.
      if (/^\d+(@\d+)?(\.snapshot(\.restoring)?)?$/.test(entry) && !wanted.has(entry)) await this.options.fs.removeDir(`${collection.dir}/${entry}`);
    }
  }

  /**
   * Whether a write decided at `metaIndex` may go to this node's replica of the shard: not when
   * the shard's write set changed since (its fence), when the replica left this node, or when it
   * is a transfer's target (which takes writes from its source only).
   */
  private fenceCheck(collection: Collection, shardId: number, metaIndex: number): StaleView | null {
    const meta = collection.meta;
    const shard = meta.shards.get(shardId);
    const applied = this.metaState.appliedIndex;
    const own = shard?.replicas.find((r) => this.isLocal(r.peer));
    if (shard === undefined || own === undefined) {
      return new StaleView(applied, `Service unavailable: shard ${shardId} of \`${meta.name}\` is no longer on peer ${this.peerId}`);
    }
    const fence = shard.fence ?? 0;
    if (metaIndex < fence) {
      return new StaleView(fence, `Service unavailable: the replicas of shard ${shardId} changed at metadata index ${fence}, after the write was routed (${metaIndex})`);
    }
    if (meta.transfers.some((t) => t.shard === shardId && t.to === own.peer)) {
      return new StaleView(applied, `Service unavailable: the replica of shard ${shardId} on peer ${this.peerId} is receiving a transfer and takes writes from its source only`);
    }
    return null;
  }

  /**
   * A crash can fall between a committed index definition and its application to the shards;
   * bring the local replicas in line with the metadata.
   */
  private async reconcileIndexes(collection: Collection): Promise<void> {
    const wanted = collection.meta.payloadIndexes;
    for (const replica of collection.local.values()) {
      const present = replica.payloadIndexes();
      for (const [field, params] of wanted) {
        const have = present.get(field);
        if (have === undefined || have.params.type !== params.type) await replica.update({ kind: 'create_field_index', field, params });
      }
      for (const field of present.keys()) {
        if (!wanted.has(field)) await replica.update({ kind: 'delete_field_index', field });
      }
    }
  }

  private async onApplied(state: MetaState, op: MetaOperation, outcome: ApplyOutcome): Promise<void> {
    if (!outcome.ok) return this.notifyState(state);
    switch (op.kind) {
      case 'create_collection':
        await this.openCollection(state.collections.get(op.name)!);
        break;
      case 'delete_collection':
        await this.dropCollection(op.name);
        break;
      case 'update_collection':
      case 'create_field_index':
      case 'delete_field_index':
      case 'set_replica_states':
      case 'create_shard_key':
      case 'delete_shard_key':
      case 'start_transfer':
      case 'finish_transfer':
      case 'abort_transfer':
      case 'restart_transfer':
      case 'remove_replica': {
        const name = op.kind === 'update_collection' ? op.name : op.collection;
        const collection = this.collections.get(name);
        const meta = state.collections.get(name);
        if (collection === undefined || meta === undefined) break;
        collection.meta = meta;
        collection.viewIndex = state.appliedIndex;
        // A PATCH of hnsw / optimizers / quantization config reaches the live local shards.
        if (op.kind === 'update_collection') for (const replica of collection.local.values()) reconfigureLocalShard(replica, meta.config);
        // Transfers that ended stop before their replicas are dropped; new ones start once their replicas are open.
        this.transfers?.reconcile(state);
        await this.syncLocalReplicas(collection);
        break;
      }
      case 'remove_peer':
        for (const collection of this.collections.values()) {
          const meta = state.collections.get(collection.name);
          if (meta === undefined || meta === collection.meta) continue;
          collection.meta = meta;
          collection.viewIndex = state.appliedIndex;
        collection.viewIndex = state.appliedIndex;
          this.transfers?.reconcile(state);
          await this.syncLocalReplicas(collection);
        }
        break;
      case 'change_aliases':
        break;
      default:
        unreachable(op);
    }
    this.transfers?.reconcile(state);
    this.notifyState(state);
  }

  /**
   * The directory belongs to this incarnation only; if removal is cut short by a crash, start-up
   * removes what is left because no collection owns it.
   */
  private async dropCollection(name: string): Promise<void> {
    const collection = this.collections.get(name);
    if (collection === undefined) return;
    this.collections.delete(name);
    for (const id of [...collection.adapters.keys()]) await this.closeLocal(collection, id, false);
    await this.options.fs.removeDir(collection.dir);
  }

  /**
   * Replicas of this node that are Initializing become Active once their shard is open here: the
   * node proposes it itself (in the background: a proposal waits for this node's own listener).
   */
  private activateLocal(collection: Collection): void {
    if (this.cluster === null) return;
    const meta = collection.meta;
    for (const shard of meta.shards.values()) {
      const own = shard.replicas.find((r) => r.peer === this.peerId);
      if (own === undefined || own.state !== 'Initializing' || !collection.local.has(shard.id)) continue;
      const key = `${meta.name}@${meta.createdIndex}/${shard.id}`;
      if (this.activating.has(key)) continue;
      this.activating.add(key);
      void this.activate(meta.name, meta.createdIndex, shard.id).finally(() => this.activating.delete(key));
    }
  }

  private async activate(name: string, incarnation: number, shardId: number): Promise<void> {
    let pause = this.timing.deadMarkRetryMsMin;
    while (!this.closed) {
      const meta = this.metaState.collections.get(name);
      const own = meta?.createdIndex === incarnation ? meta.shards.get(shardId)?.replicas.find((r) => r.peer === this.peerId) : undefined;
      if (own === undefined || own.state !== 'Initializing') return;
      try {
        await this.proposeOutcome({
          kind: 'set_replica_states', collection: name, incarnation,
          changes: [{ shard: shardId, peer: this.peerId, expect: { state: own.state, generation: own.generation }, state: 'Active' }],
        });
      } catch (error) {
        this.warn('activating a replica failed; retrying', { collection: name, shard: shardId, err: String(error) });
        await new Promise((resolve) => setTimeout(resolve, pause).unref());
        pause = Math.min(pause * 2, this.timing.deadMarkRetryMsMax);
      }
    }
  }

  private notifyState(state: MetaState): void {
    if (this.stateWaiters.length === 0) return;
    const done = this.stateWaiters.filter((w) => w.test(state));
    if (done.length === 0) return;
    this.stateWaiters = this.stateWaiters.filter((w) => !done.includes(w));
    for (const w of done) w.resolve(true);
  }

  /** Resolves true once the applied state passes `test`, false at the deadline. */
  private waitForState(test: (state: MetaState) => boolean, deadlineMs: number): Promise<boolean> {
    if (test(this.metaState)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: StateWaiter = { test, resolve };
      this.stateWaiters.push(waiter);
      setTimeout(() => {
        if (!this.stateWaiters.includes(waiter)) return;
        this.stateWaiters = this.stateWaiters.filter((w) => w !== waiter);
        resolve(test(this.metaState));
      }, Math.max(0, deadlineMs - performance.now())).unref();
    });
  }

  private async propose(op: MetaOperation): Promise<void> {
    const outcome = await this.proposeOutcome(op);
    if (!outcome.ok) throw refusalError(outcome.refusal);
  }

  private async proposeOutcome(op: MetaOperation): Promise<ApplyOutcome> {
    if (this.metadata === null) throw new ShoalError('unavailable', 'Service is starting');
    return this.metadata.propose(op);
  }

  // ----- replica sets --------------------------------------------------------------------------

  private replicaSetHost(collection: Collection, shardId: number): ReplicaSetHost {
    const remotes = new Map<number, RemoteReplica>();
    const address = (): ShardAddress => ({ collection: collection.name, incarnation: collection.meta.createdIndex, shardId });
    return {
      isLocal: (peer) => this.isLocal(peer),
      shard: () => collection.meta.shards.get(shardId),
      transfers: () => collection.meta.transfers,
      metaIndex: () => collection.viewIndex,
      catchUpTo: (index, deadlineMs) => this.catchUpTo(index, deadlineMs),
      replica: (peer): ShardReplica => {
        if (this.isLocal(peer)) {
          const local = collection.adapters.get(shardId);
          if (local === undefined) return new MissingReplica(peer, `Service unavailable: shard ${shardId} of \`${collection.name}\` is not open on this peer`);
          return new LocalShardReplica(peer, local);
        }
        const cluster = this.cluster;
        if (cluster === null) return new MissingReplica(peer, `Service unavailable: peer ${peer} is not reachable from a standalone node`);
        let remote = remotes.get(peer);
        if (remote === undefined) {
          remote = new RemoteReplica(peer, this.peerId, address(), cluster.callPoints);
          remotes.set(peer, remote);
        }
        return remote;
      },
      markDead: (failed, deadlineMs) => this.deadMarker.mark(collection.name, collection.meta.createdIndex, shardId, failed, deadlineMs),
      backgroundFailure: (error) => this.warn('a write acknowledged with wait=false failed on other replicas', { collection: collection.name, shard: shardId, err: String(error) }),
      clockOrigin: () => ({ peer: this.peerId, epoch: this.epoch }),
    };
  }

  // ----- the Points service (calls from other peers' routers) ----------------------------------

  /** Answers a Points call from another peer. */
  answerPoints(method: PointsMethod, request: ShardRequest, signal: AbortSignal): Promise<ShardReply> {
    return servePoints(this, method, request, signal);
  }

  /**
   * This node's replica of the addressed shard, once this node has acted on `metaIndex` (the
   * caller's view). A collection this node does not know yet (the caller applied its creation
   * first) makes it catch up before refusing; a replica that left this node after the caller's
   * view is a StaleView (the caller catches up and asks the replicas it then sees).
   */
  async localReplica(address: ShardAddress, metaIndex = 0): Promise<Replica> {
    return (await this.localAdapter(address, metaIndex)).replica;
  }

  private async localAdapter(address: ShardAddress, metaIndex: number): Promise<ReplicaAdapter> {
    await this.catchUpTo(metaIndex, performance.now() + this.timing.catchUpTimeoutMs);
    const find = (): ReplicaAdapter | undefined => {
      const collection = this.collections.get(address.collection);
      if (collection === undefined || collection.meta.createdIndex !== address.incarnation) return undefined;
      return collection.adapters.get(address.shardId);
    };
    let adapter = find();
    const known = this.collections.get(address.collection)?.meta.createdIndex ?? 0;
    if (adapter === undefined && this.cluster !== null && address.incarnation > known) {
      await this.cluster.catchUp(performance.now() + this.timing.catchUpTimeoutMs);
      adapter = find();
    }
    if (adapter === undefined) {
      const applied = this.metaState.appliedIndex;
      const message = `Shard ${address.shardId} of collection \`${address.collection}\` (incarnation ${address.incarnation}) is not on peer ${this.peerId}`;
      if (this.cluster !== null && metaIndex > 0 && metaIndex < applied && address.incarnation === known) throw new StaleView(applied, `Service unavailable: ${message}`);
      throw notFound(message);
    }
    return adapter;
  }

  async writeLocal(address: ShardAddress, op: PointOperation, metaIndex: number, tag: ClockTag | null): Promise<ApplyResult> {
    return (await this.localAdapter(address, metaIndex)).update(op, metaIndex, tag);
  }

  async leadWrite(address: ShardAddress, op: PointOperation, lead: LeadOrdering, ctx: CallContext): Promise<ApplyResult> {
    // Lead with a view at least as new as the caller's.
    await this.catchUpTo(ctx.metaIndex ?? 0, ctx.deadlineMs);
    const collection = this.collections.get(address.collection);
    if (collection === undefined || collection.meta.createdIndex !== address.incarnation) {
      throw notFound(`Collection \`${address.collection}\` (incarnation ${address.incarnation}) is not on peer ${this.peerId}`);
    }
    const policy = { writeConsistencyFactor: collection.meta.config.writeConsistencyFactor, ordering: lead, wait: true };
    return collection.set(address.shardId).lead(op, lead, policy, ctx);
  }

  receiveTransfer(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    if (this.transfers === null) return Promise.reject(badRequest('Bad request: Distributed mode disabled'));
    return this.transfers.receive(address, request);
  }

  transferStatus(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    if (this.transfers === null) return Promise.reject(badRequest('Bad request: Distributed mode disabled'));
    return this.transfers.status(address, request);
  }

  transferTicks(address: ShardAddress, request: ShardRequest): Promise<Uint8Array> {
    if (this.transfers === null) return Promise.reject(badRequest('Bad request: Distributed mode disabled'));
    return this.transfers.ticks(address, request);
  }

  /** Waits until this node has acted on `index` (bounded by the deadline and the catch-up budget). */
  private async catchUpTo(index: number, deadlineMs: number): Promise<void> {
    const cluster = this.cluster;
    // Not the applied index: the node must have acted on it (collections see the new metadata).
    if (cluster === null || index <= 0) return;
    const deadline = Math.min(deadlineMs, performance.now() + this.timing.catchUpTimeoutMs);
    if (!(await cluster.waitActed(index, deadline))) {
      throw new ShoalError('unavailable', `Service unavailable: peer ${this.peerId} has not applied metadata index ${index} yet`);
    }
  }

  private transferHost(): TransferHost {
    const cluster = this.cluster!;
    return {
      peerId: this.peerId,
      state: () => this.metaState,
      propose: (op) => this.proposeOutcome(op),
      waitActed: (index, deadlineMs) => cluster.waitActed(index, deadlineMs),
      peerApplied: (peer, index, deadlineMs) => cluster.peerApplied(peer, index, deadlineMs),
      peerAlive: (peer, timeoutMs) => cluster.peerAlive(peer, timeoutMs),
      isLeader: () => cluster.isLeader(),
      callPoints: cluster.callPoints,
      adapter: (name, incarnation, shardId) => {
        const collection = this.collections.get(name);
        return collection?.meta.createdIndex === incarnation ? collection.adapters.get(shardId) : undefined;
      },
      restoreReplica: (name, incarnation, shardId, storage, chunks) => this.restoreReplica(name, incarnation, shardId, storage, chunks),
      log: (level, message, detail) => (level === 'warn' ? this.warn(message, detail) : this.options.onInfo?.(message, detail)),
    };
  }

  /**
   * A `snapshot` transfer's target (TransferHost.restoreReplica): the archive is restored into
   * `<replica dir>.snapshot` while the empty replica stays open (so the node never holds a closed
   * replica for the length of a download); then, under the replica's lock, the empty replica is
   * dropped, the restored directory renamed into its place (parent fsynced) and opened in the same
   * adapter. A failure removes the restored directory; start-up removes one a crash left.
   */
  private async restoreReplica(name: string, incarnation: number, shardId: number, storage: number, chunks: AsyncIterable<Uint8Array>): Promise<ShardArchiveHeader> {
    const fs = this.options.fs;
    const collection = this.collections.get(name);
    const adapter = collection?.meta.createdIndex === incarnation ? collection.adapters.get(shardId) : undefined;
    const gone = (): ShoalError => new ShoalError('conflict', `Conflict: the replica of shard ${shardId} of \`${name}\` for transfer ${storage} is no longer open on peer ${this.peerId}`);
    if (collection === undefined || adapter === undefined || adapter.storage !== storage) throw gone();
    const current = (): boolean => !adapter.isClosed && collection.adapters.get(shardId) === adapter && this.collections.get(name) === collection;
    const dir = `${collection.dir}/${shardDirName(shardId, storage)}`;
    const staged = `${dir}.snapshot`;
    await fs.removeDir(staged);
    try {
      const header = await restoreShardArchive(fs, chunks, staged);
      await adapter.replaceReplica(async (old) => {
        if (!current()) throw gone();
        await old.drop();
        await fs.rename(staged, dir);
        await fs.syncDir(collection.dir);
        const replica = await this.options.openShard(dir, collection.meta, shardId);
        if (!current()) {
          await replica.drop();
          throw gone();
        }
        collection.local.set(shardId, replica);
        return replica;
      });
      await this.reconcileIndexes(collection);
      return header;
    } catch (error) {
      await fs.removeDir(staged).catch(() => undefined);
      throw error;
    }
  }

  // ----- resolving names -----------------------------------------------------------------------

  private tryResolve(nameOrAlias: string): Collection | undefined {
    const meta = resolveCollection(this.metaState, nameOrAlias);
    return meta === undefined ? undefined : this.collections.get(meta.name);
  }

  /**
   * The collection a name or alias refers to. A name this node does not know makes it catch up
   * with the leader's commit first (the collection may have been created through another node a
   * moment ago): only then is it a 404.
   */
  private async resolve(nameOrAlias: string, options: RequestOptions = {}): Promise<Collection> {
    let collection = this.tryResolve(nameOrAlias);
    if (collection === undefined && this.cluster !== null) {
      await this.cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
      collection = this.tryResolve(nameOrAlias);
    }
    if (collection === undefined) throw notFound(`Collection \`${nameOrAlias}\` doesn't exist!`);
    return collection;
  }

  private deadline(options: RequestOptions, budgetMs: number): number {
    return Math.min(options.deadlineMs ?? Infinity, performance.now() + budgetMs);
  }

  private context(options: RequestOptions, budgetMs: number): CallContext {
    return { deadlineMs: options.deadlineMs ?? performance.now() + budgetMs, ...(options.signal === undefined ? {} : { signal: options.signal }) };
  }

  // ----- collections ----------------------------------------------------------------------

  /**
   * `linearizable=true` on a metadata read: a ReadIndex (the leader confirms its leadership with a
   * quorum and reports its commit index), then this node acts on everything up to that index, so
   * the answer that follows from local state reflects every metadata change committed before the
   * request arrived. Standalone, or not asked for: nothing to do.
   */
  async confirmMetadata(options: RequestOptions): Promise<void> {
    const cluster = this.cluster;
    if (options.linearizable !== true || cluster === null) return;
    try {
      await cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
    } catch (error) {
      if (!(error instanceof ShoalError)) throw error;
      const why = error.message.replace(/^Service unavailable: /, '');
      throw new ShoalError('unavailable', `Service unavailable: could not confirm the metadata with the cluster leader (${why})`);
    }
  }

  listCollections(): string[] {
    return [...this.metaState.collections.keys()];
  }

  async collectionExists(name: string, options: RequestOptions = {}): Promise<boolean> {
    if (resolveCollection(this.metaState, name) !== undefined) return true;
    if (this.cluster === null) return false;
    await this.cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
    return resolveCollection(this.metaState, name) !== undefined;
  }

  /**
   * Proposes the collection with its placement: on a standalone node every shard here, Active; in
   * a cluster spread over the peers that answer now, Initializing until each peer opened its
   * replica. Returns once every replica is Active and every peer that answered has applied it, so
   * a client may write through any node next (bounded by `timeout`).
   */
  async createCollection(name: string, config: CollectionConfig, options: RequestOptions): Promise<void> {
    checkName(name, this.limits);
    if (this.metaState.collections.size >= this.limits.collectionsMax) {
      throw badRequest(`Wrong input: too many collections (at most ${this.limits.collectionsMax})`);
    }
    const deadlineMs = this.deadline(options, this.timing.createTimeoutMs);
    const shards = config.shardingMethod === 'custom' ? 0 : config.shardNumber;
    const peers = this.cluster === null ? [this.peerId] : await this.cluster.reachablePeers(deadlineMs);
    const placement = balancedPlacement(peers, replicaCounts(this.metaState), shards, config.replicationFactor);
    const routing = { kind: 'ring', vnodes: RING_VNODES_DEFAULT, seed: 0 } as const;
    await this.propose({ kind: 'create_collection', name, config, routing, placement, initialState: this.cluster === null ? 'Active' : 'Initializing' });
    const meta = this.metaState.collections.get(name);
    if (meta !== undefined) await this.waitActive(meta, peers, deadlineMs);
  }

  /** Every replica of the collection Active (or the collection gone), and every one of `peers` caught up with its creation. */
  private async waitActive(meta: CollectionMeta, peers: readonly number[], deadlineMs: number): Promise<void> {
    const cluster = this.cluster;
    if (cluster === null) return;
    const allActive = (state: MetaState): boolean => {
      const now = state.collections.get(meta.name);
      if (now === undefined || now.createdIndex !== meta.createdIndex) return true;
      return [...now.shards.values()].every((s) => s.replicas.every((r) => r.state !== 'Initializing'));
    };
    if (!(await this.waitForState(allActive, deadlineMs))) {
      throw new ShoalError('timeout', `Timeout: collection \`${meta.name}\` is created, but not every replica is Active yet`);
    }
    const index = this.metaState.appliedIndex;
    const caughtUp = await Promise.all(peers.filter((p) => p !== this.peerId).map((p) => cluster.peerApplied(p, index, deadlineMs)));
    if (caughtUp.includes(false)) {
      throw new ShoalError('timeout', `Timeout: collection \`${meta.name}\` is created, but not every peer has applied it yet`);
    }
  }

  async updateCollection(name: string, patch: CollectionPatch, options: RequestOptions): Promise<void> {
    const collection = await this.resolve(name, options);
    if (patch.vectors !== null) {
      for (const vectorName of patch.vectors.keys()) collection.distanceOf(vectorName);
    }
    await this.propose({ kind: 'update_collection', name: collection.name, patch });
  }

  async deleteCollection(name: string, options: RequestOptions): Promise<boolean> {
    if (!this.metaState.collections.has(name)) {
      if (this.cluster === null) return false;
      await this.cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
      if (!this.metaState.collections.has(name)) return false;
    }
    await this.propose({ kind: 'delete_collection', name });
    return true;
  }

  async collectionClusterInfo(name: string, options: RequestOptions = {}): Promise<CollectionClusterInfo> {
    const collection = await this.resolve(name, options);
    const meta = collection.meta;
    const shards = [...meta.shards.values()].sort((a, b) => a.id - b.id);
    const localShards: CollectionClusterInfo['localShards'][number][] = [];
    const remoteShards: CollectionClusterInfo['remoteShards'][number][] = [];
    for (const shard of shards) {
      for (const r of shard.replicas) {
        if (this.isLocal(r.peer)) {
          const points = collection.local.get(shard.id)?.stats().points ?? 0;
          localShards.push({ shardId: shard.id, shardKey: shard.key, pointsCount: points, state: r.state });
        } else {
          remoteShards.push({ shardId: shard.id, shardKey: shard.key, peerId: r.peer, state: r.state });
        }
      }
    }
    const transfers = meta.transfers.map((t) => ({
      shardId: t.shard, toShardId: null, from: t.from, to: t.to, sync: t.sync, method: t.method,
      comment: this.transfers?.comment(meta.name, meta.createdIndex, t) ?? null,
    }));
    return { peerId: this.peerId, shardCount: shards.length, localShards, remoteShards, transfers };
  }

  async shardArchive(name: string, shardId: number, options: RequestOptions = {}): Promise<ShardArchive> {
    const collection = await this.resolve(name, options);
    return exportLocalShard(collection.meta, shardId, collection.adapters.get(shardId), this.peerId);
  }

  async collectionConfig(name: string, options: RequestOptions = {}): Promise<CollectionConfig> {
    return (await this.resolve(name, options)).meta.config;
  }

  async collectionInfo(name: string, options: RequestOptions = {}): Promise<CollectionInfo> {
    const collection = await this.resolve(name, options);
    const ctx = this.context(options, this.timing.readTimeoutMs);
    const infos = await Promise.all([...collection.sets.values()].map((set) =>
      // Best effort: a shard without a readable replica counts as empty here rather than failing the whole answer.
      set.read(DEFAULT_READ_CONSISTENCY, ctx, (r, c) => r.info(c), (answers) => answers[0]!).catch(() => null),
    ));
    let points = 0;
    const fieldPoints = new Map<string, number>();
    for (const info of infos) {
      if (info === null) continue;
      points += info.points;
      for (const [field, i] of info.payloadIndexes) fieldPoints.set(field, (fieldPoints.get(field) ?? 0) + i.points);
    }
    const payloadSchema = new Map<string, PayloadFieldInfo>();
    for (const [field, params] of collection.meta.payloadIndexes) {
      payloadSchema.set(field, { dataType: params.type, params, points: fieldPoints.get(field) ?? 0 });
    }
    const optimizers = localOptimizerSummary(collection.local.values());
    return {
      status: optimizers.status,
      optimizerStatus: optimizers.error === null ? { ok: true } : { error: optimizers.error },
      pointsCount: points,
      indexedVectorsCount: optimizers.indexedVectors,
      segmentsCount: optimizers.segments,
      config: collection.meta.config,
      payloadSchema,
    };
  }

  // ----- shard keys ----------------------------------------------------------------------------

  async createShardKey(name: string, request: CreateShardKeyRequest, options: RequestOptions): Promise<void> {
    const collection = await this.resolve(name, options);
    const config = collection.meta.config;
    if (config.shardingMethod !== 'custom') throw badRequest(`Wrong input: Collection \`${collection.name}\` does not use custom sharding`);
    const deadlineMs = this.deadline(options, this.timing.createTimeoutMs);
    const reachable = this.cluster === null ? [this.peerId] : await this.cluster.reachablePeers(deadlineMs);
    const peers = request.placement === null ? reachable : [...request.placement];
    const known = new Set(this.cluster === null ? [this.peerId] : reachable);
    for (const p of peers) if (!known.has(p)) throw badRequest(`Wrong input: peer ${p} is not a reachable member of the cluster`);
    const placement = balancedPlacement(peers, replicaCounts(this.metaState), request.shardsNumber ?? config.shardNumber, request.replicationFactor ?? config.replicationFactor);
    const initialState = request.initialState ?? (this.cluster === null ? 'Active' : 'Initializing');
    await this.propose({ kind: 'create_shard_key', collection: collection.name, incarnation: collection.meta.createdIndex, key: request.key, placement, initialState });
    const meta = this.metaState.collections.get(collection.name);
    if (meta !== undefined) await this.waitActive(meta, reachable, deadlineMs);
  }

  async deleteShardKey(name: string, key: ShardKey, options: RequestOptions): Promise<void> {
    const collection = await this.resolve(name, options);
    await this.propose({ kind: 'delete_shard_key', collection: collection.name, incarnation: collection.meta.createdIndex, key });
  }

  async listShardKeys(name: string, options: RequestOptions): Promise<ShardKey[] | null> {
    const collection = await this.resolve(name, options);
    return collection.meta.config.shardingMethod === 'custom' ? shardKeysOf(collection.meta) : null;
  }

  // ----- aliases -----------------------------------------------------------------------------

  async updateAliases(actions: readonly AliasAction[], _options: RequestOptions): Promise<void> {
    for (const action of actions) {
      if (action.kind === 'create') checkName(action.alias, this.limits);
      if (action.kind === 'rename') checkName(action.newAlias, this.limits);
    }
    await this.propose({ kind: 'change_aliases', actions });
  }

  listAliases(collection: string | null): { alias: string; collection: string }[] {
    const state = this.metaState;
    if (collection !== null && !state.collections.has(collection)) {
      throw notFound(`Collection \`${collection}\` doesn't exist!`);
    }
    return [...state.aliases]
      .filter(([, target]) => collection === null || target === collection)
      .map(([alias, target]) => ({ alias, collection: target }));
  }

  // ----- payload indexes ---------------------------------------------------------------------

  async createFieldIndex(collection: string, field: string, params: PayloadIndexParams, options: WriteOptions): Promise<UpdateResult> {
    const target = await this.resolve(collection, options);
    target.checkOperation({ kind: 'create_field_index', field, params });
    await this.propose({ kind: 'create_field_index', collection: target.name, field, params });
    return { operationId: this.nextOperationId(), status: 'completed' };
  }

  async deleteFieldIndex(collection: string, field: string, options: WriteOptions): Promise<UpdateResult> {
    const target = await this.resolve(collection, options);
    await this.propose({ kind: 'delete_field_index', collection: target.name, field });
    return { operationId: this.nextOperationId(), status: 'completed' };
  }

  private nextOperationId(): number {
    this.operationCounter += 1;
    return this.operationCounter;
  }

  // ----- points --------------------------------------------------------------------------------

  async updatePoints(collection: string, writes: readonly PointWrite[], options: WriteOptions): Promise<UpdateResult> {
    const target = await this.resolve(collection, options);
    const routed = writes.map((w) => {
      target.checkOperation(w.op);
      const placesPoints = w.op.kind === 'upsert' || w.op.kind === 'update_vectors';
      return { op: w.op, groups: target.route(w.shardKey, placesPoints) };
    });
    // No abort signal: a client that goes away does not cut a write short on some replicas (which
    // would get them marked Dead); the write runs to its deadline.
    const ctx: CallContext = { deadlineMs: options.deadlineMs ?? performance.now() + this.timing.writeTimeoutMs };
    const policy = { writeConsistencyFactor: target.meta.config.writeConsistencyFactor, ordering: options.ordering, wait: options.wait };
    for (const { op, groups } of routed) {
      const perGroup = await Promise.all(groups.map(async (group) => {
        const parts = [...target.split(op, group)];
        const results = await Promise.all(parts.map(([shard, part]) => target.set(shard).write(part, policy, ctx)));
        return results.flatMap((r) => (r.ok ? [] : r.missing));
      }));
      // Under several shard keys an id is missing only if no key holds it.
      const missing = perGroup.reduce((acc, ids) => acc.filter((id) => ids.some((x) => comparePointIds(x, id) === 0)));
      if (missing.length > 0) throw notFound(`No point with id ${formatId(missing[0]!)} found`);
    }
    return { operationId: this.nextOperationId(), status: options.wait ? 'completed' : 'acknowledged' };
  }

  private readGroups(target: Collection, options: RequestOptions): RouteGroup[] {
    return target.route(options.shardKey ?? null, false);
  }

  /** Runs a read on every shard of `groups` with the request's consistency. */
  private readShards<T>(
    target: Collection,
    groups: readonly RouteGroup[],
    options: RequestOptions,
    call: (r: ShardReplica, ctx: CallContext) => Promise<T>,
    combine: (answers: T[], threshold: number) => T,
  ): Promise<T[]> {
    const ctx = this.context(options, this.timing.readTimeoutMs);
    const consistency = options.consistency ?? DEFAULT_READ_CONSISTENCY;
    const shardIds = groups.flatMap((g) => g.shardIds);
    return Promise.all(shardIds.map((id) => target.set(id).read(consistency, ctx, call, combine)));
  }

  async retrieve(collection: string, ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, options: RequestOptions): Promise<PointRecord[]> {
    const target = await this.resolve(collection, options);
    if (Array.isArray(withVector)) for (const name of withVector) target.distanceOf(name);
    return orderRecords(ids, await this.fetch(target, this.readGroups(target, options), ids, withPayload, withVector, options));
  }

  /** The records of `ids` from the shards of `groups`, in group order (custom sharding: tagged with their shard's key). */
  private async fetch(target: Collection, groups: readonly RouteGroup[], ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, options: RequestOptions): Promise<PointRecord[]> {
    const ctx = this.context(options, this.timing.readTimeoutMs);
    const consistency = options.consistency ?? DEFAULT_READ_CONSISTENCY;
    const byShard = [...target.shardsForIds(groups, ids)];
    const lists = await Promise.all(byShard.map(([shard, part]) =>
      target.set(shard).read(consistency, ctx, (r, c) => r.retrieve(part, withPayload, withVector, c), resolveById),
    ));
    return tagShardKeys(lists, byShard.map(([shard]) => shard), shardKeysById(groups)).flat();
  }

  async search(collection: string, request: SearchRequest, options: RequestOptions): Promise<ScoredPointRecord[]> {
    const target = await this.resolve(collection, options);
    const distance = target.distanceOf(request.vectorName);
    const groups = this.readGroups(target, options);
    let vector: Float32Array;
    let excludeIds: PointId[] = [];
    if (request.query.kind === 'vector') {
      target.checkVectors(new Map([[request.vectorName, request.query.vector]]));
      vector = request.query.vector;
    } else {
      vector = await this.storedVector(target, groups, request.query.id, request.vectorName, options);
      excludeIds = [request.query.id];
    }
    const params = {
      vectorName: request.vectorName,
      vector,
      filter: request.filter,
      limit: request.offset + request.limit,
      offset: 0,
      scoreThreshold: request.scoreThreshold,
      withPayload: request.withPayload,
      withVector: request.withVector,
      excludeIds,
      exact: request.exact,
      hnswEf: request.hnswEf,
      indexedOnly: request.indexedOnly ?? false,
      quantization: request.quantization ?? null,
    };
    const lists = await this.readShards(target, groups, options, (r, ctx) => r.search(params, ctx), resolveById);
    return mergeTopK(tagShardKeys(lists, shardIdsOf(groups), shardKeysById(groups)), distance, request.offset, request.limit);
  }

  /** The vector of a stored point, for a query by id. */
  private async storedVector(target: Collection, groups: readonly RouteGroup[], id: PointId, vectorName: string, options: RequestOptions): Promise<Float32Array> {
    const records = await this.fetch(target, groups, [id], { kind: 'none' }, [vectorName], options);
    const record = records[0];
    if (record === undefined) throw notFound(`No point with id ${formatId(id)} found`);
    const vector = record.vectors?.get(vectorName);
    if (vector === undefined) throw badRequest(`Wrong input: Point ${formatId(id)} has no vector \`${vectorName}\``);
    return vector;
  }

  async scroll(collection: string, request: ScrollRequest, options: RequestOptions): Promise<ScrollResult> {
    const target = await this.resolve(collection, options);
    const groups = this.readGroups(target, options);
    const { filter, limit, withPayload, withVector } = request;
    if (request.orderBy !== null) {
      const orderBy = request.orderBy;
      const params = { filter, orderBy, limit, withPayload, withVector };
      const lists = await this.readShards(target, groups, options, (r, ctx) => r.scrollOrdered(params, ctx), resolveById);
      return { points: mergeOrdered(tagShardKeys(lists, shardIdsOf(groups), shardKeysById(groups)), orderBy.direction, limit), nextPageOffset: null };
    }
    const params = { filter, offset: request.offset, limit, withPayload, withVector };
    const pages = await this.readShards(target, groups, options, (r, ctx) => r.scroll(params, ctx), resolveScrollPages);
    const keys = shardKeysById(groups);
    const tagged = tagShardKeys(pages.map((p) => p.points), shardIdsOf(groups), keys);
    return mergeScroll(pages.map((page, i) => ({ ...page, points: tagged[i]! })), limit);
  }

  async count(collection: string, filter: Filter | null, _exact: boolean, options: RequestOptions): Promise<number> {
    const target = await this.resolve(collection, options);
    const counts = await this.readShards(target, this.readGroups(target, options), options, (r, ctx) => r.count(filter, ctx), resolveCount);
    return counts.reduce((a, b) => a + b, 0);
  }

  async facet(collection: string, key: string, filter: Filter | null, limit: number, _exact: boolean, options: RequestOptions): Promise<FacetHit[]> {
    const target = await this.resolve(collection, options);
    const groups = this.readGroups(target, options);
    const shards = groups.reduce((n, g) => n + g.shardIds.length, 0);
    const params = { key, filter, limit: shards === 1 ? limit : Number.MAX_SAFE_INTEGER };
    const lists = await this.readShards(target, groups, options, (r, ctx) => r.facet(params, ctx), resolveFacets);
    return mergeFacets(lists, limit);
  }

  // ----- shard placement: transfers, replicas, peers -------------------------------------------

  /**
   * POST /collections/{c}/cluster. Transfers are started (committed) and run in the background:
   * the source reports progress in GET /collections/{c}/cluster, the target turns Active when it
   * is done.
   */
  async updateCollectionCluster(name: string, operation: ClusterOperation, options: RequestOptions): Promise<void> {
    if (operation.kind === 'create_sharding_key') return this.createShardKey(name, operation.request, options);
    if (operation.kind === 'drop_sharding_key') return this.deleteShardKey(name, operation.key, options);
    const cluster = this.cluster;
    if (cluster === null) throw badRequest('Bad request: Distributed mode disabled');
    const collection = await this.resolve(name, options);
    const at = { collection: collection.name, incarnation: collection.meta.createdIndex };
    const shard = collection.meta.shards.get(operation.shardId);
    if (shard === undefined) throw notFound(`Shard ${operation.shardId} of collection \`${collection.name}\` does not exist`);
    const members = new Set(cluster.members());
    const peers = operation.kind === 'drop_replica' ? [operation.peer] : [operation.from, operation.to];
    for (const peer of peers) if (!members.has(peer)) throw badRequest(`Bad request: peer ${peer} is not a member of the cluster`);
    switch (operation.kind) {
      case 'move_shard':
      case 'replicate_shard': {
        const method = deltaOrCopy(checkTransferMethod(operation.method ?? 'stream_records'), shard, operation.to);
        const sync = operation.kind === 'replicate_shard';
        return this.propose({ kind: 'start_transfer', ...at, shard: operation.shardId, from: operation.from, to: operation.to, sync, method });
      }
      case 'abort_transfer':
        return this.propose({ kind: 'abort_transfer', ...at, shard: operation.shardId, from: operation.from, to: operation.to });
      case 'restart_transfer': {
        const method = deltaOrCopy(checkTransferMethod(operation.method), shard, operation.to);
        return this.propose({ kind: 'restart_transfer', ...at, shard: operation.shardId, from: operation.from, to: operation.to, method });
      }
      case 'drop_replica':
        return this.propose({ kind: 'remove_replica', ...at, shard: operation.shardId, peer: operation.peer });
    }
  }

  /**
   * DELETE /cluster/peer/{id}: refused while the peer holds any replica (Dead ones too) unless
   * `force`, which removes its replicas and aborts its transfers in one metadata entry; then the
   * peer leaves the Raft membership.
   */
  async removePeer(peer: number, force: boolean, options: RequestOptions): Promise<void> {
    const cluster = this.cluster;
    if (cluster === null) throw badRequest('Bad request: Distributed mode disabled');
    await cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
    if (!cluster.members().includes(peer)) throw notFound(`Not found: peer ${peer} is not a member of the cluster`);
    await this.propose({ kind: 'remove_peer', peer, force });
    await cluster.removeMember(peer);
  }

  /**
   * POST /cluster/recover: this node catches up with the leader's commit (ReadIndex, acting on
   * everything committed) and starts recovering its Dead replicas now instead of after their
   * back-off. It does not rebuild its Raft log from other peers.
   */
  async recoverPeer(options: RequestOptions): Promise<void> {
    const cluster = this.cluster;
    if (cluster === null) throw badRequest('Bad request: Distributed mode disabled');
    await cluster.catchUp(this.deadline(options, this.timing.catchUpTimeoutMs));
    this.transfers?.recoverNow();
  }

  /**
   * Readiness of this node's replicas: how many are still Initializing, and how many are Dead or
   * Partial while another peer holds an Active copy to recover them from.
   */
  replicaReadiness(): { readonly initializing: number; readonly recovering: number } {
    const state = this.metaState;
    let initializing = 0;
    for (const meta of state.collections.values()) {
      for (const shard of meta.shards.values()) {
        if (shard.replicas.some((r) => this.isLocal(r.peer) && r.state === 'Initializing')) initializing += 1;
      }
    }
    return { initializing, recovering: this.transfers?.pendingRecoveries(state) ?? 0 };
  }
}

/** Where a placed replica should be but is not open: every call fails as that replica's failure. */
class MissingReplica implements ShardReplica {
  readonly local = true;

  constructor(
    readonly peer: number,
    private readonly reason: string,
  ) {}

  private fail(): Promise<never> {
    return Promise.reject(new ShoalError('unavailable', this.reason));
  }

  update(): Promise<never> { return this.fail(); }
  retrieve(): Promise<never> { return this.fail(); }
  search(): Promise<never> { return this.fail(); }
  scroll(): Promise<never> { return this.fail(); }
  scrollOrdered(): Promise<never> { return this.fail(); }
  count(): Promise<never> { return this.fail(); }
  facet(): Promise<never> { return this.fail(); }
  info(): Promise<never> { return this.fail(); }
}

/** The transfer methods this node runs (resharding is not supported). */
function checkTransferMethod(method: TransferMethod): TransferMethod {
  if (method === 'stream_records' || method === 'snapshot' || method === 'wal_delta') return method;
  throw new ShoalError('unsupported', `the ${method} shard transfer method is not supported by this node; use stream_records, snapshot or wal_delta`);
}

/**
 * `wal_delta` sends only the writes a replica missed; to a peer without a replica of the shard,
 * or with one an unfinished copy left half-filled, the shard is copied (`stream_records`), as
 * Qdrant falls back. The transfer shows the method it runs with.
 */
function deltaOrCopy(method: TransferMethod, shard: ShardMeta, to: number): TransferMethod {
  if (method !== 'wal_delta') return method;
  const target = shard.replicas.find((r) => r.peer === to);
  return target === undefined || target.unfilled === true ? 'stream_records' : method;
}

/** The shards of `groups` in the order readShards asks them. */
function shardIdsOf(groups: readonly RouteGroup[]): number[] {
  return groups.flatMap((g) => g.shardIds);
}

function formatId(id: PointId): string {
  return typeof id === 'string' ? id : id.toString();
}

const NAME_FORBIDDEN = /[/\\\0]/;

/** Collection and alias names become directory names and URL segments. */
function checkName(name: string, limits: Limits): void {
  if (name.length === 0 || name.length > limits.nameLengthMax) {
    throw new ShoalError('validation', `Validation error in path parameters: [name: length must be between 1 and ${limits.nameLengthMax}]`);
  }
  if (NAME_FORBIDDEN.test(name) || name === '.' || name === '..') {
    throw new ShoalError('validation', `Validation error in path parameters: [name: collection name cannot contain "/", "\\" or NUL and cannot be "." or ".."]`);
  }
}

function refusalError(refusal: MetaRefusal): ShoalError {
  switch (refusal.code) {
    case 'collection_exists':
      return conflict(`Wrong input: Collection \`${refusal.name}\` already exists!`);
    case 'collection_not_found':
      return notFound(`Collection \`${refusal.name}\` doesn't exist!`);
    case 'alias_exists':
      return conflict(`Wrong input: Alias \`${refusal.name}\` already exists!`);
    case 'alias_not_found':
      return notFound(`Alias \`${refusal.name}\` doesn't exist!`);
    case 'name_is_collection':
      return conflict(`Wrong input: Collection \`${refusal.name}\` already exists!`);
    case 'bad_placement':
      return badRequest(`Wrong input: ${refusal.reason}`);
    case 'not_custom_sharding':
      return badRequest(`Wrong input: Collection \`${refusal.name}\` does not use custom sharding`);
    case 'shard_key_exists':
      return badRequest(`Wrong input: Shard key ${formatShardKey(refusal.key)} already exists`);
    case 'shard_key_not_found':
      return notFound(`Shard key ${formatShardKey(refusal.key)} not found`);
    case 'transfer_exists':
      return badRequest(`Wrong input: a transfer of shard ${refusal.shard} to peer ${refusal.to} already exists`);
    case 'transfer_not_found':
      return notFound(`Shard transfer of shard ${refusal.shard} to peer ${refusal.to} not found`);
    case 'replica_not_found':
      return notFound(`Shard ${refusal.shard} has no replica on peer ${refusal.peer}`);
    case 'bad_transfer':
    case 'bad_replica_change':
      return badRequest(`Bad request: ${refusal.reason}`);
    case 'peer_has_replicas':
      return badRequest(`Bad request: peer ${refusal.peer} still holds ${refusal.replicas} shard replica(s); move them away first, or remove it with force=true`);
    default:
      return unreachable(refusal);
  }
}

export { comparePointIds };

/**
 * Reads the boot counter at `path`, adds one and makes that durable (temp file, fsync, rename,
 * fsync of the directory) before it returns: no two starts of a node share an epoch.
 */
export async function bumpEpoch(fs: FileSystem, path: string): Promise<number> {
  const stored = await fs.readFile(path);
  let previous = 0;
  if (stored !== null) {
    const text = new TextDecoder().decode(stored).trim();
    previous = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(previous + 1)) throw new ShoalError('storage', `corrupt epoch in ${path}`);
  }
  const epoch = previous + 1;
  await writeFileAtomic(fs, path, [new TextEncoder().encode(`${epoch}\n`)]);
  return epoch;
}
