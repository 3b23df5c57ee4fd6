// Request plumbing shared by the REST routes: bounded body reading, query parameters, and
// Qdrant's envelopes written with the lossless stringifier.
import { errorEnvelope, httpErrorOf, okEnvelope, parseJson, parseLinearizable, parseReadConsistency, stringifyJson } from '@shoal/api';
import { ShoalError, type Limits } from '@shoal/common';
import type { RequestOptions, ShardKeySelector, WriteOptions, WriteOrdering } from '@shoal/cluster';
import type { Context } from 'hono';

export interface RestOptions {
  readonly limits: Limits;
  /** Called with failures that are not ShoalError (defects); the response is a 500. */
  readonly onUnexpectedError?: (error: unknown, method: string, path: string) => void;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function elapsedSec(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(stringifyJson(body), { status, headers: JSON_HEADERS });
}

/** Runs a handler and writes its result in the ok envelope, or any failure in the error envelope. */
export async function respond(c: Context, options: RestOptions, handler: () => Promise<unknown>): Promise<Response> {
  const startMs = performance.now();
  try {
    const result = await handler();
    return jsonResponse(200, okEnvelope(result, elapsedSec(startMs)));
  } catch (error) {
    const { status, message } = httpErrorOf(error);
    if (!(error instanceof ShoalError)) options.onUnexpectedError?.(error, c.req.method, c.req.path);
    return jsonResponse(status, errorEnvelope(message, elapsedSec(startMs)));
  }
}

function tooLarge(limit: number, size: number | null): ShoalError {
  const shown = size === null ? 'more than ' + limit : String(size);
  return new ShoalError('too_large', `Payload error: JSON payload (${shown} bytes) is larger than allowed (limit: ${limit} bytes).`);
}

/**
 * The request body as text, reading at most `limit` bytes: a declared or actual size above the
 * limit stops reading at once (the rest is never buffered).
 */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit, Number(declared));
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit, null);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ShoalError('bad_request', 'Format error in JSON body: the body is not valid UTF-8');
  }
}

/** The JSON body (lossless), 400 "Format error in JSON body: …" when missing or unparsable. */
export async function readJsonBody(c: Context, limits: Limits): Promise<unknown> {
  const text = await readBodyText(c.req.raw, limits.requestBytesMax);
  if (text.trim().length === 0) throw new ShoalError('bad_request', 'Format error in JSON body: EOF while parsing a value at line 1 column 0');
  return parseJson(text, limits.jsonDepthMax);
}

function queryFlag(c: Context, name: string): boolean | null {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return null;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ShoalError('bad_request', `Query deserialize error: ${name}: provided string was not \`true\` or \`false\``);
}

/**
 * `timeout` (seconds) as an absolute deadline on performance.now(), the client's abort signal,
 * `consistency` (reads) and the shard keys the body names.
 */
export function requestOptions(c: Context, shardKey: ShardKeySelector | null = null): RequestOptions {
  const raw = c.req.query('timeout');
  const signal = c.req.raw.signal;
  const consistencyRaw = c.req.query('consistency');
  const consistency = consistencyRaw === undefined || consistencyRaw === '' ? {} : { consistency: parseReadConsistency(consistencyRaw) };
  if (raw === undefined || raw === '') return { signal, shardKey, ...consistency };
  if (!/^\d+$/.test(raw)) throw new ShoalError('bad_request', `Query deserialize error: timeout: invalid digit found in string`);
  const seconds = Number(raw);
  if (seconds < 1) throw new ShoalError('validation', 'Validation error in query params: [timeout: value 0 invalid, must be 1 or larger]');
  return { signal, deadlineMs: performance.now() + seconds * 1000, shardKey, ...consistency };
}

/** A metadata read's options: requestOptions and `linearizable` (true / false, absent false). */
export function metadataReadOptions(c: Context): RequestOptions {
  return { ...requestOptions(c), linearizable: parseLinearizable(c.req.query('linearizable')) };
}

const ORDERINGS: readonly WriteOrdering[] = ['weak', 'medium', 'strong'];

/** `wait` (default false), `ordering` (default weak), `timeout`. */
export function writeOptions(c: Context): WriteOptions {
  const orderingRaw = c.req.query('ordering');
  let ordering: WriteOrdering = 'weak';
  if (orderingRaw !== undefined && orderingRaw !== '') {
    if (!(ORDERINGS as readonly string[]).includes(orderingRaw)) {
      throw new ShoalError('bad_request', `Query deserialize error: ordering: unknown variant \`${orderingRaw.slice(0, 32)}\`, expected one of \`weak\`, \`medium\`, \`strong\``);
    }
    ordering = orderingRaw as WriteOrdering;
  }
  return { ...requestOptions(c), wait: queryFlag(c, 'wait') ?? false, ordering };
}
