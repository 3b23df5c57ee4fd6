// Lossless JSON. Qdrant ids and integer payload values are unsigned 64-bit; plain JSON.parse
// rounds integers above 2^53 and would make distinct ids collide. The common case has no such
// integer, so it keeps the native parser; only texts that may hold one take the slow path.
import { parse as losslessParse, stringify as losslessStringify } from 'lossless-json';
import { ShoalError } from '@shoal/common';

/**
 * An integer literal of 16+ digits not preceded by a digit, '.', an exponent mark or a sign
 * (so fractions and exponents do not count). Digits inside strings also match: a false positive
 * only costs the slow path.
 */
const LONG_INTEGER = /(?<![\d.eE+])-?\d{16,}/;
const INTEGER_LITERAL = /^-?\d+$/;

/** Throws ShoalError('bad_request') when arrays/objects nest deeper than depthMax. */
export function checkJsonDepth(text: string, depthMax: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > depthMax) {
        throw new ShoalError('bad_request', `Format error in JSON body: nesting deeper than ${depthMax} levels`);
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
}

function parseNumber(text: string): number | bigint {
  if (INTEGER_LITERAL.test(text)) {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) return BigInt(text);
    return n;
  }
  return Number(text);
}

/**
 * Parses JSON; integers outside the safe range become bigint, all other numbers are numbers.
 * Nesting deeper than depthMax is rejected before any parser recursion. Errors are
 * ShoalError('bad_request') with a "Format error in JSON body: …" message.
 */
export function parseJson(text: string, depthMax: number): unknown {
  checkJsonDepth(text, depthMax);
  try {
    if (!LONG_INTEGER.test(text)) return JSON.parse(text) as unknown;
    return losslessParse(text, null, parseNumber);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ShoalError('bad_request', `Format error in JSON body: ${detail}`, { cause: error });
  }
}

const BIGINT_STRINGIFIER = {
  test: (value: unknown): boolean => typeof value === 'bigint',
  stringify: (value: unknown): string => String(value),
};

/**
 * JSON text of a value. bigints are written as raw integer literals; numbers as JavaScript
 * writes them (the shortest text that reads back to the same double).
 */
export function stringifyJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  } catch (error) {
    // JSON.stringify throws a TypeError on bigint; anything else is a real failure.
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
  }
  const text = losslessStringify(value, null, undefined, [BIGINT_STRINGIFIER]);
  return text === undefined ? 'null' : text;
}
