// The ordered queue of one transfer, from its source to its target: batches of copied points and
// forwarded writes, numbered in queue order and sent in unary calls, one in flight, several
// queued messages per call. A call that fails is sent again with the same numbers (the target
// applies each number once); one that keeps failing, or that the target refuses, fails the
// channel, and the transfer is aborted.
import type { PointOperation } from '@shoal/common';
import type { ClockTag } from '@shoal/shard';
import type { Forwarder, ForwardSlot } from './replica-adapter.js';

/** Sends messages `firstSeq ..` to the target; rejects when they may not have arrived. */
export type TransferSend = (firstSeq: number, ops: readonly EncodedOp[]) => Promise<void>;

/** An operation and its encoded bytes (the encoding is done once, when queued); op null: the applied-ticks seed. */
export interface EncodedOp {
  readonly op: PointOperation | null;
  readonly bytes: Uint8Array;
  /** A batch of copied points or a piece of a shard archive (not a forwarded write): what the test hook may hold back. */
  readonly copied: boolean;
  /** A piece or the end of a shard archive (`snapshot` transfers). */
  readonly archive?: boolean;
}

/** Refused by the target: sending again cannot help. */
export class TransferRefused extends Error {}

export interface ChannelOptions {
  readonly send: TransferSend;
  /** A point operation as a message (with the forwarded write's clock tag). */
  readonly encode: (op: PointOperation, tag: ClockTag | null) => Uint8Array;
  /** The source's applied ticks as a message (the first one sent); absent: no seed is sent. */
  readonly encodeTicks?: (ticks: readonly ClockTag[]) => Uint8Array;
  /** Most bytes of messages in one call (one message larger than this goes alone). */
  readonly callBytesMax: number;
  /** Most messages in one call. */
  readonly callMessagesMax: number;
  /** Sends of one call before the channel fails. */
  readonly callAttemptsMax: number;
  /** Pause before sending a failed call again, ms (doubles per attempt). */
  readonly retryPauseMs: number;
  /** Called before each call with the messages it carries (a test hook may wait here). */
  readonly beforeSend?: (ops: readonly EncodedOp[]) => Promise<void>;
}

