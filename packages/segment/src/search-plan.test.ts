import { describe, expect, it } from 'vitest';
import { chooseSearchPath, vectorKb, vectorsInKb } from './search-plan.js';
import type { SearchPathInput } from './search-plan.js';

const base: SearchPathInput = { exact: false, indexed: true, vectors: 100_000, dim: 128, fullScanThresholdKb: 10_000, filterCardinality: null };

describe('chooseSearchPath', () => {
  it("uses Qdrant's kilobyte: 1 KB is one 256-d float32 vector", () => {
    expect(vectorsInKb(10_000, 256)).toBe(10_000);
    expect(vectorsInKb(10_000, 128)).toBe(20_000);
    expect(vectorKb(10_000, 256)).toBe(10_000);
  });

  it('walks the graph of a large indexed segment without a filter', () => {
    expect(chooseSearchPath(base)).toBe('graph');
  });

  it('scans exactly when asked, or when the segment has no graph', () => {
    expect(chooseSearchPath({ ...base, exact: true })).toBe('exact');
    expect(chooseSearchPath({ ...base, indexed: false })).toBe('exact');
  });

  it('scans exactly below the full-scan threshold, at the boundary walks the graph', () => {
    expect(chooseSearchPath({ ...base, vectors: 19_999 })).toBe('exact');
    expect(chooseSearchPath({ ...base, vectors: 20_000 })).toBe('graph');
    expect(chooseSearchPath({ ...base, fullScanThresholdKb: 0 })).toBe('graph');
  });

  it('scans exactly when the filter leaves fewer points than the threshold', () => {
    expect(chooseSearchPath({ ...base, filterCardinality: 19_999 })).toBe('exact');
    expect(chooseSearchPath({ ...base, filterCardinality: 20_000 })).toBe('graph');
    expect(chooseSearchPath({ ...base, filterCardinality: 0 })).toBe('exact');
  });
});
