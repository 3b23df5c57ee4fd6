// GET /collections/{c}/shards/{id}/snapshot: this node's replica of a shard, streamed as a shard
// archive (a ustar file, see packages/shard/README.md) while it is read: the capture is taken
// before the answer starts (so a refusal is a 4xx in the error envelope), the files follow as the
// client reads them, and the capture's pin on the shard's files goes when the stream ends, fails
// or the client goes away.
import { errorEnvelope, httpErrorOf } from '@shoal/api';
import { ShoalError } from '@shoal/common';
import type { CollectionsService } from '@shoal/cluster';
import type { Hono } from 'hono';
import { jsonResponse, requestOptions, type RestOptions } from './http.js';

const SHARD_ID = /^\d{1,10}$/;

export function registerShardSnapshotRoutes(app: Hono, service: CollectionsService, options: RestOptions): void {
  app.get('/collections/:name/shards/:shard/snapshot', async (c) => {
    const startMs = performance.now();
    try {
      const raw = c.req.param('shard');
      if (!SHARD_ID.test(raw) || Number(raw) > 0xffff_ffff) {
        throw new ShoalError('bad_request', `Path deserialize error: shard_id: invalid digit found in string`);
      }
      if (service.shardArchive === undefined) throw new ShoalError('unsupported', 'the shard snapshot API is not supported by this node yet');
      const request = requestOptions(c);
      const archive = await service.shardArchive(c.req.param('name'), Number(raw), request);
      const signal = c.req.raw.signal;
      const chunks = archive.chunks();
      const onAbort = (): void => {
        void chunks.return(undefined).catch(() => undefined);
        archive.release();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const next = await chunks.next();
            if (next.done === true) {
              signal.removeEventListener('abort', onAbort);
              controller.close();
            } else {
              controller.enqueue(next.value);
            }
          } catch (error) {
            signal.removeEventListener('abort', onAbort);
            archive.release();
            if (!(error instanceof ShoalError)) options.onUnexpectedError?.(error, c.req.method, c.req.path);
            controller.error(error);
          }
        },
        async cancel() {
          onAbort();
        },
      });
      return new Response(body, {
        status: 200,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(archive.size),
          'content-disposition': `attachment; filename="${archive.filename}"`,
        },
      });
    } catch (error) {
      const { status, message } = httpErrorOf(error);
      if (!(error instanceof ShoalError)) options.onUnexpectedError?.(error, c.req.method, c.req.path);
      return jsonResponse(status, errorEnvelope(message, (performance.now() - startMs) / 1000));
    }
  });
}
