import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCommand, ScenarioEnv } from './scenario-env.js';

/**
 * Runs packages/raft/scenarios/*.txt. Each block is a command line, a `----` line, then the
 * expected output up to a blank line. REWRITE=1 rewrites the expectations from the actual
 * output (read every changed block before committing it).
 */

const dir = new URL('../scenarios/', import.meta.url);

interface Block {
  readonly comments: string[];
  readonly command: string;
  readonly expected: string;
}

function parse(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i += 1;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i += 1;
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after command`);
    let j = i + 2;
    const out: string[] = [];
    while (j < lines.length && lines[j] !== '') out.push(lines[j++]!);
    blocks.push({ comments, command: line, expected: out.join('\n') });
    comments = [];
    i = j;
  }
  return { blocks, trailer: comments };
}

function render(blocks: readonly Block[], outputs: readonly string[], trailer: readonly string[]): string {
  const parts: string[] = [];
  blocks.forEach((b, k) => {
    parts.push(...b.comments, b.command, '----', outputs[k]!, '');
  });
  const text = parts.join('\n');
  return trailer.length > 0 ? `${text}${trailer.join('\n')}\n` : text;
}

function normalise(text: string): string {
  return text.replace(/\n+$/, '\n');
}

const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

describe('raft scenarios', () => {
  it('finds the scenario files', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  for (const file of files) {
    it(file, () => {
      const url = new URL(file, dir);
      const original = readFileSync(url, 'utf8');
      const { blocks, trailer } = parse(original);
      const env = new ScenarioEnv();
      const outputs: string[] = [];
      let failure: unknown;
      for (const b of blocks) {
        try {
          outputs.push(env.run(parseCommand(b.command)));
        } catch (e) {
          failure = e;
          outputs.push(`error: ${e instanceof Error ? e.message : String(e)}`);
          break;
        }
      }
      const ran = blocks.slice(0, outputs.length);
      const actual = render(ran, outputs, outputs.length === blocks.length ? trailer : []);
      if (process.env['REWRITE'] === '1') {
        // A failing check is never frozen in: the file keeps the run up to the failure for reading.
        writeFileSync(url, failure === undefined ? actual : actual + render(blocks.slice(outputs.length), blocks.slice(outputs.length).map((b) => b.expected), trailer));
        if (failure !== undefined) throw failure;
        return;
      }
      if (failure !== undefined) throw failure;
      expect(normalise(actual)).toBe(normalise(render(blocks, blocks.map((b) => b.expected), trailer)));
    });
  }
});
