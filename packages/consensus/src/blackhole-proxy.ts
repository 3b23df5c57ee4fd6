import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay for tests that can go silent without closing anything, as a partitioned or frozen
 * peer does: while `silent`, bytes in both directions are swallowed and no reset is sent.
 */
export class BlackholeProxy {
  silent = false;
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.relay(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }

  private relay(client: Socket): void {
    this.connections += 1;
    const upstream = connect(this.targetPort, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(from);
      from.on('data', (chunk) => void (this.silent || to.write(chunk)));
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }
}
