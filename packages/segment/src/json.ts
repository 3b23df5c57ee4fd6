// Lossless JSON for payloads: integers outside the safe range are bigint in memory and raw integer
// literals in text, so a 64-bit id or counter written to disk comes back exactly.
import { ShoalError } from '@shoal/common';
import type { JsonObject, JsonValue } from '@shoal/common';

/** JSON text of a value; bigint becomes a bare integer literal. */
export function stringifyJson(value: JsonValue): string {
  const parts: string[] = [];
  writeValue(value, parts);
  return parts.join('');
}

function writeValue(value: JsonValue, out: string[]): void {
  if (value === null) out.push('null');
  else if (typeof value === 'bigint') out.push(value.toString());
  else if (typeof value === 'number') out.push(Number.isFinite(value) ? JSON.stringify(value) : 'null');
  else if (typeof value === 'string' || typeof value === 'boolean') out.push(JSON.stringify(value));
  else if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      writeValue(value[i] as JsonValue, out);
    }
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const [key, inner] of Object.entries(value)) {
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      writeValue(inner, out);
    }
    out.push('}');
  }
}

// An integer literal long enough that it may be unsafe as a double. Strings can match too; that
// only sends the text down the slower exact path.
const LONG_INTEGER = /\d{16,}/;

/** Parse JSON text; integers that do not fit a double exactly become bigint. */
export function parseJson(text: string): JsonValue {
  if (!LONG_INTEGER.test(text)) return JSON.parse(text) as JsonValue;
  const parser = new LosslessParser(text);
  const value = parser.value();
  parser.end();
  return value;
}

class LosslessParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  end(): void {
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('trailing characters');
  }

  value(): JsonValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    return this.number();
  }

  private object(): JsonObject {
    const result: JsonObject = {};
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      setOwn(result, key, this.value());
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return result;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(): JsonValue[] {
    const result: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value());
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return result;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string');
      if (c === '\\') this.pos += 2;
      else if (c === '"') break;
      else this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): number | bigint {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (match === null) this.fail('unexpected character');
    const literal = match[0];
    this.pos += literal.length;
    const asNumber = Number(literal);
    if (match[2] === undefined && match[3] === undefined && !Number.isSafeInteger(asNumber)) return BigInt(literal);
    return asNumber;
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected literal');
    this.pos += word.length;
    return value;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private fail(why: string): never {
    throw new ShoalError('storage', `invalid JSON at ${this.pos}: ${why}`);
  }
}

/** Set an own property, even one named `__proto__` (plain assignment would change the prototype). */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** A deep copy (payloads are stored by value; nothing outside the segment may alias them). */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) setOwn(out, key, cloneJson(inner));
  return out as T;
}

/** Rough size in bytes of a value as JSON, for stats; no allocation. */
export function approxJsonBytes(value: JsonValue): number {
  if (value === null) return 4;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 5;
    default:
      break;
  }
  let total = 2;
  if (Array.isArray(value)) {
    for (const inner of value) total += approxJsonBytes(inner) + 1;
    return total;
  }
  for (const key in value) total += key.length + 4 + approxJsonBytes(value[key] as JsonValue);
  return total;
}
