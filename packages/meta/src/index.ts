export * from './types.js';
export * from './state.js';
export * from './codec.js';
export * from './defaults.js';
