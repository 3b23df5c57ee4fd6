// Test support: nodes of one cluster in this process, each with its own storage
// (MemoryFileSystem), real Raft over gRPC and the Points service on 127.0.0.1. Not exported from
// the package.
import { createServer } from 'node:net';
import { MemoryFileSystem } from '@shoal/common';
import { ClusterConsensus } from './consensus-node.js';
import type { DataPlaneTiming, TransferTiming } from './limits.js';
import { localShardOpener } from './local-storage.js';
import { LocalNode } from './node.js';
import type { RaftMetaSource } from './raft-meta-source.js';
import type { BeforeBatchHook } from './transfer-source.js';

export interface Member {
  readonly id: number;
  readonly node: LocalNode;
  readonly consensus: ClusterConsensus;
  readonly uri: string;
  readonly port: number;
  readonly fs: MemoryFileSystem;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

export interface MemberOptions {
  readonly bootstrapUri?: string;
  readonly fs?: MemoryFileSystem;
  readonly timing?: Partial<DataPlaneTiming>;
  readonly transferTiming?: Partial<TransferTiming>;
  readonly beforeTransferBatch?: BeforeBatchHook;
}

export async function startMember(id: number, port: number, options: MemberOptions = {}): Promise<Member> {
  const fs = options.fs ?? new MemoryFileSystem();
  const uri = `http://127.0.0.1:${port}`;
  let consensus: ClusterConsensus | undefined;
  let source: RaftMetaSource | undefined;
  const node: LocalNode = new LocalNode({
    fs,
    storagePath: '/s',
    openMetaSource: async (listener) => {
      consensus = await ClusterConsensus.start({
        peerId: node.peerId, uri, bootstrapUri: options.bootstrapUri, listen: `127.0.0.1:${port}`, fs, dir: '/s/raft', log: () => undefined, timing: { tickMs: 50 },
      });
      node.attachCluster(consensus.link());
      source = consensus.openMetaSource(listener);
      return source;
    },
    openShard: localShardOpener(fs, () => undefined),
    newPeerId: () => id,
    timing: { writeTimeoutMs: 8_000, readTimeoutMs: 8_000, ...options.timing },
    ...(options.transferTiming === undefined ? {} : { transferTiming: options.transferTiming }),
    ...(options.beforeTransferBatch === undefined ? {} : { beforeTransferBatch: options.beforeTransferBatch }),
  });
  await node.open();
  source!.start();
  consensus!.servePoints((method, request, signal) => node.answerPoints(method, request, signal));
  return { id, node, consensus: consensus!, uri, port, fs };
}

export async function stopMember(member: Member): Promise<void> {
  await member.consensus.close();
  await member.node.close();
}

export async function waitUntil(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
