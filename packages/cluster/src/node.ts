// The node's collections, as the REST layer sees them (CollectionsService). Metadata changes go
// through the MetadataStore (a local log now, Raft later); point traffic goes through each
// collection's replica sets.
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
import { formatShardKey, resolveCollection, type AliasAction, type ApplyOutcome, type CollectionConfig, type CollectionMeta, type CollectionPatch, type MetaOperation, type MetaRefusal, type MetaState } from '@shoal/meta';
import { Collection, mergeTopK, orderRecords } from './collection.js';
import type {
  CollectionClusterInfo,
  CollectionInfo,
  CollectionsService,
  PayloadFieldInfo,
  RequestOptions,
  ScrollRequest,
  ScrollResult,
  SearchRequest,
  UpdateResult,
  WriteOptions,
} from './contract.js';
import type { MetaSource, MetaSourceOpener } from './metadata-store.js';
import { ReplicaSet, type Replica } from './replica-set.js';
import { mergeFacets, mergeOrdered, mergeScroll } from './merge.js';

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
}

/**
 * A collection incarnation's directory name: readable, safe as a path segment, and unique per
 * incarnation (the index of the entry that created it).
 */
function collectionDirName(meta: CollectionMeta): string {
  return `${encodeURIComponent(meta.name).replace(/^\./, '%2E')}@${meta.createdIndex}`;
}

export class LocalNode implements CollectionsService {
  private readonly collections = new Map<string, Collection>();
  private metadata: MetaSource | null = null;
  private peerIdValue: number | null = null;
  private operationCounter = 0;
  readonly limits: Limits;

  constructor(private readonly options: LocalNodeOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
  }

  private get collectionsDir(): string {
    return `${this.options.storagePath}/collections`;
  }

