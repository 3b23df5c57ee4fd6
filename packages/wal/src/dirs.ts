import type { FileSystem } from '@shoal/common';

/** The parent of a '/'-separated path ('' for a single relative component). */
export function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  if (cut < 0) return '.';
  return cut === 0 ? '/' : trimmed.slice(0, cut);
}

/**
 * Create `dir` (and missing ancestors) so that it survives a power loss: a directory entry is
 * durable only once its parent directory is fsynced. Every level is synced, top down, even if it
 * already existed, because whoever created it may not have synced it (a few directory fsyncs
 * per open are cheap).
 */
export async function ensureDirDurable(fs: FileSystem, dir: string): Promise<void> {
  const chain: string[] = [];
  for (let at = dir.replace(/\/+$/, ''); at !== '' && at !== '/' && at !== '.'; at = parentDir(at)) chain.push(at);
  await fs.mkdirp(dir);
  for (const path of chain.reverse()) await fs.syncDir(parentDir(path));
}
