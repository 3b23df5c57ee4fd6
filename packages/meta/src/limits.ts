// Limits of the metadata state machine and of the placement its proposers compute. Each states
// its unit and its trade-off.

/**
 * Virtual nodes per shard on a new collection's consistent-hash ring. More give a more even split
 * of ids between shards (the spread of shard sizes falls roughly with 1/sqrt(vnodes)) and a bigger
 * ring to search (shards x vnodes entries, binary search per id): 128 keeps the split within a few
 * per cent for up to hundreds of shards at a few KB of ring per collection.
 */
export const RING_VNODES_DEFAULT = 128;

/** Most virtual nodes per shard a stored scheme may ask for: bounds the ring's memory per collection. */
export const RING_VNODES_MAX = 4096;

/** Most shards in one collection (all shard keys together): bounds routing tables and fan-out. */
export const SHARDS_PER_COLLECTION_MAX = 4096;

/** Most replicas of one shard. Each write goes to all of them. */
export const REPLICAS_PER_SHARD_MAX = 64;

/**
 * Transfers one peer may receive at once, over all collections (Qdrant's
 * incoming_shard_transfers_limit default). Each copies a whole shard and forwards every write the
 * source applies meanwhile: more at once recover a restarted node's replicas sooner, but split its
 * disk and network between them and slow its own writes more.
 */
export const TRANSFERS_IN_PER_PEER_MAX = 1;

/** Transfers one peer may send at once, over all collections (outgoing_shard_transfers_limit). Same trade-off on the source. */
export const TRANSFERS_OUT_PER_PEER_MAX = 1;
