// Plain-text tables: a header row, columns padded to their widest cell, two spaces apart.
// Numbers are right-aligned so their digits line up.

export type Cell = string | number | bigint | boolean | null;

function text(cell: Cell): string {
  return cell === null ? '-' : String(cell);
}

/** Display width of a cell: code points, so a name in any script does not break alignment. */
function width(value: string): number {
  return [...value].length;
}

/** Rows under upper-cased headers; returns the lines without a trailing newline. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((row) => headers.map((_, i) => text(row[i] ?? null)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || typeof row[i] === 'bigint' || row[i] === null));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((row) => width(row[i]!))));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - width(cell));
        return numeric[i] ? pad + cell : i === row.length - 1 ? cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n');
}

/** Two columns, key and value, without a header: for one object's fields. */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const keyWidth = Math.max(0, ...fields.map(([key]) => width(key)));
  return fields.map(([key, value]) => `${key}${' '.repeat(keyWidth - width(key))}  ${text(value)}`.trimEnd()).join('\n');
}
