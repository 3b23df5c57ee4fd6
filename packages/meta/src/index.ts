export * from './types.js';
export * from './state.js';
export * from './codec.js';
export * from './defaults.js';
export * from './replicas.js';
export * from './placement.js';
export * from './limits.js';
export * from './transfers.js';
