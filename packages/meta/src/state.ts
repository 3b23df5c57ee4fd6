// The metadata state machine. `apply` is pure: it never mutates its input and depends on nothing
// but (state, operation), so every node that applies the same log holds the same state. A
// standalone node feeds it from a local durable log; a cluster will feed it from Raft.
import { assert, type PayloadIndexParams } from '@shoal/common';
import type { AliasAction, CollectionConfig, CollectionPatch, MetaOperation } from './types.js';

export interface CollectionMeta {
  readonly name: string;
  readonly config: CollectionConfig;
  /** Payload index definitions by field path. */
  readonly payloadIndexes: ReadonlyMap<string, PayloadIndexParams>;
  /** Increases by one at every change of this collection's metadata. */
  readonly version: number;
  /**
   * Log index of the entry that created this incarnation of the collection. Storage is keyed by
   * it, so a collection deleted and created again under the same name never sees old data.
   */
  readonly createdIndex: number;
}

export interface MetaState {
  readonly collections: ReadonlyMap<string, CollectionMeta>;
  /** alias -> collection name */
  readonly aliases: ReadonlyMap<string, string>;
  /** Index of the last applied log entry. */
  readonly appliedIndex: number;
}

export const EMPTY_META_STATE: MetaState = { collections: new Map(), aliases: new Map(), appliedIndex: 0 };

/**
 * Why an operation was refused. Refusals are deterministic outcomes, not errors: the entry stays
 * in the log and every replica refuses it the same way.
 */
export type MetaRefusal =
  | { readonly code: 'collection_exists'; readonly name: string }
  | { readonly code: 'collection_not_found'; readonly name: string }
  | { readonly code: 'alias_exists'; readonly name: string }
  | { readonly code: 'alias_not_found'; readonly name: string }
  | { readonly code: 'name_is_collection'; readonly name: string };

export type ApplyOutcome = { readonly ok: true } | { readonly ok: false; readonly refusal: MetaRefusal };

export interface Applied {
  readonly state: MetaState;
  readonly outcome: ApplyOutcome;
}

const OK: ApplyOutcome = { ok: true };
const refuse = (state: MetaState, refusal: MetaRefusal): Applied => ({ state, outcome: { ok: false, refusal } });

/** Apply the log entry at `index`. Entries must be applied in order, each exactly once. */
export function apply(state: MetaState, index: number, op: MetaOperation): Applied {
  assert(index === state.appliedIndex + 1, `meta: entry ${index} applied after ${state.appliedIndex}`);
  const next = applyOperation(state, index, op);
  return { state: { ...next.state, appliedIndex: index }, outcome: next.outcome };
}

function applyOperation(state: MetaState, index: number, op: MetaOperation): Applied {
  switch (op.kind) {
    case 'create_collection':
      return createCollection(state, index, op.name, op.config);
    case 'update_collection':
      return updateCollection(state, op.name, op.patch);
    case 'delete_collection':
      return deleteCollection(state, op.name);
    case 'change_aliases':
      return changeAliases(state, op.actions);
    case 'create_field_index':
      return changeIndexes(state, op.collection, (indexes) => {
        indexes.set(op.field, op.params);
        return null;
      });
    case 'delete_field_index':
      return changeIndexes(state, op.collection, (indexes) => {
        // Idempotent, as in Qdrant: deleting an index that is not there succeeds.
        indexes.delete(op.field);
        return null;
      });
  }
}

function createCollection(state: MetaState, index: number, name: string, config: CollectionConfig): Applied {
  if (state.collections.has(name)) return refuse(state, { code: 'collection_exists', name });
  if (state.aliases.has(name)) return refuse(state, { code: 'alias_exists', name });
  const collections = new Map(state.collections);
  collections.set(name, { name, config, payloadIndexes: new Map(), version: 1, createdIndex: index });
  return { state: { ...state, collections }, outcome: OK };
}

function deleteCollection(state: MetaState, name: string): Applied {
  if (!state.collections.has(name)) return refuse(state, { code: 'collection_not_found', name });
  const collections = new Map(state.collections);
  collections.delete(name);
  // Qdrant drops the aliases of a deleted collection with it.
  const aliases = new Map([...state.aliases].filter(([, target]) => target !== name));
  return { state: { ...state, collections, aliases }, outcome: OK };
}

