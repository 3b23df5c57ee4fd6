/**
 * Expected failures, typed. Each layer throws ShoalError with a kind; exactly one exhaustive
 * switch in @shoal/api maps kinds to HTTP status codes, so a new kind cannot compile unmapped.
 */
export type ErrorKind =
  /** malformed or wrongly typed input: 400 */
  | 'bad_request'
  /** well-formed input that fails validation (e.g. limit: 0): 422 */
  | 'validation'
  /** unknown collection, alias, point, index: 404 */
  | 'not_found'
  /** the resource already exists or the request conflicts with the current state: 409 */
  | 'conflict'
  /** the request body is larger than service.max_request_size_mb: 413 */
  | 'too_large'
  /** a bounded queue is full; retry later: 503 */
  | 'overloaded'
  /** the request's deadline passed: 408 (Qdrant's "Timeout") */
  | 'timeout'
  /** the node cannot serve this now (starting, shutting down, storage failed): 503 */
  | 'unavailable'
  /** the operation exists in the API but this node does not support it: 400 */
  | 'unsupported'
  /** storage I/O failed; the data already acknowledged is intact: 500 */
  | 'storage';

export class ShoalError extends Error {
  override readonly name = 'ShoalError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const badRequest = (message: string): ShoalError => new ShoalError('bad_request', message);
export const validationError = (message: string): ShoalError => new ShoalError('validation', message);
export const notFound = (message: string): ShoalError => new ShoalError('not_found', message);
export const conflict = (message: string): ShoalError => new ShoalError('conflict', message);
