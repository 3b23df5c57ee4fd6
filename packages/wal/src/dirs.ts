import type { FileSystem } from '@shoal/common';

/** The parent of a '/'-separated path ('' for a single relative component). */
export function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  if (cut < 0) return '.';
  return cut === 0 ? '/' : trimmed.slice(0, cut);
}

/**
 * Create `dir` (and missing ancestors) so that the creation survives a power loss: a new
 * directory entry is durable only once its parent directory is fsynced, so every ancestor's
 * parent is synced, from the top down.
 */
export async function ensureDirDurable(fs: FileSystem, dir: string): Promise<void> {
  const chain: string[] = [];
  for (let at = dir.replace(/\/+$/, ''); at !== '' && at !== '/' && at !== '.'; at = parentDir(at)) chain.push(at);
  const missing: string[] = [];
  for (const path of chain) {
    if (await fs.exists(path)) break;
    missing.push(path);
  }
  if (missing.length === 0) return;
  await fs.mkdirp(dir);
  for (const path of missing.reverse()) await fs.syncDir(parentDir(path));
}
