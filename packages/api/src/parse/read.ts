// Small readers from unknown JSON, each naming the field it rejects in Qdrant's style:
// wrong types are 400 "Format error in JSON body: <path>: invalid type: …, expected …";
// well-typed values out of range are 422 "Validation error in JSON body: [<path>: …]".
import { ShoalError } from '@shoal/common';

export type JsonObj = { readonly [key: string]: unknown };

export function formatError(path: string, message: string): ShoalError {
  const where = path === '' ? '' : `${path}: `;
  return new ShoalError('bad_request', `Format error in JSON body: ${where}${message}`);
}

export function validationFailure(path: string, message: string): ShoalError {
  return new ShoalError('validation', `Validation error in JSON body: [${path}: ${message}]`);
}

export function unsupported(feature: string): ShoalError {
  return new ShoalError('unsupported', `${feature} is not supported by this node yet`);
}

/** serde's wording for what a value is, e.g. `string "a"`, `integer `5``, `map`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (typeof value === 'bigint') return `integer \`${value}\``;
  if (typeof value === 'number') return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (Array.isArray(value)) return 'sequence';
  return 'map';
}

export function typeError(path: string, value: unknown, expected: string): ShoalError {
  return formatError(path, `invalid type: ${describe(value)}, expected ${expected}`);
}

export const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

export function isObject(value: unknown): value is JsonObj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown, path: string): JsonObj {
  if (!isObject(value)) throw typeError(path, value, 'a map');
  return value;
}

/** The value of a key, with null and absent both meaning "not given". */
export function opt(obj: JsonObj, key: string): unknown {
  const value = Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  return value === null ? undefined : value;
}

export function req(obj: JsonObj, key: string, path: string): unknown {
  const value = opt(obj, key);
  if (value === undefined) throw formatError(path, `missing field \`${key}\``);
  return value;
}

export function asArray(value: unknown, path: string, lengthMax: number): readonly unknown[] {
  if (!Array.isArray(value)) throw typeError(path, value, 'a sequence');
  if (value.length > lengthMax) throw validationFailure(path, `at most ${lengthMax} items allowed, got ${value.length}`);
  return value;
}

export function asString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw typeError(path, value, 'a string');
  return value;
}

export function asBool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw typeError(path, value, 'a boolean');
  return value;
}

export function asNumber(value: unknown, path: string): number {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number') throw typeError(path, value, 'a number');
  return value;
}

/** An unsigned integer; bigger than any bound we use is still a number (validated by min/max). */
export function asUint(value: unknown, path: string): number {
  if (typeof value === 'bigint') {
    if (value < 0n) throw formatError(path, `invalid value: integer \`${value}\`, expected an unsigned integer`);
    return Number.MAX_SAFE_INTEGER;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(path, value, 'an unsigned integer');
  if (value < 0) throw formatError(path, `invalid value: integer \`${value}\`, expected an unsigned integer`);
  return value;
}

export function checkRange(value: number, path: string, min: number | null, max: number | null): number {
  if (min !== null && value < min) throw validationFailure(path, `value ${value} invalid, must be ${min} or larger`);
  if (max !== null && value > max) throw validationFailure(path, `value ${value} invalid, must be ${max} or smaller`);
  return value;
}

export function optBool(obj: JsonObj, key: string, path: string): boolean | null {
  const v = opt(obj, key);
  return v === undefined ? null : asBool(v, join(path, key));
}

export function optString(obj: JsonObj, key: string, path: string): string | null {
  const v = opt(obj, key);
  return v === undefined ? null : asString(v, join(path, key));
}

export function optUint(obj: JsonObj, key: string, path: string, min: number | null = null, max: number | null = null): number | null {
  const v = opt(obj, key);
  if (v === undefined) return null;
  const p = join(path, key);
  return checkRange(asUint(v, p), p, min, max);
}

export function optNumber(obj: JsonObj, key: string, path: string, min: number | null = null, max: number | null = null): number | null {
  const v = opt(obj, key);
  if (v === undefined) return null;
  const p = join(path, key);
  return checkRange(asNumber(v, p), p, min, max);
}

export function asEnum<T extends string>(value: unknown, path: string, variants: readonly T[]): T {
  if (typeof value !== 'string') throw typeError(path, value, `one of ${variants.map((v) => `\`${v}\``).join(', ')}`);
  if (!(variants as readonly string[]).includes(value)) {
    throw formatError(path, `unknown variant \`${value}\`, expected one of ${variants.map((v) => `\`${v}\``).join(', ')}`);
  }
  return value as T;
}

/** A plain JSON object kept as given (configs stored verbatim, e.g. strict_mode_config). */
export function optPlainObject(obj: JsonObj, key: string, path: string): { readonly [key: string]: unknown } | null {
  const v = opt(obj, key);
  return v === undefined ? null : asObject(v, join(path, key));
}
