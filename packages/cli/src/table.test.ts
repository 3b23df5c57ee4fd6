import { describe, expect, it } from 'vitest';
import { formatFields, formatTable } from './table.js';

describe('formatTable', () => {
  it('pads columns to the widest cell, right-aligns numbers, marks missing values', () => {
    const out = formatTable(['peer', 'replicas', 'uri'], [
      ['1', 12, 'http://a:6335'],
      ['20000', 3, null],
    ]);
    expect(out.split('\n')).toEqual([
      'PEER   REPLICAS  URI',
      '1            12  http://a:6335',
      '20000         3  -',
    ]);
  });

  it('prints only the header for no rows', () => {
    expect(formatTable(['a', 'b'], [])).toBe('A  B');
  });

  it('counts code points, not UTF-16 units, for width', () => {
    const out = formatTable(['name', 'n'], [['𝔡ocs', 'x'], ['ab', 'y']]);
    expect(out.split('\n')[1]).toBe('𝔡ocs  x');
    expect(out.split('\n')[2]).toBe('ab    y');
  });
});

describe('formatFields', () => {
  it('aligns values after the longest key', () => {
    expect(formatFields([['status', 'green'], ['points_count', 10], ['leader', null]])).toBe(
      'status        green\npoints_count  10\nleader        -',
    );
  });
});
