// The data model shared by every layer: what a point, a payload, a filter and an update are once
// a request has been parsed and validated. The REST layer (@shoal/api) builds these; the storage
// layers (@shoal/segment, @shoal/shard) consume them and never see raw JSON.

/**
 * A point id as Qdrant defines it: an unsigned 64-bit integer or a UUID.
 * - `number`: an unsigned integer <= Number.MAX_SAFE_INTEGER.
 * - `bigint`: an unsigned integer in (MAX_SAFE_INTEGER, 2^64 - 1]. Never used for safe values, so
 *   one id has exactly one representation.
 * - `string`: a UUID in canonical form (lowercase, hyphenated, 36 characters).
 * Qdrant orders all integer ids before all UUIDs; integers ascending, UUIDs by their 128-bit value
 * (which is the order of their canonical strings).
 */
export type PointId = number | bigint | string;

/** JSON as stored in payloads. Integers outside the safe range are `bigint`, so nothing is rounded. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
export type Payload = JsonObject;

export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';
export type VectorDatatype = 'float32' | 'float16' | 'uint8';

/**
 * One vector space of a collection. The unnamed vector of a collection created with
 * `vectors: {size, distance}` has the name `""` (DEFAULT_VECTOR_NAME).
 */
export interface VectorParams {
  readonly size: number;
  readonly distance: Distance;
  readonly onDisk: boolean | null;
  readonly datatype: VectorDatatype | null;
}
export const DEFAULT_VECTOR_NAME = '';

/** Vectors of one point by vector name. Cosine vectors are NOT yet normalised here. */
export type NamedVectors = Map<string, Float32Array>;

export interface PointStruct {
  readonly id: PointId;
  readonly vectors: NamedVectors;
  readonly payload: Payload | null;
}

export interface PointVectors {
  readonly id: PointId;
  readonly vectors: NamedVectors;
}

// ---------------------------------------------------------------------------------------------
// Filters. The shape follows Qdrant's JSON, normalised: every condition has a `kind`, ids are
// canonical PointIds, datetimes are epoch microseconds.

export interface GeoPoint {
  readonly lon: number;
  readonly lat: number;
}

/** Bounds of a numeric range; an absent bound is `null`. */
export interface RangeBounds {
  readonly gt: number | null;
  readonly gte: number | null;
  readonly lt: number | null;
  readonly lte: number | null;
}

/** A match value: keyword, integer (number or bigint) or bool. */
export type MatchValue = string | number | bigint | boolean;
/** Values of `any` / `except`: all keywords or all integers. */
export type MatchValues = readonly string[] | readonly (number | bigint)[];

export type Condition =
  | { readonly kind: 'match'; readonly key: string; readonly value: MatchValue }
  | { readonly kind: 'match_any'; readonly key: string; readonly values: MatchValues }
  | { readonly kind: 'match_except'; readonly key: string; readonly values: MatchValues }
  | { readonly kind: 'match_text'; readonly key: string; readonly text: string }
  | { readonly kind: 'match_text_any'; readonly key: string; readonly text: string }
  | { readonly kind: 'match_phrase'; readonly key: string; readonly text: string }
  | { readonly kind: 'range'; readonly key: string; readonly range: RangeBounds }
  /** Bounds in epoch microseconds (UTC). */
  | { readonly kind: 'datetime_range'; readonly key: string; readonly range: RangeBounds }
  /** radius in meters */
  | { readonly kind: 'geo_radius'; readonly key: string; readonly center: GeoPoint; readonly radius: number }
  | {
      readonly kind: 'geo_bounding_box';
      readonly key: string;
      readonly topLeft: GeoPoint;
      readonly bottomRight: GeoPoint;
    }
  | {
      readonly kind: 'geo_polygon';
      readonly key: string;
      readonly exterior: readonly GeoPoint[];
      readonly interiors: readonly (readonly GeoPoint[])[];
    }
  | { readonly kind: 'values_count'; readonly key: string; readonly range: RangeBounds }
  | { readonly kind: 'is_empty'; readonly key: string }
  | { readonly kind: 'is_null'; readonly key: string }
  | { readonly kind: 'has_id'; readonly ids: readonly PointId[] }
  | { readonly kind: 'has_vector'; readonly vector: string }
  /** `key` names an array of objects; `filter` must hold for one element. */
  | { readonly kind: 'nested'; readonly key: string; readonly filter: Filter }
  | { readonly kind: 'filter'; readonly filter: Filter };

