export { Wal, DEFAULT_WAL_OPTIONS } from './wal.js';
export type { WalOptions, WalRecovery, WalVisitor } from './wal.js';
export { crc32c } from './crc32c.js';
export { ensureDirDurable, parentDir } from './dirs.js';
