import { assert, seededRng } from '@shoal/common';
import { raftConfig, type RaftConfig } from './config.js';
import type { ConfChange, ConfChangeSingle, ConfState, Entry, Message, ProposeResult, Ready, RequestResult, Snapshot } from './messages.js';
import { RaftNode } from './raft.js';
import { MemoryLogStorage } from './storage.js';
import { byId, logIndex, peerId, term, type PeerId } from './types.js';

/**
 * The interpreter of the scenario language (packages/raft/scenarios/*.txt): an in-process
 * network of RaftNodes over MemoryLogStorage. Every command returns its printed output, which
 * is deterministic for a given script (seeded Rng per node, FIFO network).
 */

interface Applied {
  readonly index: number;
  readonly data: string;
}

interface Peer {
  readonly id: PeerId;
  readonly config: RaftConfig;
  readonly storage: MemoryLogStorage;
  raft: RaftNode;
  applied: Applied[];
  confState: ConfState;
  crashed: boolean;
  restarts: number;
}

export interface Command {
  readonly name: string;
  readonly args: readonly string[];
  readonly options: ReadonlyMap<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STABILIZE_ROUNDS_MAX = 10_000;

export function parseCommand(line: string): Command {
  const words = line.trim().split(/\s+/);
  const name = words.shift();
  assert(name !== undefined && name !== '', 'empty command');
  const args: string[] = [];
  const options = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) options.set(w.slice(0, eq), w.slice(eq + 1));
    else args.push(w);
  }
  return { name, args, options };
}

function ids(list: string | undefined): PeerId[] {
  if (list === undefined || list === '') return [];
  return list.split(',').map((s) => peerId(Number(s)));
}

export function fmtIds(list: readonly PeerId[]): string {
  return `(${list.join(' ')})`;
}

export function fmtConf(cs: ConfState): string {
  let s = `voters=${fmtIds(cs.voters)}`;
  if (cs.votersOutgoing.length > 0) s += `&&${fmtIds(cs.votersOutgoing)}`;
  if (cs.learners.length > 0) s += ` learners=${fmtIds(cs.learners)}`;
  if (cs.learnersNext.length > 0) s += ` learners_next=${fmtIds(cs.learnersNext)}`;
  if (cs.autoLeave) s += ' autoleave';
  return s;
}

function fmtChange(cc: ConfChange): string {
  if (cc.changes.length === 0) return 'leave-joint';
  const parts = cc.changes.map((c) => `${c.type === 'addVoter' ? 'v' : c.type === 'addLearner' ? 'l' : 'r'}${c.peer}`);
  return parts.join(' ') + (cc.transition === 'auto' ? '' : ` transition=${cc.transition}`);
}

export function fmtEntry(e: Entry): string {
  if (e.kind === 'confChange') return `${e.index}/${e.term} conf(${fmtChange(e.change)})`;
  return `${e.index}/${e.term} ${JSON.stringify(decoder.decode(e.data))}`;
}

