// A history of client operations against a cluster (each invoked, then ok / fail / unknown) and
// its checks, as Jepsen-style tests make them:
// - points: every acknowledged upsert is on every replica of its shard unless an acknowledged
//   (or possibly applied) delete covers it; no point of an acknowledged delete is anywhere; no
//   point of a refused upsert, or never written, is anywhere; what a replica holds is what was
//   written; the replicas of a shard hold exactly the same points;
// - metadata: aliases are registers (alias -> collection name, or absent); writes, deletes and
//   linearizable reads of each register must have a linearization (a Wing & Gong / Lowe search,
//   unknown operations allowed to take effect at any time after their invocation, or never);
//   reads that may be served from a stale node only need to return a value someone wrote.

/** ok: acknowledged (2xx); fail: definitely refused (4xx); unknown: 5xx, 408, timeout, connection error. */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** How the client judges an HTTP answer (null status: no answer at all). */
export function outcomeOf(status: number | null): Outcome {
  if (status === null) return 'unknown';
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500 && status !== 408) return 'fail';
  return 'unknown';
}

export interface PointWrite {
  readonly id: number;
  /** The shard the point belongs to (the collection's routing). */
  readonly shard: number;
  readonly payload: Record<string, unknown>;
  readonly vector: readonly number[];
}

export interface DataOp {
  readonly client: number;
  readonly collection: string;
  /** upsert: `points`; delete: `ids`; delete_filter: the ids its filter matches (one upsert's batch). */
  readonly kind: 'upsert' | 'delete' | 'delete_filter';
  readonly points?: readonly PointWrite[];
  readonly ids: readonly number[];
  /** The node (0-based) the request went to. */
  readonly node: number;
  readonly invokeMs: number;
  completeMs: number | null;
  outcome: Outcome | null;
  status?: number | null;
  error?: string;
}

export interface StoredPoint {
  readonly id: number;
  readonly payload: unknown;
  readonly vector: unknown;
}

/** What one replica holds, read on its own after the cluster healed. */
export interface ReplicaContent {
  readonly collection: string;
  readonly shard: number;
  readonly peer: number;
  readonly state: string;
  readonly points: readonly StoredPoint[];
}

export interface PointProblem {
  readonly collection: string;
  readonly id: number;
  readonly shard: number;
  readonly peer: number | null;
  readonly detail: string;
}

export interface DataVerdict {
  /** Points of acknowledged upserts. */
  readonly acknowledged: number;
  /** Points of acknowledged deletes. */
  readonly deleted: number;
  /** Points whose upsert or delete is unknown. */
  readonly unknown: number;
  readonly lost: readonly PointProblem[];
  readonly resurrected: readonly PointProblem[];
  /** Present although its upsert was refused or never sent, or on a replica of another shard. */
  readonly phantom: readonly PointProblem[];
  /** Present with other contents than written. */
  readonly corrupted: readonly PointProblem[];
  /** Replicas of one shard that disagree. */
  readonly diverged: readonly PointProblem[];
  /** Shards of which no replica was read. */
  readonly unread: readonly string[];
}

