import { assert, ShoalError } from '@shoal/common';
import { transportLimits, type TransportLimits } from './limits.js';
import { linkStats, PeerLink, type Deliver } from './peer-link.js';
import {
  checkPeerId,
  type MessageHandler,
  type MessageOrigin,
  type Transport,
  type TransportPeerId,
  type TransportStats,
} from './transport.js';

export interface LocalTransportHubOptions {
  readonly limits?: Partial<TransportLimits>;
  /** Wall clock for the time of the latest send error. */
  readonly nowMs?: () => number;
}

/**
 * An in-process network for tests of the layers above the transport: every transport made by
 * one hub reaches the others by URI, with the same queues, bounds, batching, ordering and
 * back-off as GrpcTransport (both use PeerLink), and without sockets. A transport that is not
 * started, or closed, is a peer that is down; setLinkUp cuts one direction of one pair.
 */
export class LocalTransportHub {
  readonly limits: TransportLimits;
  readonly nowMs: () => number;
  private readonly live = new Map<string, LocalTransport>();
  private readonly cutLinks = new Set<string>();

  constructor(options: LocalTransportHubOptions = {}) {
    this.limits = transportLimits(options.limits);
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** A transport for peer `selfId`, reachable at `uri` once started. */
  transport(selfId: TransportPeerId, uri = `local://${selfId}`): LocalTransport {
    return new LocalTransport(this, checkPeerId(selfId), uri);
  }

  /** Cuts (false) or heals (true) the direction from -> to: its batches fail as if `to` were down. */
  setLinkUp(from: TransportPeerId, to: TransportPeerId, up: boolean): void {
    if (up) this.cutLinks.delete(`${from}>${to}`);
    else this.cutLinks.add(`${from}>${to}`);
  }

  /** @internal */
  listen(transport: LocalTransport): void {
    if (this.live.has(transport.uri)) throw new ShoalError('unavailable', `address ${transport.uri} is in use`);
    this.live.set(transport.uri, transport);
  }

  /** @internal */
  unlisten(transport: LocalTransport): void {
    if (this.live.get(transport.uri) === transport) this.live.delete(transport.uri);
  }

  /** @internal The transport listening at `uri`, if the link from `from` to it is up. */
  reach(from: TransportPeerId, uri: string): LocalTransport | undefined {
    const target = this.live.get(uri);
    return target === undefined || this.cutLinks.has(`${from}>${target.selfId}`) ? undefined : target;
  }
}

interface LocalPeer {
  uri: string;
  readonly link: PeerLink;
}

export class LocalTransport implements Transport {
  private readonly peers = new Map<TransportPeerId, LocalPeer>();
  private handler: MessageHandler | null = null;
  private started = false;
  private closed = false;

  constructor(
    private readonly hub: LocalTransportHub,
    readonly selfId: TransportPeerId,
    readonly uri: string,
  ) {}

  async start(): Promise<void> {
    assert(!this.started && !this.closed, 'LocalTransport started twice or after close()');
    this.hub.listen(this);
    this.started = true;
  }

  setPeer(id: TransportPeerId, uri: string): void {
    checkPeerId(id);
    if (id === this.selfId) throw new ShoalError('validation', `peer ${id} is this node`);
    if (this.closed) return;
    const peer = this.peers.get(id);
    if (peer === undefined) {
      this.peers.set(id, { uri, link: new PeerLink(this.hub.limits, this.deliverTo(id), this.hub.nowMs) });
    } else if (peer.uri !== uri) {
      peer.uri = uri;
      peer.link.retryNow();
    }
  }

  removePeer(id: TransportPeerId): void {
    this.peers.get(id)?.link.close();
    this.peers.delete(id);
  }

  send(to: TransportPeerId, message: Uint8Array): boolean {
    const peer = this.closed ? undefined : this.peers.get(to);
    return peer !== undefined && peer.link.offer(message);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  stats(): TransportStats {
    return linkStats([...this.peers].map(([id, peer]) => [id, peer.link] as const));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.unlisten(this);
    for (const peer of this.peers.values()) peer.link.close();
    this.peers.clear();
  }

  /** @internal Messages of one batch, in order. */
  receive(from: TransportPeerId, messages: readonly Uint8Array[], origin: MessageOrigin): void {
    const handler = this.handler;
    if (handler !== null) for (const message of messages) handler(from, message, origin);
  }

  private deliverTo(id: TransportPeerId): Deliver {
    return (messages, done) => {
      // A macrotask later, as a network would: a handler never runs inside the sender's send().
      setImmediate(() => {
        const uri = this.peers.get(id)?.uri;
        const target = uri === undefined ? undefined : this.hub.reach(this.selfId, uri);
        if (target === undefined) {
          done({ message: `UNAVAILABLE: peer ${id} unreachable at ${uri ?? '?'}`, retry: true });
        } else if (target.selfId !== id) {
          done({ message: `FAILED_PRECONDITION: batch for peer ${id} reached peer ${target.selfId}`, retry: false });
        } else {
          target.receive(this.selfId, messages.map(copy), { uri: this.uri });
          done(null);
        }
      });
    };
  }
}

// The receiver gets its own bytes, as over a wire: what it does with them never reaches the sender.
const copy = (message: Uint8Array): Uint8Array => message.slice();
