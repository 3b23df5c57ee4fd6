#!/usr/bin/env node
// Compiles src/wasm/kernels.wat with src/wasm/hnsw.wat spliced into its module (the sources of
// truth, hand-written; the graph code calls the kernels directly, so one module holds both) into
// two binaries under dist/wasm/: kernels.wasm imports an ordinary memory, kernels-shared.wasm a
// shared one (a shared memory import must declare a maximum and a non-shared one must not, so
// one binary cannot take both). Uses the `wabt` npm package (wabt compiled to wasm): nothing is
// downloaded.
//
//   node packages/segment/scripts/build-wasm.mjs           write the binaries if they changed
//   node packages/segment/scripts/build-wasm.mjs --check   exit 1 if they are missing or stale
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const source = `${packageDir}src/wasm/kernels.wat`;
/** Module fields (no `(module ...)` of their own) spliced in before kernels.wat's closing paren. */
const parts = [`${packageDir}src/wasm/hnsw.wat`];
const outDir = `${packageDir}dist/wasm`;

// 65536 pages of 64 KiB: the whole wasm32 address space (4 GiB). A shared memory's maximum is
// reserved up front as address space, not committed.
const PLAIN_IMPORT = '(import "env" "memory" (memory 1))';
const SHARED_IMPORT = '(import "env" "memory" (memory 1 65536 shared))';

// SIMD128, shared memories and bulk memory (memory.fill / memory.copy): nothing that Node 20
// cannot run (no relaxed SIMD).
const FEATURES = { simd: true, threads: true, bulk_memory: true };

function compile(wabt, name, text) {
  const module = wabt.parseWat(name, text, FEATURES);
  try {
    module.resolveNames();
    module.validate(FEATURES);
    return module.toBinary({ log: false, write_debug_names: true }).buffer;
  } finally {
    module.destroy();
  }
}

/** kernels.wat with the parts inserted before the parenthesis that closes its module. */
function splice(kernels, fields) {
  const close = kernels.lastIndexOf(')');
  if (close < 0) throw new Error(`${source} has no closing parenthesis`);
  return `${kernels.slice(0, close)}\n${fields.join('\n')}\n${kernels.slice(close)}`;
}

async function main() {
  const check = process.argv.includes('--check');
  const wat = splice(readFileSync(source, 'utf8'), parts.map((path) => readFileSync(path, 'utf8')));
  if (!wat.includes(PLAIN_IMPORT)) throw new Error(`${source} must import its memory as ${PLAIN_IMPORT}`);
  const wabt = await wabtInit();
  const outputs = [
    ['kernels.wasm', compile(wabt, 'kernels.wat', wat)],
    ['kernels-shared.wasm', compile(wabt, 'kernels.wat', wat.replace(PLAIN_IMPORT, SHARED_IMPORT))],
  ];
  let stale = 0;
  for (const [file, bytes] of outputs) {
    const path = `${outDir}/${file}`;
    const same = existsSync(path) && Buffer.from(bytes).equals(readFileSync(path));
    if (same) continue;
    stale++;
    if (check) {
      console.error(`${path} is missing or older than kernels.wat / hnsw.wat: run npm run build`);
    } else {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(path, bytes);
    }
  }
  if (check && stale > 0) process.exitCode = 1;
}

await main();
