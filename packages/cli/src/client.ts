// REST calls to one node: Qdrant's envelope in, its `result` out, its error message as an
// ApiError. Bodies are written and read with the exact JSON codec so u64 ids keep every digit.
import { decodeJson, encodeJson } from '@shoal/common';
import { ERROR_BODY_CHARS_MAX, REQUEST_TIMEOUT_MS } from './limits.js';

/** The node refused the request or could not be reached; the message is for the user. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    /** HTTP status, or null when no response arrived. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Base URL of any node's REST API, e.g. http://127.0.0.1:6333. */
  readonly url: string;
  /** Sent as the `api-key` header when set. */
  readonly apiKey: string | null;
  readonly fetch: Fetch;
  readonly requestTimeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | undefined>;

export class RestClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  get(path: string, query?: Query): Promise<unknown> {
    return this.call('GET', path, query, undefined);
  }

  post(path: string, body: unknown, query?: Query): Promise<unknown> {
    return this.call('POST', path, query, body);
  }

  put(path: string, body: unknown, query?: Query): Promise<unknown> {
    return this.call('PUT', path, query, body);
  }

  delete(path: string, query?: Query): Promise<unknown> {
    return this.call('DELETE', path, query, undefined);
  }

  /** Sends one request; resolves to the envelope's `result`. */
  async call(method: string, path: string, query: Query | undefined, body: unknown): Promise<unknown> {
    const target = `${this.base}${path}${queryString(query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.apiKey !== null) headers['api-key'] = this.options.apiKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.options.fetch(target, {
        method,
        headers,
        ...(body === undefined ? {} : { body: encodeJson(body).text }),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ApiError(`cannot reach ${this.base} (${method} ${path}): ${networkReason(error)}`, null);
    }
    const text = await response.text();
    const envelope = parseEnvelope(text);
    if (!response.ok) throw new ApiError(errorMessage(response, envelope, text), response.status);
    if (envelope === null || !('result' in envelope)) {
      throw new ApiError(`${method} ${path}: the node answered ${response.status} without a JSON result: ${clip(text)}`, response.status);
    }
    return envelope['result'];
  }
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function parseEnvelope(text: string): Record<string, unknown> | null {
  try {
    const value = decodeJson(text, { errorKind: 'storage' });
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Qdrant's `{"status": {"error": "..."}}`, else the status line and the start of the body. */
function errorMessage(response: Response, envelope: Record<string, unknown> | null, text: string): string {
  const status = envelope?.['status'];
  if (typeof status === 'object' && status !== null && typeof (status as Record<string, unknown>)['error'] === 'string') {
    return (status as Record<string, string>)['error']!;
  }
  const body = clip(text);
  return `HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}${body === '' ? '' : `: ${body}`}`;
}

function clip(text: string): string {
  const flat = text.trim().replace(/\s+/g, ' ');
  return flat.length > ERROR_BODY_CHARS_MAX ? `${flat.slice(0, ERROR_BODY_CHARS_MAX)}…` : flat;
}

/** ECONNREFUSED, a timeout, a DNS failure: the innermost cause says it best. */
function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause !== undefined) cause = cause.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === undefined || cause.message.includes(code)) return cause.message || 'connection failed';
    return cause.message === '' ? code : `${code}: ${cause.message}`;
  }
  return String(cause);
}

/** /collections/{name} with the name escaped. */
export function collectionPath(name: string, rest = ''): string {
  return `/collections/${encodeURIComponent(name)}${rest}`;
}
