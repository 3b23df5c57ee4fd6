// Datetimes as Qdrant accepts them in filters and order_by: RFC 3339, also with a space instead
// of 'T', without seconds or time zone (UTC), or a bare date. Kept as epoch microseconds.
import { formatError } from './read.js';

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch microseconds (UTC) of a datetime string, or 400 naming the field. */
export function parseDatetimeMicros(text: string, path: string): number {
  const m = DATETIME.exec(text.trim());
  if (m === null) throw formatError(path, `invalid datetime \`${text.slice(0, 64)}\`, expected RFC 3339 format`);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? '0')) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    throw formatError(path, `invalid datetime \`${text.slice(0, 64)}\`: a field is out of range`);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCDate() !== day) throw formatError(path, `invalid datetime \`${text.slice(0, 64)}\`: no such day`);
  const fraction = m[7] ?? '';
  const micros = fraction === '' ? 0 : Math.floor(Number(fraction.padEnd(9, '0')) / 1000);
  return (ms - offsetMinutes(m[8]) * 60_000) * 1000 + micros;
}

function offsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  return sign * (hours * 60 + minutes);
}
