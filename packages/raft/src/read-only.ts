import { assert } from '@shoal/common';
import type { LogIndex, PeerId } from './types.js';

export interface ReadRequest {
  readonly context: string;
  /** The commit index when the request arrived: the read is served once it is applied. */
  readonly index: LogIndex;
  /** Who asked: the leader itself, or the follower that forwarded it. */
  readonly from: PeerId;
  readonly acks: Set<PeerId>;
}

/**
 * ReadIndex requests on a leader waiting for a heartbeat round to confirm that it is still the
 * leader. Requests are confirmed in arrival order: an ack for a later request confirms every
 * earlier one (the heartbeat carrying it was sent after them).
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private readonly queue: string[] = [];

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.queue.length;
  }

  full(): boolean {
    return this.queue.length >= this.capacity;
  }

  has(context: string): boolean {
    return this.pending.has(context);
  }

  add(context: string, index: LogIndex, from: PeerId, self: PeerId): void {
    assert(context !== '', 'read context must be non-empty');
    assert(!this.pending.has(context) && !this.full(), 'read request not admissible');
    this.pending.set(context, { context, index, from, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records an ack for `context`; returns its acks, or undefined for an unknown context. */
  recvAck(from: PeerId, context: string): ReadonlySet<PeerId> | undefined {
    const req = this.pending.get(context);
    if (req === undefined) return undefined;
    req.acks.add(from);
    return req.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  advance(context: string): ReadRequest[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    return done.map((c) => {
      const req = this.pending.get(c);
      assert(req !== undefined, 'read queue and map disagree');
      this.pending.delete(c);
      return req;
    });
  }

  lastPendingContext(): string {
    return this.queue[this.queue.length - 1] ?? '';
  }
}
