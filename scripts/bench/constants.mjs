// Index parameters shared by every engine in the benchmark.
/** Links per node (level 0 keeps 2M): hnswlib's M, usearch's connectivity, Qdrant's m. */
export const M = 16;
/** Candidate list while inserting: hnswlib's ef_construction, usearch's expansion_add. */
export const EF_CONSTRUCT = 100;
