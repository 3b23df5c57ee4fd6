// Lossless JSON: the one codec for WAL records, segment images and REST bodies. Qdrant ids and
// integer payload values are 64-bit; plain JSON.parse rounds integers above 2^53, so distinct
// ids would collide and counters would drift. In memory such integers are bigint (model.ts);
// in text they are bare integer literals.
// - encodeJson writes bigint as its digits and reports whether it wrote any, so the reader can
//   take the native JSON.parse path when it did not;
// - a number that is an integer beyond 2^53 (1e20 given as a float) is written in exponent
//   form, so it reads back as a number, not as a bigint; -0 stays -0;
// - decodeJson returns bigint exactly for integer literals outside the safe range and numbers
//   otherwise. Its own parser keeps an explicit stack, so nesting cannot overflow the call
//   stack; the depth limit protects the recursive code that walks the value afterwards.
import type { ErrorKind } from './errors.js';
import { ShoalError } from './errors.js';

export interface EncodedJson {
  readonly text: string;
  /** True when the text holds bigint literals, which JSON.parse would round. */
  readonly hasBigint: boolean;
}

export interface EncodeJsonOptions {
  /**
   * NaN and ±Infinity: 'throw' (the default; what is stored must read back the same) or 'null'
   * (what JSON.stringify and Qdrant's serializer write, for responses).
   */
  readonly nonFinite?: 'throw' | 'null';
}

/** Who gets blamed for bad text: our own files ('storage', a 500) or a request body (a 400). */
export type JsonErrorKind = Extract<ErrorKind, 'storage' | 'bad_request'>;

export interface DecodeJsonOptions {
  /** 'storage': "invalid JSON: …"; 'bad_request': Qdrant's "Format error in JSON body: …". */
  readonly errorKind: JsonErrorKind;
  /** Deepest nesting of arrays and objects accepted; undefined: no limit (our own files). */
  readonly depthMax?: number;
  /**
   * EncodedJson.hasBigint when the writer recorded it: false takes JSON.parse without looking,
   * true the exact parser. Undefined: the text is scanned for long integer literals.
   */
  readonly hasBigint?: boolean;
}

interface EncodeState {
  text: string;
  hasBigint: boolean;
  readonly nonFiniteNull: boolean;
}

/** JSON text of a value; undefined object fields are left out, other undefined is null. */
export function encodeJson(value: unknown, options: EncodeJsonOptions = {}): EncodedJson {
  const native = nativeEncoding(value);
  if (native !== null) return { text: native, hasBigint: false };
  const state: EncodeState = { text: '', hasBigint: false, nonFiniteNull: options.nonFinite === 'null' };
  write(value, state);
  return { text: state.text, hasBigint: state.hasBigint };
}

/**
 * JSON.stringify's text when it is exactly what the exact encoder would write: no bigint, no
 * non-finite number, no -0 (the replacer spots these), and no integer literal long enough to be
 * read back as a bigint (a float such as 1e20 prints as 21 digits). About twice as fast as the
 * exact encoder on payload-heavy values; null means "use the exact encoder".
 */
function nativeEncoding(value: unknown): string | null {
  let special = false;
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'number') {
      if (!Number.isFinite(item) || Object.is(item, -0)) special = true;
    } else if (typeof item === 'bigint') {
      special = true;
      return null;
    }
    return item;
  }) as string | undefined;
  if (special || text === undefined || LONG_INTEGER.test(text)) return null;
  return text;
}

function write(value: unknown, state: EncodeState): void {
  switch (typeof value) {
    case 'string':
      state.text += JSON.stringify(value);
      return;
    case 'boolean':
      state.text += value ? 'true' : 'false';
      return;
    case 'number':
      state.text += numberText(value, state);
      return;
    case 'bigint':
      state.hasBigint = true;
      state.text += value.toString();
      return;
    case 'undefined':
      state.text += 'null';
      return;
    case 'object':
      if (value === null) state.text += 'null';
      else if (Array.isArray(value)) writeArray(value, state);
      else writeObject(value as Record<string, unknown>, state);
      return;
    default:
      throw new ShoalError('bad_request', `cannot write a ${typeof value} as JSON`);
  }
}

