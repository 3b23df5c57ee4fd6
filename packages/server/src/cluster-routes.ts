// Cluster endpoints that act on this node: readiness (/readyz), peer removal and recovery.
import type { Hono } from 'hono';
import { errorEnvelope, httpErrorOf, okEnvelope } from '@shoal/api';
import { ShoalError } from '@shoal/common';
import type { LocalNode } from '@shoal/cluster';
import { READYZ_REPLICAS_WAIT_MS_MAX } from './limits.js';
import type { ServiceState } from './service-routes.js';

/** Cluster operations on a standalone node answer as Qdrant's standalone node does. */
const DISTRIBUTED_DISABLED = 'Bad request: Distributed mode disabled';

/**
 * /readyz latches: once this node has applied what the leader had committed when it asked, its
 * replicas have left Initializing, and none is Dead or Partial while an Active copy exists
 * elsewhere (recovery runs), it answers 200 until shutdown. The fail-safe makes it ready after
 * READYZ_REPLICAS_WAIT_MS_MAX even if a replica cannot be recovered.
 */
export class Readiness {
  private latched = false;
  private readonly startedMs = performance.now();

  constructor(private readonly state: ServiceState) {}

  ready(): boolean {
    const { state } = this;
    if (!state.ready) return false;
    if (this.latched) return true;
    if (state.cluster !== null && !state.cluster.ready) return false;
    const replicas = state.cluster === null ? { initializing: 0, recovering: 0 } : state.node.replicaReadiness();
    const settled = replicas.initializing === 0 && replicas.recovering === 0;
    if (settled || performance.now() - this.startedMs > READYZ_REPLICAS_WAIT_MS_MAX) this.latched = true;
    return this.latched;
  }
}

export function registerClusterRoutes(app: Hono, state: ServiceState): void {
  const readiness = new Readiness(state);
  app.get('/readyz', (c) => (readiness.ready() ? c.text('all shards are ready') : c.text('some shards are not ready', 503)));
  app.post('/cluster/recover', (c) => act(c, state, (node) => node.recoverPeer({ deadlineMs: deadline(c.req.query('timeout')) })));
  app.delete('/cluster/peer/:peer_id', (c) => {
    const text = c.req.param('peer_id');
    const peer = Number(text);
    const force = c.req.query('force');
    return act(c, state, async (node) => {
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(peer) || peer < 1) throw new ShoalError('bad_request', `Bad request: peer id must be an integer in [1, 2^53), got '${text}'`);
      if (force !== undefined && force !== '' && force !== 'true' && force !== 'false') {
        throw new ShoalError('bad_request', 'Query deserialize error: force: provided string was not `true` or `false`');
      }
      await node.removePeer(peer, force === 'true', { deadlineMs: deadline(c.req.query('timeout')) });
    });
  });
}

function deadline(raw: string | undefined): number {
  if (raw === undefined || raw === '') return performance.now() + 30_000;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ShoalError('bad_request', 'Query deserialize error: timeout: expected an integer of at least 1');
  return performance.now() + Number(raw) * 1000;
}

async function act(c: import('hono').Context, state: ServiceState, run: (node: LocalNode) => Promise<void>): Promise<Response> {
  const started = performance.now();
  if (state.cluster === null) return c.json(errorEnvelope(DISTRIBUTED_DISABLED, 0), 400);
  try {
    await run(state.node);
    return c.json(okEnvelope(true, (performance.now() - started) / 1000));
  } catch (error) {
    const e = httpErrorOf(error);
    return c.json(errorEnvelope(e.message, (performance.now() - started) / 1000), e.status as 400);
  }
}
