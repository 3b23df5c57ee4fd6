// linearizable=true on metadata reads (a Shoal extension): accepted on every metadata read route
// of a standalone node, where it changes nothing; any value but true / false is a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStorage, startServer, type ServerProcess } from './harness.js';
import { call, resultOf } from './support.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
  resultOf(await call(server.url, 'PUT', '/collections/books', { vectors: { size: 2, distance: 'Dot' } }));
  resultOf(await call(server.url, 'POST', '/collections/aliases', { actions: [{ create_alias: { collection_name: 'books', alias_name: 'library' } }] }));
});

afterAll(async () => {
  await server.stop();
  removeStorage(server.storage);
});

const ROUTES = ['/collections', '/collections/books', '/collections/books/exists', '/aliases', '/collections/books/aliases'];

describe('linearizable metadata reads on a standalone node', () => {
  it('answers each route the same with linearizable=true, =false and without it', async () => {
    for (const path of ROUTES) {
      const plain = resultOf<unknown>(await call(server.url, 'GET', path));
      for (const value of ['true', 'false']) {
        const r = await call(server.url, 'GET', `${path}?linearizable=${value}`);
        expect(r.status, `${path}?linearizable=${value}: ${r.text}`).toBe(200);
        const result = resultOf<unknown>(r);
        // Collection info carries live counters; the rest must be identical.
        if (path === '/collections/books') expect((result as { config: unknown }).config).toEqual((plain as { config: unknown }).config);
        else expect(result).toEqual(plain);
      }
    }
    expect(resultOf(await call(server.url, 'GET', '/aliases?linearizable=true'))).toEqual({ aliases: [{ alias_name: 'library', collection_name: 'books' }] });
    expect(resultOf(await call(server.url, 'GET', '/collections/library/exists?linearizable=true'))).toEqual({ exists: true });
    expect(resultOf(await call(server.url, 'GET', '/collections/nope/exists?linearizable=true'))).toEqual({ exists: false });
  });

  it('keeps the 404 of an unknown collection with linearizable=true', async () => {
    for (const path of ['/collections/nope', '/collections/nope/aliases']) {
      const r = await call(server.url, 'GET', `${path}?linearizable=true`);
      expect(r.status).toBe(404);
      expect((r.json as { status: { error: string } }).status.error).toContain('nope');
    }
  });

  it('refuses a value other than true or false with 400 in the error envelope', async () => {
    for (const path of ROUTES) {
      for (const value of ['yes', '1', 'TRUE']) {
        const r = await call(server.url, 'GET', `${path}?linearizable=${value}`);
        expect(r.status, `${path}?linearizable=${value}`).toBe(400);
        const body = r.json as { status: { error: string }; time: number };
        expect(body.status.error).toContain('linearizable');
        expect(typeof body.time).toBe('number');
      }
    }
  });
});