  /** Replay the metadata, open every collection's shards, remove directories nothing owns. */
  async open(): Promise<void> {
    const { fs } = this.options;
    await fs.mkdirp(this.collectionsDir);
    this.peerIdValue = await this.loadPeerId();
    this.metadata = await this.options.openMetaSource((state, op, _index, outcome) => this.onApplied(state, op, outcome));
    const state = this.metadata.state;
    for (const meta of state.collections.values()) await this.openCollection(meta);
    const owned = new Set([...state.collections.values()].map(collectionDirName));
    for (const entry of await fs.list(this.collectionsDir)) {
      if (!owned.has(entry)) await fs.removeDir(`${this.collectionsDir}/${entry}`);
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

  async close(): Promise<void> {
    await this.metadata?.close();
    for (const collection of this.collections.values()) {
      for (const shard of collection.shards) await shard.close();
    }
    this.collections.clear();
  }

  get metaState(): MetaState {
    if (this.metadata === null) throw new ShoalError('unavailable', 'Service is starting');
    return this.metadata.state;
  }

  private async openCollection(meta: CollectionMeta): Promise<void> {
    const dir = `${this.collectionsDir}/${collectionDirName(meta)}`;
    const shards: ReplicaSet[] = [];
    for (let shardId = 0; shardId < meta.config.shardNumber; shardId++) {
      const replica = await this.options.openShard(`${dir}/${shardId}`, meta, shardId);
      shards.push(new ReplicaSet(shardId, replica));
    }
    const collection = new Collection(meta, shards, dir);
    this.collections.set(meta.name, collection);
    await this.reconcileIndexes(collection);
  }

  /**
   * A crash can fall between a committed index definition and its application to the shards;
   * bring the shards in line with the metadata.
   */
  private async reconcileIndexes(collection: Collection): Promise<void> {
    const wanted = collection.meta.payloadIndexes;
    for (const shard of collection.shards) {
      const present = shard.reader().payloadIndexes();
      for (const [field, params] of wanted) {
        const have = present.get(field);
        if (have === undefined || have.params.type !== params.type) await shard.update({ kind: 'create_field_index', field, params });
      }
      for (const field of present.keys()) {
        if (!wanted.has(field)) await shard.update({ kind: 'delete_field_index', field });
      }
    }
  }

  private async onApplied(state: MetaState, op: MetaOperation, outcome: ApplyOutcome): Promise<void> {
    if (!outcome.ok) return;
    switch (op.kind) {
      case 'create_collection':
        return this.openCollection(state.collections.get(op.name)!);
      case 'delete_collection':
        return this.dropCollection(op.name);
      case 'update_collection':
      case 'create_field_index':
      case 'delete_field_index': {
        const name = op.kind === 'update_collection' ? op.name : op.collection;
        const collection = this.collections.get(name);
        if (collection === undefined) return;
        collection.meta = state.collections.get(name)!;
        if (op.kind !== 'update_collection') await this.reconcileIndexes(collection);
        return;
      }
      case 'change_aliases':
        return;
      case 'set_replica_states':
      case 'create_shard_key':
      case 'delete_shard_key':
      case 'start_transfer':
      case 'finish_transfer':
      case 'abort_transfer': {
        const collection = this.collections.get(op.collection);
        if (collection !== undefined) collection.meta = state.collections.get(op.collection)!;
        return;
      }
      default:
        unreachable(op);
    }
  }

  /**
   * The directory belongs to this incarnation only; if removal is cut short by a crash, start-up
   * removes what is left because no collection owns it.
   */
  private async dropCollection(name: string): Promise<void> {
    const collection = this.collections.get(name);
    if (collection === undefined) return;
    this.collections.delete(name);
    for (const shard of collection.shards) await shard.close();
    await this.options.fs.removeDir(collection.dir);
  }

  private async propose(op: MetaOperation): Promise<void> {
    if (this.metadata === null) throw new ShoalError('unavailable', 'Service is starting');
    const outcome = await this.metadata.propose(op);
    if (!outcome.ok) throw refusalError(outcome.refusal);
  }

  private resolve(nameOrAlias: string): Collection {
    const meta = resolveCollection(this.metaState, nameOrAlias);
    const collection = meta === undefined ? undefined : this.collections.get(meta.name);
    if (collection === undefined) throw notFound(`Collection \`${nameOrAlias}\` doesn't exist!`);
    return collection;
  }

  // ----- collections ----------------------------------------------------------------------

  listCollections(): string[] {
    return [...this.metaState.collections.keys()];
  }

  collectionExists(name: string): boolean {
    return resolveCollection(this.metaState, name) !== undefined;
  }

  async createCollection(name: string, config: CollectionConfig, _options: RequestOptions): Promise<void> {
    checkName(name, this.limits);
    if (this.metaState.collections.size >= this.limits.collectionsMax) {
      throw badRequest(`Wrong input: too many collections (at most ${this.limits.collectionsMax})`);
    }
    await this.propose({ kind: 'create_collection', name, config });
  }

  async updateCollection(name: string, patch: CollectionPatch, _options: RequestOptions): Promise<void> {
    const collection = this.resolve(name);
    if (patch.vectors !== null) {
      for (const vectorName of patch.vectors.keys()) collection.distanceOf(vectorName);
    }
    await this.propose({ kind: 'update_collection', name: collection.name, patch });
  }

  async deleteCollection(name: string, _options: RequestOptions): Promise<boolean> {
    if (!this.metaState.collections.has(name)) return false;
    await this.propose({ kind: 'delete_collection', name });
    return true;
  }

  collectionClusterInfo(name: string): CollectionClusterInfo {
    const collection = this.resolve(name);
    return {
      peerId: this.peerId,
      shardCount: collection.shards.length,
      localShards: collection.shards.map((shard) => ({
        shardId: shard.shardId,
        pointsCount: shard.reader().stats().points,
        state: shard.localState,
      })),
    };
  }

  collectionConfig(name: string): CollectionConfig {
    return this.resolve(name).meta.config;
  }

  collectionInfo(name: string): CollectionInfo {
    const collection = this.resolve(name);
    let points = 0;
    const fieldPoints = new Map<string, number>();
    for (const shard of collection.shards) {
      const replica = shard.reader();
      points += replica.stats().points;
      for (const [field, info] of replica.payloadIndexes()) fieldPoints.set(field, (fieldPoints.get(field) ?? 0) + info.points);
    }
    const payloadSchema = new Map<string, PayloadFieldInfo>();
    for (const [field, params] of collection.meta.payloadIndexes) {
      payloadSchema.set(field, { dataType: params.type, params, points: fieldPoints.get(field) ?? 0 });
    }
    return {
      status: 'green',
      optimizerStatus: { ok: true },
      pointsCount: points,
      // No vector index exists yet: every search is an exact scan, so nothing is indexed.
      indexedVectorsCount: 0,
      segmentsCount: collection.shards.length,
      config: collection.meta.config,
      payloadSchema,
    };
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

  async createFieldIndex(collection: string, field: string, params: PayloadIndexParams, _options: WriteOptions): Promise<UpdateResult> {
    const target = this.resolve(collection);
    target.checkOperation({ kind: 'create_field_index', field, params });
    await this.propose({ kind: 'create_field_index', collection: target.name, field, params });
    return { operationId: this.nextOperationId(), status: 'completed' };
  }

  async deleteFieldIndex(collection: string, field: string, _options: WriteOptions): Promise<UpdateResult> {
    const target = this.resolve(collection);
    await this.propose({ kind: 'delete_field_index', collection: target.name, field });
    return { operationId: this.nextOperationId(), status: 'completed' };
  }

  private nextOperationId(): number {
    this.operationCounter += 1;
    return this.operationCounter;
  }

  // ----- points --------------------------------------------------------------------------------

  async updatePoints(collection: string, ops: readonly PointOperation[], options: WriteOptions): Promise<UpdateResult> {
    const target = this.resolve(collection);
    for (const op of ops) target.checkOperation(op);
    for (const op of ops) {
      const result = await target.update(op);
      if (!result.ok) throw notFound(`No point with id ${formatId(result.missing[0]!)} found`);
    }
    return { operationId: this.nextOperationId(), status: options.wait ? 'completed' : 'acknowledged' };
  }

  async retrieve(collection: string, ids: readonly PointId[], withPayload: WithPayload, withVector: WithVector, _options: RequestOptions): Promise<Record_[]> {
    const target = this.resolve(collection);
    if (Array.isArray(withVector)) for (const name of withVector) target.distanceOf(name);
    const records = target.shards.flatMap((shard) => shard.reader().retrieve(ids, withPayload, withVector));
    return orderRecords(ids, records);
  }

  async search(collection: string, request: SearchRequest, _options: RequestOptions): Promise<ScoredPoint[]> {
    const target = this.resolve(collection);
    const distance = target.distanceOf(request.vectorName);
    let vector: Float32Array;
    let excludeIds: PointId[] = [];
    if (request.query.kind === 'vector') {
      target.checkVectors(new Map([[request.vectorName, request.query.vector]]));
      vector = request.query.vector;
    } else {
      vector = this.storedVector(target, request.query.id, request.vectorName);
      excludeIds = [request.query.id];
    }
    const depth = request.offset + request.limit;
    const lists = target.shards.map((shard) =>
      shard.reader().search({
        vectorName: request.vectorName,
        vector,
        filter: request.filter,
        limit: depth,
        offset: 0,
        scoreThreshold: request.scoreThreshold,
        withPayload: request.withPayload,
        withVector: request.withVector,
        excludeIds,
      }),
    );
    return mergeTopK(lists, distance, request.offset, request.limit);
  }

  /** The vector of a stored point, for a query by id. */
  private storedVector(target: Collection, id: PointId, vectorName: string): Float32Array {
    const records = target.shards.flatMap((shard) => shard.reader().retrieve([id], { kind: 'none' }, [vectorName]));
    const record = records[0];
    if (record === undefined) throw notFound(`No point with id ${formatId(id)} found`);
    const vector = record.vectors?.get(vectorName);
    if (vector === undefined) throw badRequest(`Wrong input: Point ${formatId(id)} has no vector \`${vectorName}\``);
    return vector;
  }

  async scroll(collection: string, request: ScrollRequest, _options: RequestOptions): Promise<ScrollResult> {
    const target = this.resolve(collection);
    const { filter, limit, withPayload, withVector } = request;
    if (request.orderBy !== null) {
      const orderBy = request.orderBy;
      const lists = target.shards.map((shard) => shard.reader().scrollOrdered({ filter, orderBy, limit, withPayload, withVector }));
      return { points: mergeOrdered(lists, orderBy.direction, limit), nextPageOffset: null };
    }
    const pages = target.shards.map((shard) =>
      shard.reader().scroll({ filter, offset: request.offset, limit, withPayload, withVector }),
    );
    return mergeScroll(pages, limit);
  }

  async count(collection: string, filter: Filter | null, _exact: boolean, _options: RequestOptions): Promise<number> {
    const target = this.resolve(collection);
    let total = 0;
    for (const shard of target.shards) total += shard.reader().count(filter);
    return total;
  }

  async facet(collection: string, key: string, filter: Filter | null, limit: number, _exact: boolean, _options: RequestOptions): Promise<FacetHit[]> {
    const target = this.resolve(collection);
    const lists = target.shards.map((shard) => shard.reader().facet({ key, filter, limit: target.shards.length === 1 ? limit : Number.MAX_SAFE_INTEGER }));
    return mergeFacets(lists, limit);
  }
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
    default:
      return unreachable(refusal);
  }
}

export { comparePointIds };
