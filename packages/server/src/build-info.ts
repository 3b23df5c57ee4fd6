// What GET / reports. `version` is the Qdrant API level this node implements: the official
// clients compare it with their own and warn when it is more than one minor version away.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const API_VERSION = '1.19.0';
export const TITLE = 'shoal - vector search engine';

/** The source commit (40 hex): from git when run from a checkout, else derived from the package. */
export function sourceCommit(repoRoot: string): string {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 })
      .toString()
      .trim();
    if (/^[0-9a-f]{40}$/.test(out)) return out;
  } catch {
    // not a git checkout (an installed package or an image): fall through
  }
  const pkg = readFileSync(`${repoRoot}/package.json`);
  return createHash('sha1').update(pkg).digest('hex');
}
