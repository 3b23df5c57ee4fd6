// Entry point of an optimization worker thread: runs each job it is sent and posts the output
// back, transferring its buffers; a DenseIndex's shared memory travels inside its handle.
import { parentPort } from 'node:worker_threads';
import { ShoalError } from '@shoal/common';
import { outputTransferList, runJob, type JobInput } from './job.js';

export interface WorkerRequest {
  readonly id: number;
  readonly input: JobInput;
}

export type WorkerReply =
  | { readonly id: number; readonly output: ReturnType<typeof runJob> }
  | { readonly id: number; readonly error: string; readonly kind: string | null };

const port = parentPort;
if (port !== null) {
  port.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const output = runJob(request.input);
      reply = { id: request.id, output };
      transfer = outputTransferList(output);
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? error.message : String(error), kind: error instanceof ShoalError ? error.kind : null };
    }
    port.postMessage(reply, transfer);
  });
}
