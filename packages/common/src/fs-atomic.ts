import type { FileSystem } from './fs.js';

function dirname(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? (cut === 0 ? '/' : '.') : path.slice(0, cut);
}

/**
 * Replace `path` with `bytes` so that after a crash the file holds either its old or its new
 * contents, never a mix: write a temp file, fsync it, rename it over the target, fsync the
 * directory (without the last step the rename itself may be lost).
 */
export async function writeFileAtomic(fs: FileSystem, path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const temp = `${path}.tmp`;
  await fs.remove(temp);
  const file = await fs.openAppend(temp);
  try {
    for (const chunk of chunks) await file.append(chunk);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(temp, path);
  await fs.syncDir(dirname(path));
}
