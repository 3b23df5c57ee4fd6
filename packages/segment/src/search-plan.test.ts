import { describe, expect, it } from 'vitest';
import { exactly } from './cardinality.js';
import { chooseSearchPath, vectorKb, vectorsInKb } from './search-plan.js';
import type { SearchChoice, SearchPathInput } from './search-plan.js';

// 100,000 live 128-d vectors, threshold 10,000 KB = 20,000 vectors of 128-d.
const base: SearchPathInput = {
  exact: false, indexed: true, linked: false, vectors: 100_000, dim: 128, fullScanThresholdKb: 10_000, filterCardinality: null,
};
const range = (min: number, exp: number, max: number): SearchPathInput['filterCardinality'] => ({ min, exp, max });
const pick = (input: Partial<SearchPathInput>): SearchChoice | 'count' => chooseSearchPath({ ...base, ...input });

describe('chooseSearchPath', () => {
  it("uses Qdrant's kilobyte: 1 KB is one 256-d float32 vector", () => {
    expect(vectorsInKb(10_000, 256)).toBe(10_000);
    expect(vectorsInKb(10_000, 128)).toBe(20_000);
    expect(vectorKb(10_000, 256)).toBe(10_000);
  });

  it('walks the graph of a large indexed segment without a filter', () => {
    expect(pick({})).toEqual({ path: 'graph', traversal: 'all', reason: 'unfiltered' });
  });

  it('scans exactly when asked, or when the segment has no graph', () => {
    expect(pick({ exact: true })).toEqual({ path: 'exact', traversal: 'all', reason: 'requested' });
    expect(pick({ indexed: false })).toMatchObject({ path: 'exact', reason: 'no-graph' });
    expect(pick({ exact: true, filterCardinality: exactly(90_000), linked: true })).toMatchObject({ path: 'exact', reason: 'requested' });
  });

  it('scans exactly below the full-scan threshold, at the boundary walks the graph', () => {
    expect(pick({ vectors: 19_999 })).toMatchObject({ path: 'exact', reason: 'small-segment' });
    expect(pick({ vectors: 20_000 })).toMatchObject({ path: 'graph' });
    expect(pick({ fullScanThresholdKb: 0 })).toMatchObject({ path: 'graph' });
    expect(pick({ fullScanThresholdKb: 0, filterCardinality: exactly(0) })).toMatchObject({ path: 'graph', reason: 'many-match' });
  });

  it('scans exactly when the filter surely leaves fewer points than the threshold', () => {
    expect(pick({ filterCardinality: exactly(19_999) })).toMatchObject({ path: 'exact', reason: 'few-match' });
    expect(pick({ filterCardinality: range(0, 5_000, 19_999) })).toMatchObject({ path: 'exact', reason: 'few-match' });
    expect(pick({ filterCardinality: exactly(0) })).toMatchObject({ path: 'exact', reason: 'few-match' });
    // 1%, 5% and 10% of 100,000 points at the default threshold: all below 20,000.
    for (const n of [1_000, 5_000, 10_000]) expect(pick({ filterCardinality: exactly(n) })).toMatchObject({ path: 'exact' });
  });

  it('walks the graph through every point when the filter surely leaves enough', () => {
    expect(pick({ filterCardinality: exactly(20_000) })).toEqual({ path: 'graph', traversal: 'all', reason: 'many-match' });
    expect(pick({ filterCardinality: range(50_000, 50_000, 100_000) })).toEqual({ path: 'graph', traversal: 'all', reason: 'many-match' });
  });

  it('walks only the filter points when a subset graph covers the filter', () => {
    expect(pick({ filterCardinality: exactly(50_000), linked: true })).toEqual({ path: 'graph', traversal: 'allowed', reason: 'subset-graph' });
    // Still exact when few match: a scan of them is cheaper than any walk.
    expect(pick({ filterCardinality: exactly(1_000), linked: true })).toMatchObject({ path: 'exact', reason: 'few-match' });
    // Forced onto the graph by a zero threshold: the subset links carry a 1% filter.
    expect(pick({ filterCardinality: exactly(1_000), linked: true, fullScanThresholdKb: 0 })).toMatchObject({ path: 'graph', traversal: 'allowed' });
  });

  it('asks for a count when the estimate straddles the threshold, and decides on it', () => {
    const straddling = range(0, 50_000, 100_000);
    expect(pick({ filterCardinality: straddling })).toBe('count');
    expect(pick({ filterCardinality: range(19_999, 30_000, 20_000) })).toBe('count');
    expect(pick({ filterCardinality: range(20_000, 30_000, 40_000) })).toMatchObject({ path: 'graph' });
  });

  it('walks subset links alone (m = 0) only for the filters they cover', () => {
    const noGraph = { indexed: false, fullScanThresholdKb: 0 };
    expect(pick({ ...noGraph, linked: true, filterCardinality: exactly(1_000) })).toMatchObject({ path: 'graph', traversal: 'allowed' });
    expect(pick({ ...noGraph, linked: false, filterCardinality: exactly(1_000) })).toMatchObject({ path: 'exact', reason: 'no-graph' });
    expect(pick({ ...noGraph, linked: true, filterCardinality: null })).toMatchObject({ path: 'exact', reason: 'no-graph' });
  });
});
