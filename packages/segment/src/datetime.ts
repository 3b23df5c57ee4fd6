// Datetimes in payloads are strings. Qdrant accepts RFC 3339 and a few looser spellings
// (space instead of T, no seconds, no zone = UTC, a bare date); the same set is accepted here.

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** Epoch microseconds (UTC) of a datetime string, or null when it is not one. */
export function parseDatetimeMicros(text: string): number | null {
  const m = DATETIME.exec(text);
  if (m === null) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const hours = Number(m[10]);
    const minutes = Number(m[11]);
    if (hours > 23 || minutes > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const millis = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  // Fractions beyond microseconds are truncated, as Qdrant stores microseconds.
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1e6 + 1e-7);
  return millis * 1000 + fraction;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
