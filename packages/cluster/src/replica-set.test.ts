import { describe, expect, it } from 'vitest';
import { ShoalError, type PointOperation, type Record_ } from '@shoal/common';
import type { ReplicaMeta, ReplicaState, ShardMeta, ShardTransfer } from '@shoal/meta';
import type { ApplyResult } from '@shoal/segment';
import { resolveById, resolveCount } from './merge.js';
import { isRefusal, ReplicaSet, type DeadMarkOutcome, type FailedReplica, type ReplicaSetHost, type WritePolicy } from './replica-set.js';
import { ReplicaUnreachable, type CallContext, type LeadOrdering, type ShardReplica } from './shard-replica.js';

type Behaviour = 'ok' | 'unreachable' | 'refuse' | 'overloaded' | 'too_large' | 'storage' | 'hang';

/** A replica that records what it was sent and answers as told. */
class FakeReplica implements Partial<ShardReplica> {
  readonly local: boolean;
  readonly writes: Array<{ op: PointOperation; lead: LeadOrdering | null }> = [];
  behaviour: Behaviour = 'ok';
  records: Record_[] = [];
  countValue = 0;

  constructor(readonly peer: number, self: number) {
    this.local = peer === self;
  }

  private answer<T>(value: T, ctx: CallContext): Promise<T> {
    if (this.behaviour === 'unreachable') return Promise.reject(new ReplicaUnreachable(this.peer, false, `peer ${this.peer} is down`));
    if (this.behaviour === 'refuse') return Promise.reject(new ShoalError('bad_request', 'Bad request: no'));
    if (this.behaviour === 'overloaded') return Promise.reject(new ShoalError('overloaded', `WAL of peer ${this.peer}: too many writes waiting`));
    if (this.behaviour === 'too_large') return Promise.reject(new ShoalError('too_large', 'WAL record too large'));
    if (this.behaviour === 'storage') return Promise.reject(new ShoalError('storage', 'disk failed'));
    if (this.behaviour === 'hang') {
      return new Promise((_resolve, reject) => setTimeout(() => reject(new ReplicaUnreachable(this.peer, true, 'timeout')), Math.max(0, ctx.deadlineMs - performance.now())));
    }
    return Promise.resolve(value);
  }

  update(op: PointOperation, lead: LeadOrdering | null, ctx: CallContext): Promise<ApplyResult> {
    if (this.behaviour === 'ok') this.writes.push({ op, lead });
    return this.answer({ ok: true }, ctx);
  }

  retrieve(_ids: unknown, _p: unknown, _v: unknown, ctx: CallContext): Promise<Record_[]> {
    return this.answer(this.records, ctx);
  }

  count(_filter: unknown, ctx: CallContext): Promise<number> {
    return this.answer(this.countValue, ctx);
  }
}

interface Fixture {
  readonly set: ReplicaSet;
  readonly replicas: Map<number, FakeReplica>;
  readonly marks: FailedReplica[][];
  shard: ShardMeta;
  transfers: ShardTransfer[];
  markOutcome: DeadMarkOutcome;
  /** Runs when a mark is proposed: what else the metadata committed before the mark applied here. */
  onMark?: () => void;
}

function fixture(states: ReplicaState[], self = 1): Fixture {
  const replicas = new Map<number, FakeReplica>();
  const list: ReplicaMeta[] = states.map((state, i) => ({ peer: i + 1, state, generation: 5 }));
  for (const r of list) replicas.set(r.peer, new FakeReplica(r.peer, self));
  const f: Fixture = { set: undefined as unknown as ReplicaSet, replicas, marks: [], shard: { id: 0, key: null, replicas: list }, transfers: [], markOutcome: 'done' };
  const host: ReplicaSetHost = {
    isLocal: (peer) => peer === self,
    shard: () => f.shard,
    transfers: () => f.transfers,
    metaIndex: () => 1,
    catchUpTo: async () => undefined,
    replica: (peer) => replicas.get(peer) as unknown as ShardReplica,
    markDead: async (failed: readonly FailedReplica[]) => {
      f.marks.push([...failed]);
      f.onMark?.();
      return f.markOutcome;
    },
    backgroundFailure: () => undefined,
  };
  (f as { set: ReplicaSet }).set = new ReplicaSet(0, host);
  return f;
}

