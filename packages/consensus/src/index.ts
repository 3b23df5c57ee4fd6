export * from './transport.js';
export * from './limits.js';
export { backoffMs } from './peer-link.js';
export { P2P_PROTO_PATH, encodeBatch, decodeBatch, type RaftBatch, type RaftAck } from './proto.js';
export { grpcTarget, P2P_PORT_DEFAULT } from './uri.js';
export { GrpcTransport, CHANNEL_PURPOSE_ARG, RAFT_CHANNEL_PURPOSE, type GrpcTransportOptions } from './grpc-transport.js';
export { LocalTransportHub, LocalTransport, type LocalTransportHubOptions } from './local-transport.js';
