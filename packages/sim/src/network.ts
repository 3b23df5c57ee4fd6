import { assert, type Rng } from '@shoal/common';
import type { MessageHandler, Transport, TransportPeerId, TransportStats } from '@shoal/consensus';

/**
 * The simulated network: every message sent through a SimTransport becomes an event at a
 * simulated time chosen by the world's Rng (delay, so messages reorder), or is dropped, or is
 * delivered twice. Links are cut per direction, so partitions can be halves, bridges (one node
 * reaching both sides) or one-way. Nothing here uses real time or timers.
 */

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicateRate: number;
  /** Delay bounds of one message, simulated milliseconds. */
  delayMsMin: number;
  delayMsMax: number;
  /** Probability that a message takes up to 10x delayMsMax (a slow path: deep reordering). */
  slowRate: number;
}

export const CALM_NETWORK: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 5, slowRate: 0 };

export interface InFlight {
  readonly from: TransportPeerId;
  readonly to: TransportPeerId;
  readonly bytes: Uint8Array;
  readonly atMs: number;
  /** Send order, so that simultaneous deliveries happen in a deterministic order. */
  readonly seq: number;
}

/** Called for every message a node hands to the network, before any fault applies. */
export type SendObserver = (from: TransportPeerId, to: TransportPeerId, bytes: Uint8Array) => void;

export class SimNetwork {
  faults: NetworkFaults = CALM_NETWORK;
  private queue: InFlight[] = [];
  private seq = 0;
  private readonly cut = new Set<string>();
  private readonly handlers = new Map<TransportPeerId, MessageHandler>();
  /** Messages held at most; beyond it the oldest are lost (a bounded network, as a real one). */
  private readonly inFlightMax = 5_000;
  sent = 0;
  dropped = 0;
  delivered = 0;

  constructor(
    private readonly rng: Rng,
    private readonly now: () => number,
    private readonly observe: SendObserver,
  ) {}

  transport(id: TransportPeerId): SimTransport {
    return new SimTransport(this, id);
  }

  setHandler(id: TransportPeerId, handler: MessageHandler): void {
    this.handlers.set(id, handler);
  }

  /** Removes `handler` unless a later incarnation of the node replaced it already. */
  clearHandler(id: TransportPeerId, handler: MessageHandler): void {
    if (this.handlers.get(id) === handler) this.handlers.delete(id);
  }

  setLink(from: TransportPeerId, to: TransportPeerId, up: boolean): void {
    if (up) this.cut.delete(`${from}>${to}`);
    else this.cut.add(`${from}>${to}`);
  }

  healAll(): void {
    this.cut.clear();
  }

  linkUp(from: TransportPeerId, to: TransportPeerId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  submit(from: TransportPeerId, to: TransportPeerId, bytes: Uint8Array): void {
    this.observe(from, to, bytes);
    this.sent += 1;
    const f = this.faults;
    if (this.rng.next() < f.dropRate) {
      this.dropped += 1;
      return;
    }
    const copies = this.rng.next() < f.duplicateRate ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      const slow = this.rng.next() < f.slowRate ? 10 : 1;
      const delay = f.delayMsMin + this.rng.int(Math.max(1, (f.delayMsMax - f.delayMsMin) * slow + 1));
      this.queue.push({ from, to, bytes: bytes.slice(), atMs: this.now() + delay, seq: this.seq++ });
    }
    if (this.queue.length > this.inFlightMax) {
      this.queue.sort(byTime);
      this.dropped += this.queue.length - this.inFlightMax;
      this.queue = this.queue.slice(this.queue.length - this.inFlightMax);
    }
  }

  /** Time of the next delivery, or undefined when nothing is in flight. */
  nextAtMs(): number | undefined {
    let best: InFlight | undefined;
    for (const m of this.queue) if (best === undefined || byTime(m, best) < 0) best = m;
    return best?.atMs;
  }

  /** Delivers every message due at or before now, in time order; returns how many arrived. */
  deliverDue(): number {
    const now = this.now();
    const due = this.queue.filter((m) => m.atMs <= now).sort(byTime);
    if (due.length === 0) return 0;
    this.queue = this.queue.filter((m) => m.atMs > now);
    let n = 0;
    for (const m of due) {
      // A cut link or a node that is down loses the message (it was on the wire).
      const handler = this.handlers.get(m.to);
      if (handler === undefined || !this.linkUp(m.from, m.to)) {
        this.dropped += 1;
        continue;
      }
      this.delivered += 1;
      n += 1;
      handler(m.from, m.bytes, { uri: `sim://${m.from}` });
    }
    return n;
  }

  /** Forgets messages to or from a node (its process died: its socket buffers are gone). */
  dropFor(id: TransportPeerId): void {
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  get inFlight(): number {
    return this.queue.length;
  }
}

function byTime(a: InFlight, b: InFlight): number {
  return a.atMs - b.atMs || a.seq - b.seq;
}

/** One node's end of the simulated network. */
export class SimTransport implements Transport {
  private closed = false;
  private handler: MessageHandler | undefined = undefined;
  private readonly peers = new Set<TransportPeerId>();

  constructor(
    private readonly net: SimNetwork,
    readonly selfId: TransportPeerId,
  ) {}

  async start(): Promise<void> {
    assert(!this.closed, 'SimTransport started after close()');
  }

  setPeer(id: TransportPeerId, _uri: string): void {
    this.peers.add(id);
  }

  removePeer(id: TransportPeerId): void {
    this.peers.delete(id);
  }

  send(to: TransportPeerId, message: Uint8Array): boolean {
    // As a real transport: nothing goes to a peer it was not told about.
    if (this.closed || !this.peers.has(to)) return false;
    this.net.submit(this.selfId, to, message);
    return true;
  }

  onMessage(handler: MessageHandler): void {
    if (this.closed) return;
    this.handler = handler;
    this.net.setHandler(this.selfId, handler);
  }

  stats(): TransportStats {
    return { sendFailures: new Map(), latestErrors: new Map(), queued: new Map(), dropped: new Map() };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.handler !== undefined) this.net.clearHandler(this.selfId, this.handler);
  }
}
