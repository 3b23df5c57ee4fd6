// The executable (bin/shoal.mjs over the build that npm test makes first): its shebang,
// arguments and exit codes.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeNode } from './testing/fake-node.js';

const BIN = fileURLToPath(new URL('../bin/shoal.mjs', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function shoal(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('the shoal executable', () => {
  const node = new FakeNode({ self: 5, peers: [5, 6], collections: {} });

  beforeAll(async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run npm run build first`).toBe(true);
    await node.start();
  });

  afterAll(async () => {
    await node.stop();
  });

  it('runs from its shebang, reads SHOAL_URL, prints a table, exits 0', async () => {
    const r = await shoal(['cluster', 'peers'], { SHOAL_URL: node.url });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.split('\n')[0]).toBe('PEER  URI                    ROLE    THIS  REPLICAS');
  });

  it('exits 1 with the node\'s message, 2 for bad usage', async () => {
    const missing = await shoal(['--url', node.url, 'shards', 'list', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("shoal: Not found: Collection `nope` doesn't exist!\n");
    expect((await shoal(['cluster', 'remove-peer', 'x'])).code).toBe(2);
  });
});
