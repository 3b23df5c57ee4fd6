// The admin CLI's parts, for tests and for tools that embed it.
export { runCli, buildProgram, type CliDeps } from './program.js';
export { planDrain, planRebalance, PlanError, type Plan, type Step, type Blocked } from './plan.js';
export { RestClient, ApiError } from './client.js';
export type { Layout, ShardPlacement, Replica, TransferInfo } from './model.js';
export type { PeerId } from './ids.js';
