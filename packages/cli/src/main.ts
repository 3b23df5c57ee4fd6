// `shoal`: the admin CLI. Talks REST to one node (--url, $SHOAL_URL).
import { runCli } from './program.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

process.exitCode = await runCli(process.argv.slice(2), {
  fetch: (input, init) => fetch(input, init),
  io: { out: (text) => process.stdout.write(`${text}\n`), err: (text) => process.stderr.write(`${text}\n`) },
  env: process.env,
  clock: { now: () => performance.now(), sleep },
});
