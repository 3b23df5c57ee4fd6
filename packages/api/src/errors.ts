// The one map from expected failures to HTTP, and Qdrant's response envelopes.
import { type ErrorKind, ShoalError, unreachable } from '@shoal/common';
import type { UpdateResult } from '@shoal/cluster';

/**
 * HTTP status of an error kind. Exhaustive: a new ErrorKind does not compile until mapped.
 * Qdrant answers an oversize body with 400 ("Payload error: JSON payload (…) is larger than
 * allowed"), not 413, and a timed-out operation with 408; unsupported features are a bad request.
 */
export function httpStatus(kind: ErrorKind): number {
  switch (kind) {
    case 'bad_request':
      return 400;
    case 'validation':
      return 422;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 400;
    case 'overloaded':
      return 503;
    case 'timeout':
      return 408;
    case 'unavailable':
      return 503;
    case 'unsupported':
      return 400;
    case 'storage':
      return 500;
    default:
      return unreachable(kind, 'unmapped error kind');
  }
}

export interface OkEnvelope<T> {
  readonly result: T;
  readonly status: 'ok';
  readonly time: number;
}

export interface ErrorEnvelope {
  readonly status: { readonly error: string };
  readonly time: number;
}

/** `{"result": …, "status": "ok", "time": seconds}` */
export function okEnvelope<T>(result: T, timeSec: number): OkEnvelope<T> {
  return { result, status: 'ok', time: timeSec };
}

/** `{"status": {"error": "…"}, "time": seconds}` */
export function errorEnvelope(message: string, timeSec: number): ErrorEnvelope {
  return { status: { error: message }, time: timeSec };
}

/** Qdrant's UpdateResult JSON: `{operation_id, status}`. */
export function updateResultJson(result: UpdateResult): { operation_id: number; status: string } {
  return { operation_id: result.operationId, status: result.status };
}

export interface HttpError {
  readonly status: number;
  readonly message: string;
}

/**
 * Status and message for a thrown value. A ShoalError is an expected failure; anything else is
 * a defect, reported as 500 without internals (the caller logs it).
 */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof ShoalError) return { status: httpStatus(error.kind), message: error.message };
  return { status: 500, message: 'Service internal error: unexpected failure, see the server log' };
}
