export * from './types.js';
export * from './messages.js';
export {
  raftConfig,
  validateConfig,
  DEFAULT_RAFT_LIMITS,
  ENTRY_OVERHEAD_BYTES,
  CONF_CHANGE_BYTES,
  type RaftConfig,
  type RaftTestHooks,
} from './config.js';
export { payloadBytes, wireBytes, EMPTY_CONF_STATE } from './entries.js';
export { MemoryLogStorage, type ReadonlyLogStorage, type InitialState } from './storage.js';
export { RaftNode, type Status, type PeerStatus } from './raft.js';
export { majorityIndex, jointIndex, majorityVote, jointVote, type VoteResult, type Voters } from './quorum.js';
export { applyConfChangeTo, confStateOf, membershipFromConfState, type Membership, type ChangeOutcome } from './membership.js';