interface Item {
  state: 'reserved' | 'ready' | 'skipped';
  message: EncodedOp | null;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class TransferChannel implements Forwarder {
  private readonly queue: Item[] = [];
  private nextSeq = 1;
  private sending = false;
  private failure: unknown = null;
  private ended = false;
  private failedListeners: Array<(error: unknown) => void> = [];
  /** Messages the target acknowledged. */
  acked = 0;

  constructor(private readonly options: ChannelOptions) {}

  reserve(): ForwardSlot {
    const item = this.newItem();
    this.queue.push(item);
    return {
      fill: (op, tag = null) => {
        if (item.state === 'reserved') {
          item.message = { op, bytes: this.options.encode(op, tag), copied: false };
          item.state = 'ready';
          this.pump();
        }
        return item.done;
      },
      skip: () => {
        if (item.state !== 'reserved') return;
        item.state = 'skipped';
        item.resolve();
        this.pump();
      },
    };
  }

  /**
   * Queues the source's applied ticks (called in the locked step that starts forwarding, so it
   * precedes every forwarded write); resolves once the target installed it.
   */
  enqueueTicks(ticks: readonly ClockTag[]): Promise<void> {
    const encode = this.options.encodeTicks;
    if (encode === undefined) return Promise.resolve();
    return this.enqueue({ op: null, bytes: encode(ticks), copied: false });
  }

  /** Queues a batch of copied points; resolves once the target applied it. */
  enqueueCopy(op: PointOperation): Promise<void> {
    return this.enqueue({ op, bytes: this.options.encode(op, null), copied: true });
  }

  /**
   * Queues a message already encoded (a record of the source's WAL, `wal_delta`); resolves once
   * the target applied it (rejects if the channel failed, like a copied batch).
   */
  enqueueEncoded(bytes: Uint8Array): Promise<void> {
    return this.enqueue({ op: null, bytes, copied: true });
  }

  /**
   * Reserves the next `count` places in the queue for messages encoded later (a `wal_delta`
   * source reserves its WAL's tail in the locked step that starts forwarding, and reads it after
   * the lock is released): `fill` gives the next of them, in order, as they are read; `done`
   * resolves once the target applied all of them, and rejects if the channel failed.
   */
  reserveEncoded(count: number): { readonly fill: (messages: readonly Uint8Array[]) => void; readonly done: Promise<void> } {
    const items = Array.from({ length: count }, () => this.newItem());
    this.queue.push(...items);
    let next = 0;
    const done = this.acknowledged(items);
    done.catch(() => undefined);
    return {
      fill: (messages) => {
        if (next + messages.length > count) throw new Error(`${count} places were reserved, ${next + messages.length} messages came`);
        for (const bytes of messages) {
          const item = items[next++]!;
          if (item.state !== 'reserved') continue;
          item.message = { op: null, bytes, copied: true };
          item.state = 'ready';
        }
        this.pump();
      },
      done,
    };
  }

  /**
   * Queues a piece (or the end) of a shard archive, already encoded as a message; resolves once
   * the target took it (rejects if the channel failed, like a copied batch).
   */
  enqueueArchive(bytes: Uint8Array): Promise<void> {
    return this.enqueue({ op: null, bytes, copied: true, archive: true });
  }

  /** Resolves once everything queued so far was acknowledged; rejects if the channel failed. */
  flush(): Promise<void> {
    return this.acknowledged(this.queue);
  }

  /** Resolves once every one of `items` was acknowledged (or the channel ended); rejects if the channel failed. */
  private acknowledged(items: readonly Item[]): Promise<void> {
    const all = Promise.all(items.map((item) => item.done));
    return new Promise<void>((resolve, reject) => {
      this.onFailed(reject);
      all.then(() => resolve(), reject);
    });
  }

  /** Calls `listener` once if the channel fails. */
  onFailed(listener: (error: unknown) => void): void {
    if (this.failure !== null) listener(this.failure);
    else this.failedListeners.push(listener);
  }

  /**
   * The transfer ended (finished, aborted, restarted): nothing more is sent, and what waits is
   * released. A write waiting for its forwarded copy returns: it is applied on the source, and the
   * target either has it or is no longer a replica that counts.
   */
  end(): void {
    this.ended = true;
    for (const item of this.queue.splice(0)) item.resolve();
  }

  /** Queues a message ready to send; resolves once the target acknowledged it. */
  private enqueue(message: EncodedOp): Promise<void> {
    const item = this.newItem();
    item.message = message;
    item.state = 'ready';
    this.queue.push(item);
    this.pump();
    return item.done;
  }

  private newItem(): Item {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A copy batch's rejection is awaited by the copier; a forwarded write only ever resolves.
    done.catch(() => undefined);
    return { state: 'reserved', message: null, done, resolve, reject };
  }

  /** Sends the ready messages at the head of the queue, one call at a time. */
  private pump(): void {
    if (this.sending || this.ended || this.failure !== null) return;
    while (this.queue[0]?.state === 'skipped') this.queue.shift();
    const batch: Item[] = [];
    let bytes = 0;
    for (const item of this.queue) {
      if (item.state === 'skipped') continue;
      if (item.state !== 'ready') break;
      const size = item.message!.bytes.length;
      if (batch.length > 0 && (bytes + size > this.options.callBytesMax || batch.length >= this.options.callMessagesMax)) break;
      batch.push(item);
      bytes += size;
    }
    if (batch.length === 0) return;
    this.sending = true;
    void this.sendCall(batch).finally(() => {
      this.sending = false;
      this.pump();
    });
  }

  private async sendCall(batch: readonly Item[]): Promise<void> {
    const firstSeq = this.nextSeq;
    const messages = batch.map((item) => item.message!);
    await this.options.beforeSend?.(messages);
    let pause = this.options.retryPauseMs;
    for (let attempt = 1; ; attempt++) {
      if (this.ended) return;
      try {
        await this.options.send(firstSeq, messages);
        break;
      } catch (error) {
        if (error instanceof TransferRefused || attempt >= this.options.callAttemptsMax) return this.fail(error);
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause *= 2;
      }
    }
    this.nextSeq += batch.length;
    this.acked += batch.length;
    for (const item of batch) {
      const at = this.queue.indexOf(item);
      if (at >= 0) this.queue.splice(at, 1);
      item.resolve();
    }
  }

  private fail(error: unknown): void {
    this.failure = error;
    // Copy batches fail with it; forwarded writes keep waiting for the transfer to end (abort).
    for (const item of this.queue) if (item.message?.copied === true) item.reject(error);
    for (const listener of this.failedListeners.splice(0)) listener(error);
  }
}
