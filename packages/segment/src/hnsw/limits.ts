// Bounds of the graph, in one place. Qdrant validates `m`, `ef_construct` and `hnsw_ef` at the
// API; these are the graph's own invariants, checked by assertions.

/** Largest `m` (links per node on upper levels; level 0 holds 2m). A level-0 row is 1 + 2m u32. */
export const HNSW_M_MAX = 256;

/** Smallest useful `m`: with one link per node the heuristic cannot keep the graph navigable. */
export const HNSW_M_MIN = 2;

/** Largest `ef` or `ef_construct`. The heaps hold ef entries; 2^16 * 12 bytes stays small. */
export const HNSW_EF_MAX = 65_536;

/**
 * Highest level a node may get. Levels are stored in a Uint8Array; with mult = 1/ln(m) the chance
 * of exceeding level 30 is m^-30, so the cap never changes a real graph, it only bounds memory.
 */
export const HNSW_LEVEL_MAX = 30;

/** Marks a slot that holds no node yet in the levels array. */
export const LEVEL_ABSENT = 0xff;

/** Marks "no entry point": the graph is empty. */
export const NO_NODE = 0xffffffff;