export interface Filter {
  readonly must: readonly Condition[];
  /** At least one must hold; an empty list holds. */
  readonly should: readonly Condition[];
  readonly mustNot: readonly Condition[];
  readonly minShould: { readonly conditions: readonly Condition[]; readonly minCount: number } | null;
}

// ---------------------------------------------------------------------------------------------
// Selectors for what a read returns.

export type WithPayload =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'include'; readonly keys: readonly string[] }
  | { readonly kind: 'exclude'; readonly keys: readonly string[] };

/** `true`: all vectors; `false`: none; a list: those names. */
export type WithVector = boolean | readonly string[];

// ---------------------------------------------------------------------------------------------
// Payload indexes (the basic types; text, geo and uuid come later).

export type PayloadSchemaType = 'keyword' | 'integer' | 'float' | 'bool' | 'datetime';

export interface PayloadIndexParams {
  readonly type: PayloadSchemaType;
  /** integer indexes: serve `match` conditions (default true) */
  readonly lookup: boolean | null;
  /** integer indexes: serve `range` conditions (default true) */
  readonly range: boolean | null;
  readonly isPrincipal: boolean | null;
  readonly isTenant: boolean | null;
  readonly onDisk: boolean | null;
}

// ---------------------------------------------------------------------------------------------
// Updates of points. These are what the write-ahead log records, so they are complete and
// deterministic: applying the same sequence to the same state gives the same state.

export type PointsSelector =
  | { readonly kind: 'ids'; readonly ids: readonly PointId[] }
  | { readonly kind: 'filter'; readonly filter: Filter };

export type PointOperation =
  | { readonly kind: 'upsert'; readonly points: readonly PointStruct[] }
  | { readonly kind: 'delete_points'; readonly selector: PointsSelector }
  /** `key`: a path (`a.b`, `a[0].b`) under which `payload` is merged; null merges at the top. */
  | {
      readonly kind: 'set_payload';
      readonly selector: PointsSelector;
      readonly payload: Payload;
      readonly key: string | null;
    }
  | { readonly kind: 'overwrite_payload'; readonly selector: PointsSelector; readonly payload: Payload }
  | { readonly kind: 'delete_payload'; readonly selector: PointsSelector; readonly keys: readonly string[] }
  | { readonly kind: 'clear_payload'; readonly selector: PointsSelector }
  | { readonly kind: 'update_vectors'; readonly points: readonly PointVectors[] }
  | {
      readonly kind: 'delete_vectors';
      readonly selector: PointsSelector;
      readonly vectorNames: readonly string[];
    }
  | { readonly kind: 'create_field_index'; readonly field: string; readonly params: PayloadIndexParams }
  | { readonly kind: 'delete_field_index'; readonly field: string };

// ---------------------------------------------------------------------------------------------
// Reads.

export interface Record_ {
  readonly id: PointId;
  /** null when not requested */
  readonly payload: Payload | null;
  /** null when not requested; otherwise only the requested names that the point has */
  readonly vectors: NamedVectors | null;
  /** The value of the order_by key this record was ordered by, when the read was ordered. */
  readonly orderValue?: number;
}

export interface ScoredPoint extends Record_ {
  readonly score: number;
}

export type OrderDirection = 'asc' | 'desc';
export interface OrderBy {
  readonly key: string;
  readonly direction: OrderDirection;
  /** start from this value of the key (inclusive), in the direction */
  readonly startFrom: number | null;
}

export interface FacetHit {
  readonly value: string | number | bigint | boolean;
  readonly count: number;
}
