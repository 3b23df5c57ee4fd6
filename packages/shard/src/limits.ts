// Bounds of the shard's segment set and optimizer, each with its unit and what it trades.

/**
 * Rows copied per step when a frozen segment's vectors are handed to a worker (bytes of float32):
 * 4 MiB is about a millisecond of copying, so the event loop never waits longer for it; larger
 * steps only save a few setImmediate round trips.
 */
export const COPY_SLICE_BYTES = 4 * 1024 * 1024;

/**
 * Points per step when ids and payloads are encoded for a worker or added to a sealed segment
 * under construction (points): a few milliseconds of JSON encoding for ordinary payloads.
 */
export const POINT_SLICE = 2_048;

/** Points indexed per step when a payload index is built for a new sealed segment (points). */
export const INDEX_SLICE = 8_192;

/**
 * Largest segment the optimizer builds, KB of float32 vectors (Qdrant's unit: 1 KB = one 256-d
 * vector): 2 GiB, so one named vector's rows, codes and links stay inside one 4 GiB wasm32
 * memory. max_segment_size above this is capped.
 */
export const SEGMENT_KB_MAX = 2 * 1024 * 1024;

/** Qdrant's default max_segment_size per CPU when the config leaves it null, KB. */
export const SEGMENT_KB_PER_CPU_DEFAULT = 256_000;

/** First wait before a failed optimization is tried again (ms); doubles per failure. */
export const RETRY_DELAY_MS_MIN = 1_000;

/** Longest wait between attempts of a failing optimization (ms): an hour of failures costs 60 tries. */
export const RETRY_DELAY_MS_MAX = 60_000;

/** Segments merged by one job at most: bounds the job's memory (all sources stay until the swap). */
export const MERGE_SOURCES_MAX = 8;

/**
 * An optimization worker with nothing to do ends after this long (ms). Starting one costs tens of
 * milliseconds; an idle one keeps its heap, and with it the shared memories of the indexes it
 * touched, until its next collection, which an idle thread may never run.
 */
export const WORKER_IDLE_MS = 5_000;
