// Bounds of one segment's search planning, each with its unit and what it trades. (The dense
// index's own bounds are in dense/limits.ts, the graph's in hnsw/limits.ts.)

/**
 * Smallest payload block that gets a subset graph (payload_m), points, whatever the full-scan
 * threshold says. Below it a block is searched by an exact scan in well under a millisecond, and
 * a high-cardinality field (one value per few points) would otherwise get one tiny graph per value.
 */
export const PAYLOAD_SUBSET_POINTS_MIN = 100;

/**
 * Subset graphs per named vector of a segment (subsets). Their keys are stored in the index; the
 * largest blocks are kept. Each point belongs to at most one block per indexed field value it
 * holds, so this bounds the build work at about (fields x points) inserts however many values exist.
 */
export const PAYLOAD_SUBSETS_MAX = 4096;

/**
 * Allowed-id bitsets kept per sealed vector space (filters): the most recently used filters that
 * payload indexes answer whole. One costs count / 8 bytes (12.5 KB per 100,000 points); building
 * it is a pass over the filter's matches (~0.1-0.2 ms for 50,000), which a repeated filter (a
 * tenant's, a category's) then skips.
 */
export const ALLOWED_CACHE_FILTERS = 16;

/** Matches below which a filter's allowed ids are not cached (points): rebuilding them is cheaper. */
export const ALLOWED_CACHE_POINTS_MIN = 4096;
