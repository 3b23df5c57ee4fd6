// Request and response bodies in lossless JSON (the codec is @shoal/common's encodeJson /
// decodeJson): Qdrant ids and integer payload values are unsigned 64-bit, which JSON.parse would
// round above 2^53.
import { decodeJson, encodeJson } from '@shoal/common';

/**
 * Parses a request body; integers outside the safe range become bigint, all other numbers are
 * numbers. Bodies without an integer literal of 16+ digits take the native JSON.parse path.
 * Nesting deeper than depthMax and unparsable text are ShoalError('bad_request') with Qdrant's
 * "Format error in JSON body: …" message.
 */
export function parseJson(text: string, depthMax: number): unknown {
  return decodeJson(text, { errorKind: 'bad_request', depthMax });
}

/**
 * JSON text of a response. Most responses hold no bigint and are written by the native
 * JSON.stringify (it throws a TypeError on bigint); the rest by the lossless encoder, bigints as
 * raw integer literals, non-finite numbers as null as JSON.stringify would.
 */
export function stringifyJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
  }
  return encodeJson(value, { nonFinite: 'null' }).text;
}
