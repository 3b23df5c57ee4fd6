export { SimWorld, SimViolation, type SimOptions, type SimReport } from './world.js';
export { Checker, InvariantBroken, type Invariant } from './invariants.js';
export { SimNetwork, SimTransport, CALM_NETWORK, type NetworkFaults, type SendObserver } from './network.js';
export type { SimNode, NodeView, NodeFactory, NodeStartArgs, MembershipChange } from './node.js';
export { consensusNodeFactory } from './consensus-node.js';
export { randomOperation } from './ops.js';
export { entryDigest } from './digest.js';
export { optionsForSeed, bugOptions, PLANTED_BUGS, type PlantedBug } from './profiles.js';
