export { SimWorld, SimViolation, type SimOptions, type SimReport } from './world.js';
export { Checker, InvariantBroken, type Invariant } from './invariants.js';
export { SimNetwork, SimTransport, CALM_NETWORK, type NetworkFaults, type SendObserver } from './network.js';
export type { SimNode, NodeFactory, NodeStartArgs, AppliedObserver } from './node.js';
export { miniDriverFactory } from './mini-driver.js';
export { randomOperation } from './ops.js';
export { entryDigest } from './digest.js';
