import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const pkg = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));
const packages = ['common', 'segment', 'wal', 'shard', 'meta', 'raft', 'consensus', 'sim', 'cluster', 'api', 'server'];

export default defineConfig({
  resolve: {
    // Unit tests run against the sources; integration tests start the built server.
    alias: Object.fromEntries(packages.map((name) => [`@shoal/${name}`, pkg(name)])),
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'test-cluster/**/*.test.ts'],
    exclude: ['**/dist/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
