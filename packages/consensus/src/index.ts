export * from './transport.js';
export * from './limits.js';
export { backoffMs } from './peer-link.js';
export {
  P2P_PROTO_PATH, POINTS_METHODS, encodeBatch, decodeBatch, type RaftBatch, type RaftAck, type PointsMethod, type ShardRequest, type ShardReply, type ClockTag,
} from './proto.js';
export { grpcTarget, P2P_PORT_DEFAULT } from './uri.js';
export {
  GrpcTransport, CHANNEL_PURPOSE_ARG, RAFT_CHANNEL_PURPOSE, CONTROL_CHANNEL_PURPOSE, POINTS_CHANNEL_PURPOSE,
  type GrpcTransportOptions, type ControlHandler, type PointsHandler, type PointsCallResult, type PointsCallOptions,
} from './grpc-transport.js';
export { LocalTransportHub, LocalTransport, type LocalTransportHubOptions } from './local-transport.js';
export { ConsensusDriver, type ApplyListener, type ConsensusDriverOptions, type ConsensusStatus, type StateRole, type ThreadStatus, type SendFailure } from './driver.js';
export type { ProposalResult, ReadResult } from './driver-waiters.js';
export { DEFAULT_DRIVER_LIMITS, driverLimits, type DriverLimits } from './driver-limits.js';
export { RaftLogStore, DEFAULT_LOG_STORE_OPTIONS, type DurableLogStorage, type PersistBatch, type LogStoreOptions } from './log-store.js';
export { encodeMessage, decodeMessage } from './raft-codec.js';
export {
  encodeCommand,
  decodeCommand,
  encodeAppliedState,
  decodeAppliedState,
  hashAppliedState,
  type AppliedState,
  type EntryCommand,
  type EntryOutcome,
} from './applied-state.js';
export { clusterStatusBody, type ClusterStatusBody } from './cluster-status.js';
