export * from './model.js';
export * from './assert.js';
export * from './errors.js';
export * from './ids.js';
export * from './limits.js';
export * from './fs.js';
export * from './fs-atomic.js';
