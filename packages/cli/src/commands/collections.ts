// shoal collections list | info
import type { Command } from 'commander';
import { collectionPath } from '../client.js';
import { fields, show, table, type Context } from '../context.js';
import { fetchCollectionNames } from '../layout.js';
import type { Cell } from '../table.js';
import { action, type CliDeps } from './common.js';

export function registerCollections(program: Command, deps: CliDeps): void {
  const collections = program.command('collections').description('collections and their configuration');
  collections.command('list').description('every collection with its status, points, shards and replication').action(action(deps, list));
  collections.command('info').description('one collection\'s status and configuration').argument('<collection>').action(action(deps, info));
}

/** A value at a dotted path of a response, as a table cell (display only: absent is '-'). */
function at(value: unknown, path: string): Cell {
  let node = value;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return null;
    node = (node as Record<string, unknown>)[part];
  }
  if (node === undefined || node === null) return null;
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'bigint' || typeof node === 'boolean') return node;
  return JSON.stringify(node);
}

async function list(ctx: Context): Promise<void> {
  if (ctx.json) {
    show(ctx, await ctx.client.get('/collections'), () => '');
    return;
  }
  const rows: Cell[][] = [];
  for (const name of await fetchCollectionNames(ctx.client)) {
    const c = await ctx.client.get(collectionPath(name));
    rows.push([name, at(c, 'status'), at(c, 'points_count'), at(c, 'segments_count'), at(c, 'config.params.shard_number'), at(c, 'config.params.replication_factor')]);
  }
  ctx.io.out(table(['name', 'status', 'points', 'segments', 'shards', 'replication'], rows));
}

/** `size distance` of one vector space, or each named space's. */
function vectorsText(vectors: unknown): string {
  if (typeof vectors !== 'object' || vectors === null) return '-';
  const v = vectors as Record<string, unknown>;
  if ('size' in v) return `${String(v['size'])} ${String(v['distance'])}`;
  return Object.entries(v)
    .map(([name, space]) => `${name}: ${vectorsText(space)}`)
    .join(', ');
}

async function info(ctx: Context, [name]: readonly unknown[]): Promise<void> {
  const c = await ctx.client.get(collectionPath(name as string));
  show(ctx, c, () => {
    const params = (c as { config?: { params?: { vectors?: unknown } } }).config?.params;
    const schema = (c as { payload_schema?: Record<string, unknown> }).payload_schema ?? {};
    return fields([
      ['name', name as string],
      ['status', at(c, 'status')],
      ['optimizer_status', at(c, 'optimizer_status')],
      ['points_count', at(c, 'points_count')],
      ['indexed_vectors_count', at(c, 'indexed_vectors_count')],
      ['segments_count', at(c, 'segments_count')],
      ['vectors', vectorsText(params?.vectors)],
      ['shard_number', at(c, 'config.params.shard_number')],
      ['sharding_method', at(c, 'config.params.sharding_method') ?? 'auto'],
      ['replication_factor', at(c, 'config.params.replication_factor')],
      ['write_consistency_factor', at(c, 'config.params.write_consistency_factor')],
      ['on_disk_payload', at(c, 'config.params.on_disk_payload')],
      ['payload_indexes', Object.entries(schema).map(([field, s]) => `${field} (${String(at(s, 'data_type'))})`).join(', ') || null],
    ]);
  });
}
