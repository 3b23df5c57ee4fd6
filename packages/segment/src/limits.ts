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