const OP: PointOperation = { kind: 'delete_points', selector: { kind: 'ids', ids: [1] } };
const ctx = (ms = 2000): CallContext => ({ deadlineMs: performance.now() + ms });
const policy = (wcf: number, extra: Partial<WritePolicy> = {}): WritePolicy => ({ writeConsistencyFactor: wcf, ordering: 'weak', wait: true, ...extra });

async function failure(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('ReplicaSet writes', () => {
  it('sends to every replica that takes writes, skips Dead ones, and marks a failed one Dead before answering', async () => {
    const f = fixture(['Active', 'Active', 'Partial', 'Dead']);
    f.replicas.get(2)!.behaviour = 'unreachable';
    expect(await f.set.write(OP, policy(1), ctx())).toEqual({ ok: true });
    expect([1, 2, 3, 4].map((p) => f.replicas.get(p)!.writes.length)).toEqual([1, 0, 1, 0]);
    expect(f.marks.map((m) => m.map((r) => [r.peer, r.replica.state, r.replica.generation]))).toEqual([[[2, 'Active', 5]]]);
  });

  it('sends the write again when a transfer finished while its source failed on it (the new replica would lack it)', async () => {
    // Peer 1 is the Partial target of a transfer from peer 2; this node (3) routes a write to 2 and 3.
    const f = fixture(['Partial', 'Active', 'Active'], 3);
    f.transfers = [{ shard: 0, from: 2, to: 1, sync: true, method: 'stream_records', startedIndex: 5, sourceGeneration: 5, createdTarget: false }];
    f.replicas.get(2)!.behaviour = 'unreachable';
    // Before the Dead mark of 2 applied here, the transfer finished: 1 is Active, and nobody sent it the write.
    f.onMark = () => {
      f.transfers = [];
      f.shard = { ...f.shard, replicas: [{ peer: 1, state: 'Active', generation: 9 }, { peer: 2, state: 'Dead', generation: 10 }, { peer: 3, state: 'Active', generation: 5 }] };
      f.onMark = undefined;
    };
    expect(await f.set.write(OP, policy(2), ctx())).toEqual({ ok: true });
    expect([1, 2, 3].map((p) => f.replicas.get(p)!.writes.length)).toEqual([1, 0, 2]);
    // Without the second round the write would have failed (1 Active ack) and left 1 without it.
  });

  it('fails the write when the Dead mark does not commit in time, or is refused', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(2)!.behaviour = 'unreachable';
    f.markOutcome = 'timeout';
    expect(await failure(() => f.set.write(OP, policy(1), ctx()))).toMatch(/could not be marked Dead \(the change was not committed in time\)/);
    f.markOutcome = 'refused';
    expect(await failure(() => f.set.write(OP, policy(1), ctx()))).toMatch(/without an Active replica/);
  });

  it('needs write_consistency_factor acknowledgements from Active replicas, and still marks the replicas that missed it', async () => {
    const f = fixture(['Active', 'Active', 'Active']);
    f.replicas.get(2)!.behaviour = 'unreachable';
    f.replicas.get(3)!.behaviour = 'hang';
    expect(await failure(() => f.set.write(OP, policy(2), ctx(100)))).toMatch(/applied on 1 Active replicas.*needs 2/);
    expect(f.marks.flat().map((r) => r.peer).sort()).toEqual([2, 3]);
    // A Partial acknowledgement does not count.
    const g = fixture(['Active', 'Partial']);
    expect(await failure(() => g.set.write(OP, policy(2), ctx()))).toMatch(/has 1 Active replicas, write_consistency_factor needs 2/);
  });

  it('with no acknowledgement at all, fails without marking anyone', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(1)!.behaviour = 'unreachable';
    f.replicas.get(2)!.behaviour = 'unreachable';
    expect(await failure(() => f.set.write(OP, policy(1), ctx()))).toMatch(/is down/);
    expect(f.marks).toEqual([]);
  });

  it('wait=false answers after the local replica, the others follow', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(2)!.behaviour = 'hang';
    expect(await f.set.write(OP, policy(1, { wait: false }), ctx(50))).toEqual({ ok: true });
    expect(f.marks).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(f.marks.flat().map((r) => r.peer)).toEqual([2]);
  });

  it('a write every replica refuses (bad input, too large, overloaded) returns the refusal and marks nobody Dead', async () => {
    for (const refusal of ['refuse', 'too_large', 'overloaded'] as const) {
      const f = fixture(['Active', 'Active', 'Active']);
      for (const r of f.replicas.values()) r.behaviour = refusal;
      let caught: unknown;
      await f.set.write(OP, policy(2), ctx()).catch((error: unknown) => (caught = error));
      expect(caught, refusal).toBeInstanceOf(ShoalError);
      expect((caught as ShoalError).kind).toBe(refusal === 'refuse' ? 'bad_request' : refusal);
      expect(f.marks, refusal).toEqual([]);
    }
  });

  it('a refusal is the answer over an unreachable replica when no replica applied the write; nobody is marked', async () => {
    for (const wait of [true, false]) {
      const f = fixture(['Active', 'Active', 'Active']);
      f.replicas.get(1)!.behaviour = 'unreachable';
      f.replicas.get(2)!.behaviour = 'overloaded';
      f.replicas.get(3)!.behaviour = 'unreachable';
      let caught: unknown;
      await f.set.write(OP, policy(1, { wait }), ctx()).catch((error: unknown) => (caught = error));
      expect((caught as ShoalError).kind, `wait=${wait}`).toBe('overloaded');
      expect(f.marks).toEqual([]);
    }
  });

  it('a replica that refused a write other replicas applied is marked Dead, so it recovers instead of staying behind', async () => {
    const f = fixture(['Active', 'Active', 'Active']);
    f.replicas.get(3)!.behaviour = 'overloaded';
    expect(await f.set.write(OP, policy(2), ctx())).toEqual({ ok: true });
    expect(f.marks.flat().map((r) => r.peer)).toEqual([3]);
    // Failures other than refusals mark Dead as before.
    const g = fixture(['Active', 'Active', 'Active']);
    g.replicas.get(2)!.behaviour = 'storage';
    expect(await g.set.write(OP, policy(2), ctx())).toEqual({ ok: true });
    expect(g.marks.flat().map((r) => r.peer)).toEqual([2]);
  });

  it('wait=false whose local replica refused waits for the others: a write they applied marks the local replica Dead', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(1)!.behaviour = 'overloaded';
    expect(await f.set.write(OP, policy(1, { wait: false }), ctx())).toEqual({ ok: true });
    expect(f.replicas.get(2)!.writes).toHaveLength(1);
    expect(f.marks.flat().map((r) => r.peer)).toEqual([1]);
    // Nobody took it: the local refusal is the answer.
    const g = fixture(['Active', 'Active']);
    g.replicas.get(1)!.behaviour = 'overloaded';
    g.replicas.get(2)!.behaviour = 'overloaded';
    expect(await failure(() => g.set.write(OP, policy(1, { wait: false }), ctx()))).toMatch(/too many writes waiting/);
    expect(g.marks).toEqual([]);
  });

  it('classifies refusals and failures', () => {
    for (const kind of ['bad_request', 'validation', 'conflict', 'too_large', 'overloaded', 'unsupported'] as const) expect(isRefusal(new ShoalError(kind, 'x')), kind).toBe(true);
    for (const kind of ['not_found', 'timeout', 'unavailable', 'storage'] as const) expect(isRefusal(new ShoalError(kind, 'x')), kind).toBe(false);
    expect(isRefusal(new ReplicaUnreachable(2, true, 'timeout'))).toBe(false);
    expect(isRefusal(new Error('defect'))).toBe(false);
  });

  it('strong ordering goes through the replica on the highest peer id; medium through the highest Active one that answers', async () => {
    const f = fixture(['Active', 'Active', 'Active'], 1);
    await f.set.write(OP, policy(1, { ordering: 'strong' }), ctx());
    expect(f.replicas.get(3)!.writes).toEqual([{ op: OP, lead: 'strong' }]);
    expect(f.replicas.get(2)!.writes).toEqual([]);
    f.replicas.get(3)!.behaviour = 'unreachable';
    expect(await failure(() => f.set.write(OP, policy(1, { ordering: 'strong' }), ctx()))).toMatch(/is down/);
    await f.set.write(OP, policy(1, { ordering: 'medium' }), ctx());
    expect(f.replicas.get(2)!.writes).toEqual([{ op: OP, lead: 'medium' }]);
    // Led here: this node holds the highest peer id, applies it and fans out (itself included).
    const g = fixture(['Active', 'Active'], 2);
    await g.set.write(OP, policy(2, { ordering: 'strong' }), ctx());
    expect([1, 2].map((p) => g.replicas.get(p)!.writes.map((w) => w.lead))).toEqual([[null], [null]]);
  });
});