function numberText(value: number, state: EncodeState): string {
  if (!Number.isFinite(value)) {
    if (state.nonFiniteNull) return 'null';
    throw new ShoalError('bad_request', `cannot store the number ${value} as JSON`);
  }
  if (Object.is(value, -0)) return '-0';
  // Digits alone would read back as a bigint; the exponent keeps it a number.
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return value.toExponential();
  return String(value);
}

function writeArray(items: readonly unknown[], state: EncodeState): void {
  state.text += '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) state.text += ',';
    write(items[i], state);
  }
  state.text += ']';
}

function writeObject(object: Record<string, unknown>, state: EncodeState): void {
  state.text += '{';
  let first = true;
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (item === undefined) continue;
    if (!first) state.text += ',';
    first = false;
    state.text += JSON.stringify(key);
    state.text += ':';
    write(item, state);
  }
  state.text += '}';
}

/**
 * An integer literal of 16+ digits (2^53 has 16; every shorter integer is safe), not preceded by
 * a digit, '.', an exponent mark or its sign, so long fractions and exponents do not count.
 * Digits inside strings match too: a false positive only costs the exact parser.
 */
const LONG_INTEGER = /(?<![\d.eE+])\d{16,}/;

/** Parses JSON text; integer literals outside the safe range become bigint. */
export function decodeJson(text: string, options: DecodeJsonOptions): unknown {
  if (options.hasBigint ?? LONG_INTEGER.test(text)) return new ExactParser(text, options).parse();
  if (options.depthMax !== undefined) checkDepth(text, options.depthMax, options.errorKind);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // The native message names no line or column; the exact parser reports the same fault as
    // Qdrant's parser does, and throws.
    new ExactParser(text, options).parse();
    throw jsonError(options.errorKind, error instanceof Error ? error.message : String(error), error);
  }
}

function jsonError(kind: JsonErrorKind, detail: string, cause?: unknown): ShoalError {
  const message = kind === 'bad_request' ? `Format error in JSON body: ${detail}` : `invalid JSON: ${detail}`;
  return new ShoalError(kind, message, cause === undefined ? undefined : { cause });
}

function depthError(kind: JsonErrorKind, depthMax: number): ShoalError {
  return jsonError(kind, `nesting deeper than ${depthMax} levels`);
}

/** Rejects arrays/objects nested deeper than depthMax, counting brackets outside strings. */
function checkDepth(text: string, depthMax: number, kind: JsonErrorKind): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > depthMax) throw depthError(kind, depthMax);
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
/** Returned by begin/after when a value must be read next (inside a container). */
const NEED_VALUE: unique symbol = Symbol('need value');

type Container = unknown[] | Record<string, unknown>;

/**
 * The exact parser. Iterative: `containers` holds the open arrays/objects and `keys` the
 * pending key of each open object, so depth costs heap, not call stack.
 */
class ExactParser {
  private at = 0;
  private readonly containers: Container[] = [];
  private readonly keys: string[] = [];
  private readonly depthMax: number;

  constructor(
    private readonly text: string,
    private readonly options: DecodeJsonOptions,
  ) {
    this.depthMax = options.depthMax ?? Number.POSITIVE_INFINITY;
  }

  parse(): unknown {
    let value = this.begin();
    for (;;) {
      if (value === NEED_VALUE) {
        value = this.begin();
      } else if (this.containers.length === 0) {
        this.skip();
        if (this.at !== this.text.length) this.fail('trailing characters');
        return value;
      } else {
        value = this.after(value);
      }
    }
  }