function updateCollection(state: MetaState, name: string, patch: CollectionPatch): Applied {
  const current = state.collections.get(name);
  if (current === undefined) return refuse(state, { code: 'collection_not_found', name });
  const config = patchConfig(current.config, patch);
  const collections = new Map(state.collections);
  collections.set(name, { ...current, config, version: current.version + 1 });
  return { state: { ...state, collections }, outcome: OK };
}

function patchConfig(config: CollectionConfig, patch: CollectionPatch): CollectionConfig {
  let vectors = config.vectors;
  let vectorOverrides = config.vectorOverrides;
  if (patch.vectors !== null) {
    const nextVectors = new Map(vectors);
    const nextOverrides = new Map(vectorOverrides);
    for (const [name, change] of patch.vectors) {
      const params = nextVectors.get(name);
      if (params === undefined) continue; // validated by the proposer; a stale patch changes nothing
      if (change.onDisk !== null) nextVectors.set(name, { ...params, onDisk: change.onDisk });
      const old = nextOverrides.get(name) ?? { hnsw_config: null, quantization_config: null, multivector_config: null };
      nextOverrides.set(name, {
        hnsw_config: change.hnsw_config === null ? old.hnsw_config : { ...old.hnsw_config, ...change.hnsw_config },
        quantization_config: change.quantization_config ?? old.quantization_config,
        multivector_config: old.multivector_config,
      });
    }
    vectors = nextVectors;
    vectorOverrides = nextOverrides;
  }
  const params = patch.params;
  return {
    ...config,
    vectors,
    vectorOverrides,
    replicationFactor: params?.replicationFactor ?? config.replicationFactor,
    writeConsistencyFactor: params?.writeConsistencyFactor ?? config.writeConsistencyFactor,
    onDiskPayload: params?.onDiskPayload ?? config.onDiskPayload,
    hnsw: patch.hnsw === null ? config.hnsw : { ...config.hnsw, ...patch.hnsw },
    optimizers: patch.optimizers === null ? config.optimizers : { ...config.optimizers, ...patch.optimizers },
    quantization:
      patch.quantization === 'disabled' ? null : patch.quantization === null ? config.quantization : patch.quantization,
    strictMode: patch.strictMode === null ? config.strictMode : { ...config.strictMode, ...patch.strictMode },
    metadata: patch.metadata === null ? config.metadata : { ...config.metadata, ...patch.metadata },
  };
}

/** All actions apply, in order, or none does (Qdrant's atomic alias switch). */
function changeAliases(state: MetaState, actions: readonly AliasAction[]): Applied {
  const aliases = new Map(state.aliases);
  for (const action of actions) {
    const refusal = applyAliasAction(state, aliases, action);
    if (refusal !== null) return refuse(state, refusal);
  }
  return { state: { ...state, aliases }, outcome: OK };
}

function applyAliasAction(state: MetaState, aliases: Map<string, string>, action: AliasAction): MetaRefusal | null {
  switch (action.kind) {
    case 'create':
      if (!state.collections.has(action.collection)) return { code: 'collection_not_found', name: action.collection };
      if (state.collections.has(action.alias)) return { code: 'name_is_collection', name: action.alias };
      // Qdrant re-points an existing alias on create.
      aliases.set(action.alias, action.collection);
      return null;
    case 'delete':
      if (!aliases.delete(action.alias)) return { code: 'alias_not_found', name: action.alias };
      return null;
    case 'rename': {
      const target = aliases.get(action.oldAlias);
      if (target === undefined) return { code: 'alias_not_found', name: action.oldAlias };
      if (state.collections.has(action.newAlias)) return { code: 'name_is_collection', name: action.newAlias };
      aliases.delete(action.oldAlias);
      aliases.set(action.newAlias, target);
      return null;
    }
  }
}

function changeIndexes(
  state: MetaState,
  collection: string,
  change: (indexes: Map<string, PayloadIndexParams>) => MetaRefusal | null,
): Applied {
  const current = state.collections.get(collection);
  if (current === undefined) return refuse(state, { code: 'collection_not_found', name: collection });
  const payloadIndexes = new Map(current.payloadIndexes);
  const refusal = change(payloadIndexes);
  if (refusal !== null) return refuse(state, refusal);
  const collections = new Map(state.collections);
  collections.set(collection, { ...current, payloadIndexes, version: current.version + 1 });
  return { state: { ...state, collections }, outcome: OK };
}

/** The collection an alias or a collection name refers to. */
export function resolveCollection(state: MetaState, nameOrAlias: string): CollectionMeta | undefined {
  return state.collections.get(nameOrAlias) ?? state.collections.get(state.aliases.get(nameOrAlias) ?? '');
}