describe('ReplicaSet reads', () => {
  const rec = (id: number): Record_ => ({ id, payload: null, vectors: null });

  it('replaces a failing replica by the next one and intersects the answers of `factor` replicas', async () => {
    const f = fixture(['Active', 'Active', 'Active', 'Dead']);
    f.replicas.get(1)!.records = [rec(1), rec(2), rec(3)];
    f.replicas.get(2)!.behaviour = 'unreachable';
    f.replicas.get(3)!.records = [rec(3), rec(1)];
    const got = await f.set.read({ kind: 'factor', n: 2 }, ctx(), (r, c) => r.retrieve([1, 2, 3], { kind: 'none' }, false, c), resolveById);
    expect(got.map((r) => r.id)).toEqual([1, 3]);
    expect(await failure(() => f.set.read({ kind: 'factor', n: 4 }, ctx(), (r, c) => r.count(null, c), resolveCount))).toMatch(/asks 4 replicas.*3 are Active/);
  });

  it('quorum keeps what most replicas hold; a request error is not retried elsewhere', async () => {
    const f = fixture(['Active', 'Active', 'Active']);
    f.replicas.get(1)!.countValue = 10;
    f.replicas.get(2)!.countValue = 12;
    f.replicas.get(3)!.countValue = 12;
    expect(await f.set.read({ kind: 'quorum' }, ctx(), (r, c) => r.count(null, c), resolveCount)).toBe(12);
    expect(await f.set.read({ kind: 'all' }, ctx(), (r, c) => r.count(null, c), resolveCount)).toBe(10);
    f.replicas.get(1)!.behaviour = 'refuse';
    expect(await failure(() => f.set.read({ kind: 'factor', n: 1 }, ctx(), (r, c) => r.count(null, c), resolveCount))).toBe('Bad request: no');
  });

  it('replaces a replica that does not answer before the read runs out of time', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(1)!.behaviour = 'hang';
    f.replicas.get(2)!.countValue = 4;
    expect(await f.set.read({ kind: 'factor', n: 1 }, ctx(400), (r, c) => r.count(null, c), resolveCount)).toBe(4);
  });

  it('fails when not enough replicas answer', async () => {
    const f = fixture(['Active', 'Active']);
    f.replicas.get(1)!.behaviour = 'unreachable';
    f.replicas.get(2)!.behaviour = 'unreachable';
    expect(await failure(() => f.set.read({ kind: 'majority' }, ctx(), (r, c) => r.count(null, c), resolveCount))).toMatch(/0 of the 2 replicas/);
  });
});