function sameVector(written: readonly number[], stored: unknown): boolean {
  if (!Array.isArray(stored) || stored.length !== written.length) return false;
  // Vectors are stored as f32.
  return written.every((x, i) => Math.fround(x) === Math.fround(stored[i] as number));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Checks the points of `ops` against what every replica holds. `shards` lists, per collection,
 * every shard id, so a shard with no replica read is reported.
 */
export function checkData(ops: readonly DataOp[], replicas: readonly ReplicaContent[], shards: Readonly<Record<string, readonly number[]>>): DataVerdict {
  const lost: PointProblem[] = [];
  const resurrected: PointProblem[] = [];
  const phantom: PointProblem[] = [];
  const corrupted: PointProblem[] = [];
  const diverged: PointProblem[] = [];
  const unread: string[] = [];
  let acknowledged = 0;
  let deleted = 0;
  let unknown = 0;

  for (const [collection, shardIds] of Object.entries(shards)) {
    const written = new Map<number, { point: PointWrite; outcome: Outcome }>();
    const deletes = new Map<number, Outcome[]>();
    for (const op of ops) {
      if (op.collection !== collection) continue;
      const outcome = op.outcome ?? 'unknown';
      if (op.kind === 'upsert') {
        for (const p of op.points ?? []) written.set(p.id, { point: p, outcome });
      } else {
        for (const id of op.ids) deletes.set(id, [...(deletes.get(id) ?? []), outcome]);
      }
    }
    const deletedOk = (id: number): boolean => (deletes.get(id) ?? []).includes('ok');
    const maybeDeleted = (id: number): boolean => (deletes.get(id) ?? []).some((o) => o !== 'fail');
    for (const [id, w] of written) {
      if (deletedOk(id)) deleted += 1;
      else if (w.outcome === 'ok' && !maybeDeleted(id)) acknowledged += 1;
      else if (w.outcome !== 'fail') unknown += 1;
    }

    const ofCollection = replicas.filter((r) => r.collection === collection);
    for (const shard of shardIds) {
      const copies = ofCollection.filter((r) => r.shard === shard);
      if (copies.length === 0) {
        unread.push(`${collection}/${shard}`);
        continue;
      }
      const maps = copies.map((r) => new Map(r.points.map((p) => [p.id, p])));
      // Every point any replica of the shard holds, and every point written to the shard.
      const ids = new Set<number>([...maps.flatMap((m) => [...m.keys()])]);
      for (const [id, w] of written) if (w.point.shard === shard) ids.add(id);
      for (const id of [...ids].sort((a, b) => a - b)) {
        const w = written.get(id);
        const problem = (peer: number | null, detail: string): PointProblem => ({ collection, id, shard, peer, detail });
        copies.forEach((replica, i) => {
          const stored = maps[i]!.get(id);
          if (stored === undefined) {
            if (w !== undefined && w.outcome === 'ok' && !maybeDeleted(id)) lost.push(problem(replica.peer, 'acknowledged upsert missing'));
            return;
          }
          if (w === undefined) return phantom.push(problem(replica.peer, 'never written'));
          if (w.point.shard !== shard) return phantom.push(problem(replica.peer, `belongs to shard ${w.point.shard}`));
          if (w.outcome === 'fail') return phantom.push(problem(replica.peer, 'upsert was refused'));
          if (deletedOk(id)) return resurrected.push(problem(replica.peer, 'acknowledged delete undone'));
          if (canonical(stored.payload) !== canonical(w.point.payload) || !sameVector(w.point.vector, stored.vector)) {
            corrupted.push(problem(replica.peer, `holds ${canonical(stored.payload)} ${JSON.stringify(stored.vector)}`));
          }
        });
        const seen = maps.map((m) => {
          const p = m.get(id);
          return p === undefined ? '-' : canonical([p.payload, p.vector]);
        });
        if (new Set(seen).size > 1) {
          diverged.push(problem(null, copies.map((r, i) => `peer ${r.peer}: ${seen[i] === '-' ? 'absent' : 'present'}`).join(', ')));
        }
      }
    }
  }
  return { acknowledged, deleted, unknown, lost, resurrected, phantom, corrupted, diverged, unread };
}

// ----- metadata --------------------------------------------------------------------------------

export interface MetaOp {
  readonly client: number;
  /**
   * write: `writes` (alias -> collection) applied atomically (one action list); delete: one
   * alias deleted; read: `observed` is every alias the node listed (absent ones are absent).
   */
  readonly kind: 'write' | 'delete' | 'read';
  readonly writes?: Readonly<Record<string, string>>;
  readonly alias?: string;
  /** Reads: whether the node first confirmed its state with the leader (ReadIndex). */
  readonly linearizable?: boolean;
  /**
   * Reads of one collection's aliases (GET /collections/{of}/aliases): `observed` lists only the
   * aliases that point to `of`; an alias not listed points elsewhere or nowhere.
   */
  readonly of?: string;
  readonly node: number;
  readonly invokeMs: number;
  completeMs: number | null;
  outcome: Outcome | null;
  status?: number | null;
  observed?: Record<string, string>;
  error?: string;
}

/** One operation of a single register, as the search sees it. */
export interface RegisterOp {
  readonly kind: 'write' | 'read';
  /** Written or read value; null: absent. */
  readonly value: string | null;
  /** A read that saw only that the value is not `value`. */
  readonly not?: boolean;
  readonly invokeMs: number;
  /** Infinity: unknown outcome (may take effect at any time after invocation, or never). */
  readonly completeMs: number;
  readonly optional: boolean;
  /** Index into the original history, for reports. */
  readonly source: number;
}

/** The operations of `ops` on `alias`, as register operations. */
export function registerHistory(ops: readonly MetaOp[], alias: string): RegisterOp[] {
  const out: RegisterOp[] = [];
  ops.forEach((op, source) => {
    const done = op.completeMs ?? Infinity;
    const outcome = op.outcome ?? 'unknown';
    if (op.kind === 'read') {
      if (op.linearizable !== true || outcome !== 'ok' || op.observed === undefined) return;
      if (op.of === undefined) out.push({ kind: 'read', value: op.observed[alias] ?? null, invokeMs: op.invokeMs, completeMs: done, optional: false, source });
      else if (op.observed[alias] === op.of) out.push({ kind: 'read', value: op.of, invokeMs: op.invokeMs, completeMs: done, optional: false, source });
      else out.push({ kind: 'read', value: op.of, not: true, invokeMs: op.invokeMs, completeMs: done, optional: false, source });
      return;
    }
    const value = op.kind === 'write' ? op.writes?.[alias] : op.alias === alias ? null : undefined;
    if (value === undefined) return;
    if (outcome === 'ok') out.push({ kind: 'write', value, invokeMs: op.invokeMs, completeMs: done, optional: false, source });
    else if (outcome === 'unknown') out.push({ kind: 'write', value, invokeMs: op.invokeMs, completeMs: Infinity, optional: true, source });
    // A delete refused with 404: the alias was absent where the delete was applied in the log.
    else if (op.kind === 'delete' && op.status === 404) out.push({ kind: 'read', value: null, invokeMs: op.invokeMs, completeMs: done, optional: false, source });
  });
  return out;
}

export type Linearizability =
  | { readonly ok: true; readonly steps: number }
  | { readonly ok: false; readonly steps: number; readonly reason: 'no linearization' | 'search bound exceeded'; readonly detail: string };

/**
 * Whether the register history has a linearization from `initial`: a depth-first search over
 * (operations linearized, value), each state visited once. An operation may go next only if it
 * was invoked before every other pending required operation returned; optional (unknown)
 * operations never constrain the others and need not be linearized. Gives up after `maxSteps`.
 */
export function checkRegister(history: readonly RegisterOp[], initial: string | null = null, maxSteps = 2_000_000): Linearizability {
  const ops = [...history].sort((a, b) => a.invokeMs - b.invokeMs);
  const n = ops.length;
  const required = ops.map((o) => !o.optional);
  const requiredCount = required.filter(Boolean).length;
  const seen = new Set<string>();
  let steps = 0;
  let deepest = 0;
  const done = new Uint8Array(n);
  let best = '';

  const search = (value: string | null, linearizedRequired: number, depthKey: bigint): boolean | null => {
    if (linearizedRequired === requiredCount) return true;
    const key = `${depthKey.toString(36)}|${value ?? '\u0000'}`;
    if (seen.has(key)) return false;
    seen.add(key);
    if (++steps > maxSteps) return null;
    // The earliest return among pending required operations bounds what may go next.
    let horizon = Infinity;
    for (let i = 0; i < n; i++) if (done[i] === 0 && required[i] && ops[i]!.completeMs < horizon) horizon = ops[i]!.completeMs;
    // Required candidates first (in invocation order), then optional writes.
    const candidates: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n && ops[i]!.invokeMs <= horizon; i++) {
        if (done[i] !== 0 || (pass === 0) !== required[i]) continue;
        candidates.push(i);
      }
    }
    for (const i of candidates) {
      const op = ops[i]!;
      if (op.kind === 'read' && (op.not === true ? op.value === value : op.value !== value)) continue;
      if (op.kind === 'read' && op.optional) continue;
      done[i] = 1;
      const next = op.kind === 'write' ? op.value : value;
      const r = search(next, linearizedRequired + (required[i] ? 1 : 0), depthKey | (1n << BigInt(i)));
      done[i] = 0;
      if (r !== false) return r;
    }
    if (linearizedRequired > deepest) {
      deepest = linearizedRequired;
      const stuck = ops.map((o, i) => ({ o, i })).filter(({ o, i }) => done[i] === 0 && !o.optional && o.invokeMs <= horizon);
      best = `linearized ${linearizedRequired} of ${requiredCount} required ops with value ${JSON.stringify(value)}; none of these can go next: ${stuck
        .slice(0, 6)
        .map(({ o }) => `${o.kind}(${o.not === true ? 'not ' : ''}${JSON.stringify(o.value)}) [${o.invokeMs.toFixed(0)}, ${o.completeMs.toFixed(0)}] #${o.source}`)
        .join('; ')}`;
    }
    return false;
  };
  const result = search(initial, 0, 0n);
  if (result === true) return { ok: true, steps };
  if (result === null) return { ok: false, steps, reason: 'search bound exceeded', detail: `more than ${maxSteps} states` };
  return { ok: false, steps, reason: 'no linearization', detail: best };
}

export interface MetaVerdict {
  /** Per alias: the search's answer and the number of operations it covered. */
  readonly registers: Readonly<Record<string, Linearizability & { readonly ops: number }>>;
  /** Reads without ReadIndex that returned a value nobody had written (or deleted) by then. */
  readonly impossibleReads: readonly string[];
  readonly linearizableReads: number;
  readonly localReads: number;
}

/** Checks every alias of `aliases` (all start absent). */
export function checkMeta(ops: readonly MetaOp[], aliases: readonly string[], maxSteps = 2_000_000): MetaVerdict {
  const registers: Record<string, Linearizability & { ops: number }> = {};
  for (const alias of aliases) {
    const history = registerHistory(ops, alias);
    registers[alias] = { ...checkRegister(history, null, maxSteps), ops: history.length };
  }
  // Reads served from a node's own state may be stale, but never invent a value.
  const impossibleReads: string[] = [];
  ops.forEach((op, i) => {
    if (op.kind !== 'read' || op.linearizable === true || op.outcome !== 'ok' || op.observed === undefined) return;
    const done = op.completeMs ?? Infinity;
    for (const alias of aliases) {
      const value = op.observed[alias] ?? null;
      if (value === null || (op.of !== undefined && value !== op.of)) continue;
      const written = ops.some((w) => w.kind === 'write' && w.outcome !== 'fail' && w.invokeMs <= done && w.writes?.[alias] === value);
      if (!written) impossibleReads.push(`#${i}: ${alias} = ${value}`);
    }
  });
  return {
    registers,
    impossibleReads,
    linearizableReads: ops.filter((o) => o.kind === 'read' && o.linearizable === true && o.outcome === 'ok').length,
    localReads: ops.filter((o) => o.kind === 'read' && o.linearizable !== true && o.outcome === 'ok').length,
  };
}
