// A coordinator's clocks for one shard. A write leases an idle clock and tags itself with that
// clock's next tick, so the ticks of one clock reach every replica one write at a time, in order.
// A clock goes back to the pool only after every replica it was sent to acknowledged the write;
// after any other outcome (a replica failed or timed out, refused as stale, the deadline, an
// error) it is retired and never leased again: a replica that missed tick n then never sees
// tick n + 1 of that clock as if nothing were missing. Clock ids are cheap: a new one comes from
// a counter whenever no idle clock is there.
import type { ClockTag } from '@shoal/shard';

/** Who issues the tags: this node's peer id and its boot epoch. */
export interface ClockOrigin {
  readonly peer: number;
  readonly epoch: number;
}

export interface ClockLease {
  readonly tag: ClockTag;
  /** Every replica the write went to acknowledged it: the clock may carry the next write. */
  release(): void;
  /** Anything else: the clock is never used again. */
  retire(): void;
}

export class ClockPool {
  private readonly idle: Array<{ readonly id: number; readonly tick: number }> = [];
  private nextId = 1;
  private retiredCount = 0;

  constructor(private readonly origin: ClockOrigin) {}

  lease(): ClockLease {
    const clock = this.idle.pop() ?? { id: this.nextId++, tick: 0 };
    const tag: ClockTag = { peer: this.origin.peer, epoch: this.origin.epoch, clock: clock.id, tick: clock.tick + 1 };
    let settled = false;
    return {
      tag,
      release: () => {
        if (settled) return;
        settled = true;
        this.idle.push({ id: tag.clock, tick: tag.tick });
      },
      retire: () => {
        if (settled) return;
        settled = true;
        this.retiredCount++;
      },
    };
  }

  /** Clocks retired so far (tests, metrics). */
  get retired(): number {
    return this.retiredCount;
  }

  /** Clocks waiting for a write. */
  get idleCount(): number {
    return this.idle.length;
  }
}
