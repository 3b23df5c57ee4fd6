// Shared pieces of the black-box tests: a seeded generator, raw HTTP calls whose bodies are
// validated against the OpenAPI spec, a fetch wrapper that validates every response the
// official client receives, and the server-plus-client lifecycle most suites share.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { QdrantClient } from '@qdrant/js-client-rest';
import { removeStorage, startServer, type ServerProcess } from './harness.js';
import { matchSpecPath, validateResponse, validateSchema } from './openapi.js';

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
export class Rand {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** k distinct items. */
  sample<T>(items: readonly T[], k: number): T[] {
    const copy = [...items];
    const out: T[] = [];
    while (out.length < k && copy.length > 0) out.push(copy.splice(Math.floor(this.next() * copy.length), 1)[0] as T);
    return out;
  }
  vector(dim: number): number[] {
    return Array.from({ length: dim }, () => Math.round((this.next() * 2 - 1) * 1000) / 1000);
  }
}

const LEGACY_SEARCH = /^\/collections\/[^/]+\/points\/search(\/batch)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The legacy search endpoints are not in the 1.19 spec: check their items as ScoredPoint. */
function validateLegacy(path: string, status: number, body: unknown): void {
  if (status !== 200) {
    validateResponse('GET', '/collections', 400, body); // the shared error envelope
    return;
  }
  if (!isRecord(body) || body['status'] !== 'ok' || typeof body['time'] !== 'number') {
    throw new Error(`${path}: not an ok envelope: ${JSON.stringify(body).slice(0, 300)}`);
  }
  const result = body['result'];
  if (!Array.isArray(result)) throw new Error(`${path}: result is not an array`);
  const lists: unknown[] = path.endsWith('/batch') ? result : [result];
  for (const list of lists) {
    if (!Array.isArray(list)) throw new Error(`${path}: batch item is not an array`);
    for (const point of list) validateSchema('ScoredPoint', point);
  }
}

/** Validates one response body; throws with a readable message when it does not fit the spec. */
export function validateBody(method: string, path: string, status: number, text: string): void {
  const body: unknown = JSON.parse(text);
  const bare = path.split('?')[0] ?? path;
  if (matchSpecPath(method, bare) === null && LEGACY_SEARCH.test(bare)) validateLegacy(bare, status, body);
  else validateResponse(method, bare, status, body);
}

const originalFetch: typeof fetch = globalThis.fetch;

export interface FetchValidator {
  /** Descriptions of every response that did not validate (empty when all were fine). */
  readonly violations: string[];
  /** Number of JSON responses validated. */
  count(): number;
  uninstall(): void;
}

function requestMethod(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): string {
  if (init?.method !== undefined) return init.method.toUpperCase();
  if (typeof input === 'object' && 'method' in input) return input.method.toUpperCase();
  return 'GET';
}

function requestUrl(input: Parameters<typeof fetch>[0]): URL {
  if (typeof input === 'string') return new URL(input);
  if (input instanceof URL) return input;
  return new URL(input.url);
}

/**
 * Wraps globalThis.fetch (which the official client calls) so that every JSON response body is
 * validated against the spec. Violations are collected, to be asserted empty after each test.
 */
export function installValidatingFetch(): FetchValidator {
  const violations: string[] = [];
  let validated = 0;
  const wrapped = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const response = await originalFetch(input, init);
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.includes('application/json')) return response;
    const method = requestMethod(input, init);
    const url = requestUrl(input);
    try {
      validated++;
      validateBody(method, url.pathname, response.status, await response.clone().text());
    } catch (error) {
      violations.push(`${method} ${url.pathname}: ${String(error)}`);
    }
    return response;
  };
  globalThis.fetch = wrapped as typeof fetch;
  return {
    violations,
    count: () => validated,
    uninstall: () => {
      globalThis.fetch = originalFetch;
    },
  };
}

/** What a client class is built from; both the current client and the 1.18 one fit. */
export type ClientClass<C> = new (params: { url: string; checkCompatibility: boolean }) => C;

export interface ServerOptions<C> {
  /** Extra environment variables for the server process (its configuration). */
  readonly env?: Record<string, string>;
  /** The client to drive the server with; the current @qdrant/js-client-rest by default. */
  readonly clientClass?: ClientClass<C>;
}

/** A running server for one test file; read the fields inside tests and hooks, not at load time. */
export interface UsedServer<C> {
  readonly server: ServerProcess;
  readonly client: C;
  readonly validator: FetchValidator;
  /** SIGKILL the server, start a new one on the same storage and connect a new client to it. */
  killAndRestart(): Promise<void>;
}

/**
 * Registers the hooks of a suite that drives one server through a client: start the server and
 * validate every response before the tests, find no spec violation after each test, and at the
 * end check that the validator saw the client's traffic, stop the server and remove its storage.
 */
export function useServer(options?: ServerOptions<QdrantClient>): UsedServer<QdrantClient>;
export function useServer<C>(options: ServerOptions<C> & { readonly clientClass: ClientClass<C> }): UsedServer<C>;
export function useServer<C>(options: ServerOptions<C> = {}): UsedServer<C> {
  // The overloads guarantee that without a clientClass, C is QdrantClient.
  const Client = options.clientClass ?? (QdrantClient as unknown as ClientClass<C>);
  let server: ServerProcess | undefined;
  let client: C | undefined;
  let validator: FetchValidator | undefined;
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`${name} is not there yet: use it inside a test or hook`);
    return value;
  };

  beforeAll(async () => {
    server = await startServer({ env: options.env });
    validator = installValidatingFetch();
    client = new Client({ url: server.url, checkCompatibility: false });
  });

  afterEach(() => {
    expect(started(validator, 'validator').violations).toEqual([]);
  });

  afterAll(async () => {
    // The wrapper must have seen the client's traffic, or the validation above proved nothing.
    expect(validator?.count()).toBeGreaterThan(3);
    validator?.uninstall();
    await server?.stop();
    if (server) removeStorage(server.storage);
  });

  return {
    get server() {
      return started(server, 'server');
    },
    get client() {
      return started(client, 'client');
    },
    get validator() {
      return started(validator, 'validator');
    },
    async killAndRestart() {
      const old = started(server, 'server');
      await old.kill();
      server = await startServer({ storage: old.storage, env: options.env });
      client = new Client({ url: server.url, checkCompatibility: false });
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly text: string;
  /** The parsed body (plain JSON.parse: big integers lose precision here; use `text` for them). */
  readonly json: unknown;
}

/**
 * One raw HTTP request. A string body is sent as is; anything else is JSON-encoded. A JSON
 * response body is validated against the spec (throws when it does not fit).
 */
export async function call(baseUrl: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await originalFetch(baseUrl + path, init);
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('application/json');
  if (isJson) validateBody(method, path, response.status, text);
  return { status: response.status, text, json: isJson ? (JSON.parse(text) as unknown) : text };
}

/** `result` of an ok envelope. */
export function resultOf<T>(response: RawResponse): T {
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${response.text.slice(0, 500)}`);
  return (response.json as { result: T }).result;
}

/** The HTTP status of a failed client call (the client throws on any non-2xx answer). */
export async function failureStatus(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (isRecord(error) && typeof error['status'] === 'number') return error['status'];
    if (error instanceof Error) {
      const match = /\b([45]\d\d)\b/.exec(error.message);
      if (match !== null) return Number(match[1]);
    }
    throw error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
