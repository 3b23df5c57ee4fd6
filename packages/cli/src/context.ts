// What every command gets: the client for the node, where to write, and the clock it waits by
// (injected, so tests drive polling without real pauses).
import type { RestClient } from './client.js';
import { prettyJson } from './json-text.js';
import { formatFields, formatTable, type Cell } from './table.js';

export interface Io {
  /** Results: tables, or JSON with -o json. */
  out(text: string): void;
  /** Progress, warnings, errors. */
  err(text: string): void;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface Context {
  readonly client: RestClient;
  readonly io: Io;
  readonly json: boolean;
  readonly clock: Clock;
  /** Pause between polls of a running transfer, ms. */
  readonly pollMs: number;
}

/** Prints `value` as JSON with -o json, else the table `render` makes of it. */
export function show(ctx: Context, value: unknown, render: () => string): void {
  ctx.io.out(ctx.json ? prettyJson(value) : render());
}

export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return formatTable(headers, rows);
}

export function fields(pairs: readonly (readonly [string, Cell])[]): string {
  return formatFields(pairs);
}