  /** Reads a scalar, or opens a container (returning it at once when empty). */
  private begin(): unknown {
    this.skip();
    const c = this.text.charCodeAt(this.at);
    if (c !== 0x5b /* [ */ && c !== 0x7b /* { */) return this.scalar(c);
    if (this.containers.length >= this.depthMax) throw depthError(this.options.errorKind, this.depthMax);
    this.at++;
    const isArray = c === 0x5b;
    this.skip();
    if (this.text.charCodeAt(this.at) === (isArray ? 0x5d : 0x7d)) {
      this.at++;
      return isArray ? [] : {};
    }
    this.containers.push(isArray ? [] : {});
    this.keys.push(isArray ? '' : this.key());
    return NEED_VALUE;
  }

  /** Adds a finished value to the open container, then reads ',' or the closing bracket. */
  private after(value: unknown): unknown {
    const top = this.containers[this.containers.length - 1] as Container;
    const isArray = Array.isArray(top);
    if (isArray) top.push(value);
    else setOwn(top, this.keys[this.keys.length - 1] as string, value);
    this.skip();
    const c = this.text.charCodeAt(this.at);
    if (c === (isArray ? 0x5d : 0x7d)) {
      this.at++;
      this.containers.pop();
      this.keys.pop();
      return top;
    }
    if (c !== 0x2c /* , */) this.fail(Number.isNaN(c) ? `EOF while parsing ${isArray ? 'a list' : 'an object'}` : `expected \`,\` or \`${isArray ? ']' : '}'}\``);
    this.at++;
    this.skip();
    if (isArray && this.text.charCodeAt(this.at) === 0x5d) this.fail('trailing comma');
    if (!isArray) this.keys[this.keys.length - 1] = this.key();
    return NEED_VALUE;
  }

  /** An object key and its ':'. */
  private key(): string {
    this.skip();
    const c = this.text.charCodeAt(this.at);
    if (c === 0x7d /* } */) this.fail('trailing comma');
    if (c !== QUOTE) this.fail(Number.isNaN(c) ? 'EOF while parsing an object' : 'key must be a string');
    const key = this.string();
    this.skip();
    if (this.text.charCodeAt(this.at) !== 0x3a /* : */) this.fail('expected `:`');
    this.at++;
    return key;
  }

  private scalar(c: number): unknown {
    if (c === QUOTE) return this.string();
    if (c === 0x74 /* t */) return this.word('true', true);
    if (c === 0x66 /* f */) return this.word('false', false);
    if (c === 0x6e /* n */) return this.word('null', null);
    return this.number();
  }

  private word(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.at)) this.fail('expected ident');
    this.at += word.length;
    return value;
  }

  private number(): number | bigint {
    if (this.at >= this.text.length) this.fail('EOF while parsing a value');
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('expected value');
    this.at = NUMBER.lastIndex;
    const literal = match[0];
    const value = Number(literal);
    if (match[1] !== undefined || match[2] !== undefined || Number.isSafeInteger(value)) return value;
    return BigInt(literal);
  }

  private string(): string {
    const start = this.at;
    let i = start + 1;
    // Escapes and raw control characters go through JSON.parse, which decodes or rejects them.
    let native = false;
    for (; i < this.text.length; i++) {
      const c = this.text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        native = true;
        i++;
      } else if (c < 0x20) {
        native = true;
      }
    }
    if (i >= this.text.length) {
      this.at = this.text.length;
      this.fail('EOF while parsing a string');
    }
    this.at = i + 1;
    if (!native) return this.text.slice(start + 1, i);
    try {
      return JSON.parse(this.text.slice(start, i + 1)) as string;
    } catch {
      this.at = start;
      return this.fail('invalid escape or control character in string');
    }
  }

  private skip(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  /** Throws with the place as Qdrant's parser names it: 1-based line, column of the fault. */
  private fail(what: string): never {
    const lineStart = this.at === 0 ? 0 : this.text.lastIndexOf('\n', this.at - 1) + 1;
    let line = 1;
    for (let i = this.text.indexOf('\n'); i !== -1 && i < lineStart; i = this.text.indexOf('\n', i + 1)) line++;
    const column = this.at - lineStart + (this.at < this.text.length ? 1 : 0);
    throw jsonError(this.options.errorKind, `${what} at line ${line} column ${column}`);
  }
}

/** Sets an own property, even one named `__proto__` (assignment would change the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
