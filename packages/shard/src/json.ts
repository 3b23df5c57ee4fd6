import { ShoalError } from '@shoal/common';

// Lossless JSON for the WAL and images: integers outside the safe range are bigint on both
// sides, so nothing is rounded on the way to disk and back.
// - bigint is written as its digits and read back as bigint (only unsafe integers are bigint
//   in the data model, so every integer literal beyond 2^53 is one);
// - a number that is an integer beyond 2^53 (e.g. 1e20 given as a float) is written in
//   exponent form, so it is read back as a number, not as a bigint.

export interface EncodedJson {
  readonly text: string;
  /** True when the text holds bigint literals, so JSON.parse would round them. */
  readonly hasBigint: boolean;
}

export function encodeJson(value: unknown): EncodedJson {
  const state = { hasBigint: false };
  const text = write(value, state);
  return { text, hasBigint: state.hasBigint };
}

function write(value: unknown, state: { hasBigint: boolean }): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return writeNumber(value);
    case 'bigint':
      state.hasBigint = true;
      return value.toString();
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : write(item, state))).join(',')}]`;
      return writeObject(value as Record<string, unknown>, state);
    default:
      throw new ShoalError('bad_request', `cannot store a ${typeof value} as JSON`);
  }
}

function writeNumber(value: number): string {
  if (!Number.isFinite(value)) throw new ShoalError('bad_request', `cannot store the number ${value} as JSON`);
  if (Object.is(value, -0)) return '-0';
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return value.toExponential();
  return String(value);
}

function writeObject(object: Record<string, unknown>, state: { hasBigint: boolean }): string {
  const parts: string[] = [];
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (item !== undefined) parts.push(`${JSON.stringify(key)}:${write(item, state)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Parse text from encodeJson. `hasBigint` false takes the fast native path. */
export function decodeJson(text: string, hasBigint = true): unknown {
  if (!hasBigint) return JSON.parse(text) as unknown;
  const parser = new Parser(text);
  const value = parser.value();
  parser.end();
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

class Parser {
  private at = 0;
  constructor(private readonly text: string) {}

  private fail(what: string): never {
    throw new ShoalError('storage', `bad JSON at ${this.at}: ${what}`);
  }

  private skip(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  end(): void {
    this.skip();
    if (this.at !== this.text.length) this.fail('trailing characters');
  }

  value(): unknown {
    this.skip();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return result;
      }
    }
    return this.number();
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('expected a value');
    this.at = NUMBER.lastIndex;
    const literal = match[0];
    if (match[1] === undefined && match[2] === undefined) {
      const value = Number(literal);
      return Number.isSafeInteger(value) ? value : BigInt(literal);
    }
    return Number(literal);
  }

  private string(): string {
    const start = this.at;
    let i = start + 1;
    let escaped = false;
    for (; i < this.text.length; i++) {
      const c = this.text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c === 0x22) {
        break;
      }
    }
    if (i >= this.text.length) this.fail('unterminated string');
    this.at = i + 1;
    return escaped ? (JSON.parse(this.text.slice(start, i + 1)) as string) : this.text.slice(start + 1, i);
  }

  private expect(c: string): void {
    this.skip();
    if (this.text[this.at] !== c) this.fail(`expected '${c}'`);
    this.at++;
  }

  /** Whether the next character closes the container (consuming it), else expects ','. */
  private closes(c: string, first: boolean): boolean {
    this.skip();
    if (this.text[this.at] === c) {
      this.at++;
      return true;
    }
    if (!first) this.expect(',');
    return false;
  }

  private array(): unknown[] {
    this.at++;
    const out: unknown[] = [];
    while (!this.closes(']', out.length === 0)) out.push(this.value());
    return out;
  }

  private object(): Record<string, unknown> {
    this.at++;
    const out: Record<string, unknown> = {};
    let first = true;
    while (!this.closes('}', first)) {
      first = false;
      this.skip();
      if (this.text[this.at] !== '"') this.fail('expected a key');
      const key = this.string();
      this.expect(':');
      // defineProperty: a key named "__proto__" must become data, not the object's prototype.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}
