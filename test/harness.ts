// Starts real node processes for black-box tests: the built server (`npm test` builds first),
// on a free port, with its own storage directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(REPO_ROOT, 'packages/server/dist/main.js');
const START_TIMEOUT_MS = 20_000;

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly storage: string;
  readonly process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash. */
  kill(): Promise<void>;
}

export function tempStorage(prefix = 'shoal-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeStorage(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface StartOptions {
  readonly storage?: string;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Run the process as this user and group (the caller must be root; the storage must be theirs). */
  readonly uid?: number;
  readonly gid?: number;
}

export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const storage = options.storage ?? tempStorage();
  const child = spawn(process.execPath, [MAIN, ...(options.args ?? [])], {
    cwd: storage,
    env: {
      PATH: process.env['PATH'] ?? '',
      QDRANT__SERVICE__HOST: '127.0.0.1',
      QDRANT__SERVICE__HTTP_PORT: '0',
      QDRANT__STORAGE__STORAGE_PATH: join(storage, 'storage'),
      QDRANT__LOG_LEVEL: 'INFO',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await waitForPort(child, () => output);
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    storage,
    process: child,
    output: () => output,
    stop: () => kill('SIGTERM'),
    kill: () => kill('SIGKILL'),
  };
}

/** The port from the "REST API listening" log line. */
async function waitForPort(child: ChildProcess, output: () => string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const match = /"port":(\d+)[^\n]*"msg":"REST API listening"/.exec(output());
    if (match !== null) return Number(match[1]);
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} during start:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

/** Lines of the server's log that report an unexpected exception. */
export function unexpectedErrors(output: string): string[] {
  return output.split('\n').filter((line) => /unexpected error|uncaught|unhandled|AssertionError/i.test(line));
}
