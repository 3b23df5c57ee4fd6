// shoal shard-keys list | create | delete (collections with sharding_method: custom)
import { Option, type Command } from 'commander';
import { collectionPath } from '../client.js';
import { UsageError } from '../errors.js';
import { show, table, type Context } from '../context.js';
import { peerIdToJson, peerListArg, positiveIntArg, type PeerId } from '../ids.js';
import { arrayAt, objectAt, optionalShardKeyAt, shardKeyText, type ShardKey } from '../shape.js';
import { expectTrue } from '../transfer.js';
import { action, type CliDeps } from './common.js';

const U64_MAX = (1n << 64n) - 1n;

type KeyType = 'auto' | 'string' | 'number';

/**
 * A shard key from the command line. Qdrant's keys are strings or u64 integers and `7` differs
 * from `"7"`: by default digits make an integer; --key-type string keeps them a string.
 */
export function parseShardKey(text: string, type: KeyType): ShardKey {
  if (type === 'string') return text;
  if (/^\d{1,20}$/.test(text) && BigInt(text) <= U64_MAX) {
    const value = BigInt(text);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (type === 'number') throw new UsageError(`--key-type number needs an integer in [0, 2^64), got '${text}'`);
  if (text === '') throw new UsageError('a shard key cannot be empty');
  return text;
}

function keyTypeOption(): Option {
  return new Option('--key-type <type>', 'how to read <key>: digits as an integer (auto), or always a string').choices(['auto', 'string', 'number']).default('auto');
}

export function registerShardKeys(program: Command, deps: CliDeps): void {
  const keys = program.command('shard-keys').description('shard keys of collections with custom sharding');
  keys.command('list').description('the shard keys of a collection').argument('<collection>').action(action(deps, list));
  keys
    .command('create')
    .description('create a shard key with its own shards')
    .argument('<collection>')
    .argument('<key>')
    .addOption(keyTypeOption())
    .option('--shards <n>', 'shards for this key (default: the collection\'s shard_number)', positiveIntArg)
    .option('--replication-factor <n>', 'replicas per shard (default: the collection\'s)', positiveIntArg)
    .option('--placement <peers>', 'comma-separated peer ids to place the shards on', peerListArg)
    .action(action(deps, create));
  keys
    .command('delete')
    .description('delete a shard key and all its shards (and their points)')
    .argument('<collection>')
    .argument('<key>')
    .addOption(keyTypeOption())
    .action(action(deps, remove));
}

async function list(ctx: Context, [name]: readonly unknown[]): Promise<void> {
  const raw = await ctx.client.get(collectionPath(name as string, '/shards'));
  const listed = objectAt(raw, 'result')['shard_keys'];
  show(ctx, raw, () => {
    if (listed === null || listed === undefined) return `collection ${String(name)} does not use custom sharding: it has no shard keys`;
    const rows = arrayAt(listed, 'result.shard_keys').map((k, i) => {
      const key = optionalShardKeyAt(objectAt(k, `result.shard_keys[${i}]`)['key'], `result.shard_keys[${i}].key`);
      return [shardKeyText(key), typeof key === 'string' ? 'string' : 'integer'];
    });
    return table(['key', 'type'], rows);
  });
}

interface CreateOptions {
  readonly keyType: KeyType;
  readonly shards?: number;
  readonly replicationFactor?: number;
  readonly placement?: PeerId[];
}

async function create(ctx: Context, [name, text]: readonly unknown[], options: CreateOptions): Promise<void> {
  const key = parseShardKey(text as string, options.keyType);
  const body = {
    shard_key: key,
    ...(options.shards === undefined ? {} : { shards_number: options.shards }),
    ...(options.replicationFactor === undefined ? {} : { replication_factor: options.replicationFactor }),
    ...(options.placement === undefined ? {} : { placement: options.placement.map(peerIdToJson) }),
  };
  const result = await ctx.client.put(collectionPath(name as string, '/shards'), body);
  expectTrue(result, `create shard key ${String(key)}`);
  show(ctx, result, () => `created shard key ${String(key)} in ${String(name)}`);
}

async function remove(ctx: Context, [name, text]: readonly unknown[], options: { keyType: KeyType }): Promise<void> {
  const key = parseShardKey(text as string, options.keyType);
  const result = await ctx.client.post(collectionPath(name as string, '/shards/delete'), { shard_key: key });
  expectTrue(result, `delete shard key ${String(key)}`);
  show(ctx, result, () => `deleted shard key ${String(key)} from ${String(name)}`);
}
