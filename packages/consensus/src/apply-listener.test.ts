import { afterEach, describe, expect, it } from 'vitest';
import type { MetaState } from '@shoal/meta';
import { peerId } from '@shoal/raft';
import { TestCluster, createCollection } from './driver-harness.js';
import type { ApplyListener } from './driver.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

interface Heard {
  readonly events: string[];
  readonly listener: ApplyListener;
  release(): void;
}

/** Records what the listener hears; each call blocks until release() while `hold` is set. */
function recorder(hold: boolean): Heard {
  const events: string[] = [];
  let open: () => void = () => undefined;
  const gate: Promise<void> = hold ? new Promise((resolve) => (open = resolve)) : Promise.resolve();
  const names = (state: MetaState): string => [...state.collections.keys()].sort().join(',');
  return {
    events,
    release: () => open(),
    listener: {
      applied: async (state, op, index) => {
        events.push(`start ${index} ${op.kind}`);
        await gate;
        events.push(`end ${index} [${names(state)}]`);
      },
      snapshot: async (state, index) => {
        events.push(`snapshot ${index} [${names(state)}]`);
      },
    },
  };
}

describe('ConsensusDriver apply listener', () => {
  it('hears every applied operation once, in log order, one at a time, without holding up Raft', async () => {
    const c = (cluster = await TestCluster.founded(3, [1, 2, 3]));
    const leader = await c.leader();
    const heard = recorder(true);
    const from = leader.driver.setApplyListener(heard.listener);
    expect(from.collections.size).toBe(0);
    const a = await c.drive(leader.driver.propose(createCollection('a'), c.deadline()));
    // Raft applied 'b' while the listener still sits on 'a'.
    const b = await c.drive(leader.driver.propose(createCollection('b'), c.deadline()));
    expect([a.outcome, b.outcome]).toEqual(['applied', 'applied']);
    expect(heard.events).toEqual([`start ${a.outcome === 'applied' ? a.index : 0} create_collection`]);
    heard.release();
    await c.tick(2);
    const ia = a.outcome === 'applied' ? a.index : 0;
    const ib = b.outcome === 'applied' ? b.index : 0;
    expect(heard.events).toEqual([`start ${ia} create_collection`, `end ${ia} [a]`, `start ${ib} create_collection`, `end ${ib} [a,b]`]);
  });

  it('tells a node brought up to date by a snapshot the whole state at once', async () => {
    const c = (cluster = await TestCluster.founded(5, [1, 2, 3], { snapshotEntries: 4 }));
    const leader = await c.leader();
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) await c.drive(leader.driver.propose(createCollection(name), c.deadline()));
    const joiner = await c.start(peerId(4), c.newFs(peerId(4)));
    const heard = recorder(false);
    joiner.driver.setApplyListener(heard.listener);
    expect((await c.drive(leader.driver.addLearner(peerId(4), 'local://4', c.deadline()))).outcome).toBe('applied');
    await c.until(() => joiner.driver.appliedIndex() >= leader.driver.appliedIndex(), 300, 'the learner catching up');
    await c.tick(2);
    expect(heard.events[0]).toMatch(/^snapshot \d+ \[a,b,c,d,e,f\]$/);
  });
});
