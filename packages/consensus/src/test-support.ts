import { createServer } from 'node:net';
import { GrpcTransport } from './grpc-transport.js';
import type { TransportLimits } from './limits.js';
import { LocalTransportHub } from './local-transport.js';
import type { Transport, TransportPeerId } from './transport.js';

/** A started transport and the address others reach it at. */
export interface OpenedTransport {
  readonly transport: Transport;
  readonly uri: string;
}

/** One implementation of Transport, as the shared suite drives it. */
export interface TransportFixture {
  /** Starts a transport for `id`, at `uri` when given (a restart on the same address). */
  open(id: TransportPeerId, uri?: string): Promise<OpenedTransport>;
  /** An address nobody listens at now, where open() can start a transport later. */
  vacantUri(): Promise<string>;
  /** Closes every transport this fixture opened. */
  dispose(): Promise<void>;
}

export type FixtureFactory = (limits: Partial<TransportLimits>) => TransportFixture;

export const grpcFixture: FixtureFactory = (limits) => {
  const opened: Transport[] = [];
  return {
    async open(id, uri) {
      const port = uri === undefined ? 0 : Number(new URL(uri).port);
      const transport = new GrpcTransport({ selfId: id, listen: `127.0.0.1:${port}`, limits });
      opened.push(transport);
      await transport.start();
      return { transport, uri: `http://127.0.0.1:${transport.port}` };
    },
    vacantUri: async () => `http://127.0.0.1:${await freePort()}`,
    async dispose() {
      await Promise.all(opened.map((transport) => transport.close()));
    },
  };
};

export const localFixture: FixtureFactory = (limits) => {
  const hub = new LocalTransportHub({ limits });
  const opened: Transport[] = [];
  let vacant = 0;
  return {
    async open(id, uri) {
      const transport = hub.transport(id, uri ?? `local://node-${id}`);
      opened.push(transport);
      await transport.start();
      return { transport, uri: transport.uri };
    },
    vacantUri: async () => `local://vacant-${++vacant}`,
    async dispose() {
      await Promise.all(opened.map((transport) => transport.close()));
    },
  };
};

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `condition` holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const text = (message: Uint8Array): string => Buffer.from(message).toString('utf8');
export const bytes = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'utf8'));
