export { Wal, WalReader, DEFAULT_WAL_OPTIONS } from './wal.js';
export type { WalOptions, WalRecord, WalRecovery, WalVisitor } from './wal.js';
export { ensureDirDurable, parentDir } from './dirs.js';