export function fmtMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'app':
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(fmtEntry).join(', ')}]`;
    case 'appResp':
      return m.reject ? `${head} reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case 'vote':
    case 'preVote':
      return `${head} last=${m.index}/${m.logTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${head} ${m.reject ? 'reject' : 'grant'}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context === '' ? '' : ` ctx=${m.context}`}`;
    case 'heartbeatResp':
      return `${head}${m.context === '' ? '' : ` ctx=${m.context}`}`;
    case 'snap':
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term} ${fmtConf(m.snapshot.meta.confState)}`;
    case 'timeoutNow':
      return `${head} commit=${m.commit}`;
    case 'readIndex':
      return `${head} ctx=${m.context}`;
    case 'readIndexResp':
      return `${head} index=${m.index} ctx=${m.context}`;
  }
}

function fmtResult(r: ProposeResult | RequestResult): string {
  if (r.outcome === 'ok') return 'index' in r ? `ok index=${r.index} term=${r.term}` : 'ok';
  if (r.outcome === 'dropped') return `dropped: ${r.reason}`;
  return `not_leader leader=${r.leader ?? 'none'}`;
}

function parseChanges(args: readonly string[]): ConfChangeSingle[] {
  return args.map((a) => {
    const kind = a[0];
    const peer = peerId(Number(a.slice(1)));
    if (kind === 'v') return { type: 'addVoter', peer };
    if (kind === 'l') return { type: 'addLearner', peer };
    assert(kind === 'r', `bad conf change ${a} (v<id>, l<id> or r<id>)`);
    return { type: 'removeNode', peer };
  });
}

function encodeApplied(applied: readonly Applied[]): Uint8Array {
  return encoder.encode(JSON.stringify(applied));
}

function decodeApplied(data: Uint8Array): Applied[] {
  if (data.byteLength === 0) return [];
  return JSON.parse(decoder.decode(data)) as Applied[];
}

export class ScenarioEnv {
  private readonly peers = new Map<PeerId, Peer>();
  private queue: Message[] = [];
  private groups: Map<PeerId, number> | undefined = undefined;
  private out: string[] = [];

  run(cmd: Command): string {
    this.out = [];
    this.dispatch(cmd);
    const text = this.out.join('\n');
    return text === '' ? 'ok' : text;
  }

  private print(line: string): void {
    this.out.push(line);
  }

  private dispatch(c: Command): void {
    const handlers: Record<string, (c: Command) => void> = {
      'add-nodes': (x) => this.addNodes(x),
      campaign: (x) => this.forEach(x, (p) => p.raft.campaign()),
      propose: (x) => this.print(fmtResult(this.peer(x.args[0]).raft.propose(encoder.encode(x.args[1] ?? '')))),
      'propose-conf-change': (x) => this.proposeConfChange(x),
      'transfer-leadership': (x) => this.transfer(x),
      'read-index': (x) => this.print(fmtResult(this.peer(x.args[0]).raft.readIndex(x.args[1] ?? ''))),
      tick: (x) => this.tick(x),
      'tick-heartbeat': (x) => this.forEach(x, (p) => this.tickTimes(p, p.config.heartbeatTicks)),
      'tick-election': (x) => this.forEach(x, (p) => this.tickElection(p)),
      stabilize: (x) => this.stabilize(x),
      'process-ready': (x) => this.forEach(x, (p) => this.handleReady(p)),
      'deliver-msgs': (x) => this.deliverMatching(x, true),
      'drop-msgs': (x) => this.deliverMatching(x, false),
      partition: (x) => this.partition(x),
      heal: () => (this.groups = undefined),
      crash: (x) => this.forEach(x, (p) => this.crash(p)),
      restart: (x) => this.forEach(x, (p) => this.restart(p)),
      status: (x) => this.forEach(x, (p) => this.print(this.statusLine(p))),
      'raft-log': (x) => this.forEach(x, (p) => this.raftLog(p)),
      compact: (x) => this.compact(x),
      check: (x) => this.forEach(x, (p) => this.check(p, x)),
      'check-logs-match': () => this.checkLogsMatch(),
    };
    const h = handlers[c.name];
    assert(h !== undefined, `unknown command ${c.name}`);
    h(c);
  }

  private peer(arg: string | undefined): Peer {
    const p = this.peers.get(peerId(Number(arg)));
    assert(p !== undefined, `unknown node ${arg}`);
    return p;
  }

  /** Runs `f` on the nodes named in the arguments, or on every live node when none is named. */
  private forEach(c: Command, f: (p: Peer) => void): void {
    const named = c.args.map((a) => this.peer(a));
    const list = named.length > 0 ? named : [...this.peers.values()].filter((p) => !p.crashed);
    for (const p of list.sort((a, b) => a.id - b.id)) f(p);
  }

  private addNodes(c: Command): void {
    const voters = ids(c.options.get('voters'));
    const learners = ids(c.options.get('learners'));
    const num = (k: string): number | undefined => (c.options.has(k) ? Number(c.options.get(k)) : undefined);
    const flag = (k: string, dflt: boolean): boolean => (c.options.has(k) ? c.options.get(k) === 'true' : dflt);
    const overrides: Partial<Omit<RaftConfig, 'id'>> = {
      preVote: flag('pre-vote', true),
      checkQuorum: flag('check-quorum', true),
      ...(num('msg-bytes') !== undefined ? { msgBytesMax: num('msg-bytes')! } : {}),
      ...(num('inflight') !== undefined ? { inflightMsgsMax: num('inflight')! } : {}),
      ...(num('uncommitted-bytes') !== undefined ? { uncommittedBytesMax: num('uncommitted-bytes')! } : {}),
      ...(num('pending-reads') !== undefined ? { pendingReadsMax: num('pending-reads')! } : {}),
    };
    const confState: ConfState = { voters, votersOutgoing: [], learners, learnersNext: [], autoLeave: false };
    for (const id of ids(c.options.get('ids'))) {
      assert(!this.peers.has(id), `node ${id} exists`);
      // Bootstrapped members start from a snapshot at index 1 holding the initial membership;
      // a node added later starts empty and gets its state from the leader.
      const boot = voters.length > 0 || learners.length > 0;
      const snap: Snapshot = { meta: { index: logIndex(1), term: term(1), confState }, data: encodeApplied([]) };
      const storage = boot ? MemoryLogStorage.fromSnapshot(snap) : new MemoryLogStorage();
      const config = raftConfig(id, overrides);
      const peer: Peer = { id, config, storage, raft: this.newRaft(config, storage, 0), applied: [], confState: storage.snapshot().meta.confState, crashed: false, restarts: 0 };
      this.peers.set(id, peer);
      this.print(this.statusLine(peer));
    }
  }

  private newRaft(config: RaftConfig, storage: MemoryLogStorage, restarts: number): RaftNode {
    // One generator per node and incarnation, so timeouts differ between nodes and restarts.
    return new RaftNode(config, storage, seededRng(config.id * 7919 + restarts * 104_729));
  }

  private proposeConfChange(c: Command): void {
    const changes = c.args.slice(1).filter((a) => a !== 'leave');
    const transition = (c.options.get('transition') ?? 'auto') as ConfChange['transition'];
    this.print(fmtResult(this.peer(c.args[0]).raft.proposeConfChange({ transition, changes: parseChanges(changes) })));
  }

  private transfer(c: Command): void {
    const from = this.peer(c.options.get('from'));
    this.print(fmtResult(from.raft.transferLeader(peerId(Number(c.options.get('to'))))));
  }

  private tick(c: Command): void {
    const p = this.peer(c.args[0]);
    this.tickTimes(p, Number(c.args[1] ?? '1'));
  }

  private tickTimes(p: Peer, n: number): void {
    for (let k = 0; k < n; k++) p.raft.tick();
  }

  /**
   * A follower or candidate: tick until its election timeout fires (its role or term changes, or
   * it has something to send), at most 2*electionTicks ticks. A leader: one election timeout.
   */
  private tickElection(p: Peer): void {
    const e = p.config.electionTicks;
    const before = p.raft.status();
    if (before.role === 'leader') return this.tickTimes(p, e);
    const hadReady = p.raft.hasReady();
    for (let k = 0; k < 2 * e; k++) {
      p.raft.tick();
      const now = p.raft.status();
      if (now.role !== before.role || now.term !== before.term || (!hadReady && p.raft.hasReady())) return;
    }
  }

  private handleReady(p: Peer): boolean {
    if (p.crashed || !p.raft.hasReady()) return false;
    const rd = p.raft.ready();
    this.persist(p, rd);
    this.queue.push(...rd.messages); // sent only after persisting (the driver's rule)
    if (rd.softState !== undefined) {
      this.print(`${p.id}: ${rd.softState.role} term=${p.raft.status().term} lead=${rd.softState.lead ?? 'none'}`);
    }
    this.apply(p, rd);
    for (const rs of rd.readStates) this.print(`${p.id}: read-state index=${rs.index} ctx=${rs.context}`);
    p.raft.advance(rd);
    return true;
  }

  private persist(p: Peer, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      p.storage.applySnapshot(rd.snapshot);
      p.applied = decodeApplied(rd.snapshot.data);
      p.confState = rd.snapshot.meta.confState;
      this.print(`${p.id}: install snapshot ${rd.snapshot.meta.index}/${rd.snapshot.meta.term} ${fmtConf(p.confState)}`);
    }
    p.storage.append(rd.entries);
    if (rd.hardState !== undefined) p.storage.setHardState(rd.hardState);
  }

  private apply(p: Peer, rd: Ready): void {
    for (const e of rd.committedEntries) {
      if (e.kind === 'confChange') {
        p.confState = p.raft.applyConfChange(e.change);
        this.print(`${p.id}: apply ${fmtEntry(e)} -> ${fmtConf(p.confState)}`);
      } else if (e.data.byteLength > 0) {
        p.applied.push({ index: e.index, data: decoder.decode(e.data) });
        this.print(`${p.id}: apply ${fmtEntry(e)}`);
      }
    }
  }

  private connected(m: Message): boolean {
    const to = this.peers.get(m.to);
    if (to === undefined || to.crashed) return false;
    if (this.groups === undefined) return true;
    return (this.groups.get(m.from) ?? -1) === (this.groups.get(m.to) ?? -2);
  }

  private deliver(m: Message, verbose: boolean): void {
    if (!this.connected(m)) {
      if (verbose) this.print(`  dropped ${fmtMessage(m)}`);
      return;
    }
    if (verbose) this.print(`  ${fmtMessage(m)}`);
    this.peers.get(m.to)!.raft.step(m);
  }

  private stabilize(c: Command): void {
    const verbose = c.options.get('verbose') === 'true';
    const only = new Set(c.args.map((a) => this.peer(a).id));
    const inScope = (id: PeerId): boolean => only.size === 0 || only.has(id);
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      let busy = false;
      for (const p of [...this.peers.values()].sort((a, b) => a.id - b.id)) if (inScope(p.id)) busy = this.handleReady(p) || busy;
      const batch = this.queue.filter((m) => inScope(m.to) && inScope(m.from));
      this.queue = this.queue.filter((m) => !(inScope(m.to) && inScope(m.from)));
      for (const m of batch) this.deliver(m, verbose);
      if (!busy && batch.length === 0) return;
    }
    assert(false, 'stabilize did not converge');
  }

  private deliverMatching(c: Command, deliver: boolean): void {
    const to = new Set(ids(c.options.get('to')));
    const from = new Set(ids(c.options.get('from')));
    const type = c.options.get('type');
    const match = (m: Message): boolean =>
      (to.size === 0 || to.has(m.to)) && (from.size === 0 || from.has(m.from)) && (type === undefined || m.type === type);
    const batch = this.queue.filter(match);
    this.queue = this.queue.filter((m) => !match(m));
    for (const m of batch) {
      if (deliver) this.deliver(m, true);
      else this.print(`  dropped ${fmtMessage(m)}`);
    }
  }

  private partition(c: Command): void {
    this.groups = new Map();
    let group = 0;
    for (const a of c.args) {
      if (a === '|') group += 1;
      else this.groups.set(this.peer(a).id, group);
    }
  }

  private crash(p: Peer): void {
    p.crashed = true;
    this.queue = this.queue.filter((m) => m.to !== p.id && m.from !== p.id);
  }

  /** Restarts from what the node persisted: volatile Raft state and the applied state are lost. */
  private restart(p: Peer): void {
    p.restarts += 1;
    p.crashed = false;
    p.raft = this.newRaft(p.config, p.storage, p.restarts);
    p.applied = decodeApplied(p.storage.snapshot().data);
    p.confState = p.storage.snapshot().meta.confState;
    this.print(this.statusLine(p));
  }

  private statusLine(p: Peer): string {
    const s = p.raft.status();
    const lead = s.lead === undefined ? 'none' : String(s.lead);
    const state = p.crashed ? ' (crashed)' : '';
    return `${p.id}: ${s.role} term=${s.term} lead=${lead} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${fmtConf(s.confState)}${state}`;
  }

  private raftLog(p: Peer): void {
    const s = p.raft.status();
    const ents = p.raft.entries(s.firstIndex, logIndex(s.lastIndex + 1));
    const snap = p.storage.snapshot().meta;
    this.print(`${p.id}: snapshot=${snap.index}/${snap.term} entries=[${ents.map(fmtEntry).join(', ')}]`);
  }

  /** `compact N index`: snapshot node N's applied state at `index`, then drop the log up to it. */
  private compact(c: Command): void {
    const p = this.peer(c.args[0]);
    const index = logIndex(Number(c.args[1]));
    assert(index <= p.raft.status().applied, 'compacting beyond applied');
    // The conf state at the snapshot index is the current one here: scenarios compact only after conf changes settle.
    p.storage.createSnapshot(index, p.confState, encodeApplied(p.applied.filter((a) => a.index <= index)));
    p.storage.compact(index);
    this.raftLog(p);
  }

  /**
   * `check [ids] role=leader term=3 lead=1 commit=5 applied=5 last=5 voters=1,2,3`: an explicit
   * assertion that fails the scenario even under REWRITE=1, so a wrong outcome cannot be frozen
   * into the expected output unnoticed.
   */
  private check(p: Peer, c: Command): void {
    const s = p.raft.status();
    const actual: Record<string, string> = {
      role: s.role,
      term: String(s.term),
      lead: s.lead === undefined ? 'none' : String(s.lead),
      commit: String(s.commit),
      applied: String(s.applied),
      last: String(s.lastIndex),
      voters: s.confState.voters.join(','),
      learners: s.confState.learners.join(','),
      outgoing: s.confState.votersOutgoing.join(','),
      data: p.applied.map((a) => a.data).join(','),
    };
    for (const [key, want] of c.options) {
      assert(key in actual, `check: unknown key ${key}`);
      if (actual[key] !== want) throw new Error(`check failed on node ${p.id}: ${key}=${actual[key]}, want ${want}`);
    }
  }

  /** Log matching: two live nodes holding an entry with the same index and term agree on it and on everything committed before. */
  private checkLogsMatch(): void {
    const live = [...this.peers.values()].filter((p) => !p.crashed);
    for (const a of live) {
      for (const b of live) {
        if (a.id >= b.id) continue;
        const sa = a.raft.status();
        const sb = b.raft.status();
        const commit = Math.min(sa.commit, sb.commit);
        const lo = Math.max(sa.firstIndex, sb.firstIndex);
        if (lo > commit) continue;
        const ea = a.raft.entries(logIndex(lo), logIndex(commit + 1)).map(fmtEntry).join();
        const eb = b.raft.entries(logIndex(lo), logIndex(commit + 1)).map(fmtEntry).join();
        if (ea !== eb) throw new Error(`committed logs of ${a.id} and ${b.id} differ`);
      }
    }
  }

  nodeIds(): PeerId[] {
    return [...this.peers.keys()].sort(byId);
  }
}
