export * from './contract.js';
export * from './metadata-store.js';
export * from './replica-set.js';
export * from './collection.js';
export * from './routing.js';
export * from './merge.js';
export * from './node.js';
export * from './local-storage.js';
