export { Wal, DEFAULT_WAL_OPTIONS } from './wal.js';
export type { WalOptions, WalRecovery, WalVisitor } from './wal.js';
export { ensureDirDurable, parentDir } from './dirs.js';
