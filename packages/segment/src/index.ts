export * from './contract.js';
export { Segment } from './segment.js';
export type { SegmentOptions } from './segment.js';
export { SCAN_CHUNK } from './vector-store.js';
export { createSegment, loadSegment } from './load.js';
export { parseJsonPath } from './path.js';
export type { JsonPath, PathStep } from './path.js';
export { parseDatetimeMicros } from './datetime.js';
export * from './wasm/index.js';
