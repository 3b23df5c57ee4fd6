// Bounds of a dense index, in one place, each with its unit and what it trades.

/**
 * Values sampled to calibrate int8 quantization (count). Sorting 10^6 f32 values takes ~80 ms;
 * the quantile of a million-value sample is within ~0.1% of the whole set's for any real
 * distribution, so more buys nothing measurable.
 */
export const QUANTILE_SAMPLE_MAX = 1_000_000;

/** Smallest `quantile` accepted (Qdrant validates [0.5, 1]): below it most values would clip. */
export const QUANTILE_MIN = 0.5;

/**
 * Largest int8 code magnitude: codes are -127..127 (never -128) so that negation and the i16
 * products of the kernels stay symmetric.
 */
export const INT8_CODE_MAX = 127;

/**
 * Share of values in the zero band of binary two_bits codes (fraction): a third, so the three
 * levels are equally likely and each bit plane splits the values 1 : 2, as informative as a plane
 * of the sign; a wider band says less about the values outside it, a narrower one about those in it.
 */
export const BINARY_BAND_SHARE = 1 / 3;

/**
 * Rows sampled to learn product-quantization codebooks (rows): 16 per centroid. Learning costs
 * rows x 256 x dim multiply-adds per iteration in JS (4096 rows at 768-d: ~0.8 G, about a
 * second); more rows move the centroids little on real data and make every seal slower.
 */
export const PQ_TRAIN_ROWS_MAX = 4096;

/**
 * Lloyd iterations of product-quantization k-means (count): the assignment settles within a few
 * passes from a sample start; each pass costs as much as coding the sample.
 */
export const PQ_KMEANS_ITERATIONS = 8;

/**
 * Oversampling of a search that leaves `quantization.oversampling` unset (factor), by code kind.
 * Qdrant's default is 1: only the best k estimates are rescored, so a true neighbour that the
 * codes rank just below k is lost. Rescoring 2k (int8) costs k more f32 distances, a few
 * percent of a graph search, and on a 768-d Gaussian mixture at quantile 0.99 lifts recall@10
 * from ~0.82 to ~0.99; the coarser binary and product codes mis-rank more and get 4k. A request
 * that sets oversampling (1 included) gets exactly that.
 */
export const OVERSAMPLING_DEFAULT = { int8: 2, binary: 4, product: 4 } as const;

/**
 * Rows scored per kernel call in an exact scan (rows): one JS->wasm crossing per chunk and
 * 4 KiB of scores; larger chunks only grow the scratch.
 */
export const EXACT_CHUNK_ROWS = 1024;

/**
 * Bytes kept free below each record region and between regions so that no region shares a cache
 * line with another (bytes): 64, one x86 cache line.
 */
export const REGION_ALIGN = 64;

/**
 * Scratch slots per index (searchers alive at once, across all threads). Each slot is ~26 bytes
 * per row of address space, committed as a search touches it; the control block holds one word
 * per slot. 256 covers one searcher per thread on any machine this runs on.
 */
export const SEARCHERS_MAX = 256;

/** Largest dimension (elements): 65,536 keeps an int8 dot product exact in i32 (127^2 * 2^16 < 2^31). */
export const DENSE_DIM_MAX = 65_536;

/**
 * Extra level-0 links (subset graphs, payload_m) kept per node (links). A node in several linked
 * subsets keeps at most this many of their links, so that a neighbour list gathered by a search
 * (2m + extra, m <= 256) fits its scratch list of EXACT_CHUNK_ROWS ids. 512 holds 16 subsets'
 * worth of links at payload_m 16; a node in more keeps an equal share of each.
 */
export const EXTRA_LINKS_PER_NODE_MAX = 512;
