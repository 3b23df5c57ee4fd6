#!/usr/bin/env node
// Micro-benchmark of the distance kernels: ns per distance, WebAssembly SIMD vs the JS fallback,
// interleaved in one run (numbers on shared machines drift; compare within a run only).
// Data sits in cache (ROWS rows); this measures arithmetic and call overhead, not memory.
//
//   npm run build && node scripts/bench-kernels.mjs [rounds]
//
// pair:  one call per distance (includes the JS->wasm crossing, ~12-20 ns)
// batch: one call per neighbour list of ROWS random row indexes
// range: one call scoring ROWS consecutive rows (exact scan)
import { Arena, createKernels } from '@shoal/segment';

const DIMS = [100, 128, 768];
const ROWS = 256;
const ROUNDS = Number(process.argv[2] ?? 5);
const TARGET_NS = 20e6; // each measurement runs about 20 ms

// Kernel name, bytes per row for a dimension, the dim argument (Hamming takes 64-bit words of
// `d` bits), and how to fill random data.
const KERNELS = [
  { name: 'dotF32', bytes: (d) => 4 * d, arg: (d) => d, kind: 'f32' },
  { name: 'l2sqF32', bytes: (d) => 4 * d, arg: (d) => d, kind: 'f32' },
  { name: 'l1F32', bytes: (d) => 4 * d, arg: (d) => d, kind: 'f32' },
  { name: 'dotI8', bytes: (d) => d, arg: (d) => d, kind: 'bytes' },
  { name: 'hamming', bytes: (d) => 8 * Math.ceil(d / 64), arg: (d) => Math.ceil(d / 64), kind: 'bytes' },
];

let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};

function fill(arena, kind, ptr, bytes) {
  if (kind === 'f32') {
    const v = arena.f32(ptr, bytes / 4);
    for (let j = 0; j < v.length; j++) v[j] = random() * 2 - 1;
  } else {
    const v = arena.u8(ptr, bytes);
    for (let j = 0; j < v.length; j++) v[j] = Math.floor(random() * 256);
  }
}

// Each loop is compiled from its own source text so that V8 keeps separate type feedback per
// kernel and implementation (closures of one source share it and would turn polymorphic).
function makeLoops() {
  const pair = new Function('f', 'q', 'rows', 'stride', 'dim', 'n', 'reps', `
    let s = 0;
    for (let r = 0; r < reps; r++) for (let i = 0; i < n; i++) s += f(q, rows + i * stride, dim);
    return s;`);
  const list = new Function('f', 'q', 'rows', 'dim', 'arg4', 'n', 'out', 'stride', 'reps', `
    for (let r = 0; r < reps; r++) f(q, rows, dim, arg4, n, out, stride);
    return 0;`);
  return { pair, list };
}

function time(run, perCall) {
  let reps = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(reps);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= TARGET_NS) return ns / (reps * perCall);
    reps = Math.max(reps * 2, Math.ceil((reps * TARGET_NS) / Math.max(ns, 1)));
  }
}

function setup(implementation, kernel, d) {
  const arena = new Arena({ initialBytes: 8 << 20 });
  const k = createKernels(arena.memory, { implementation });
  const bytes = kernel.bytes(d);
  const stride = Math.ceil(bytes / 16) * 16;
  const q = arena.alloc(stride);
  const rows = arena.alloc(stride * ROWS);
  fill(arena, kernel.kind, q, bytes);
  fill(arena, kernel.kind, rows, stride * ROWS);
  const offsets = arena.alloc(4 * ROWS);
  const ids = arena.u32(offsets, ROWS);
  for (let i = 0; i < ROWS; i++) ids[i] = Math.floor(random() * ROWS);
  const out = arena.alloc(4 * ROWS);
  const loops = { pair: makeLoops().pair, batch: makeLoops().list, range: makeLoops().list };
  const f = k[kernel.name], fb = k[`${kernel.name}Batch`], fr = k[`${kernel.name}Range`];
  const dim = kernel.arg(d);
  return {
    pair: () => time((reps) => loops.pair(f, q, rows, stride, dim, ROWS, reps), ROWS),
    batch: () => time((reps) => loops.batch(fb, q, rows, dim, offsets, ROWS, out, stride, reps), ROWS),
    range: () => time((reps) => loops.range(fr, q, rows, dim, 0, ROWS, out, stride, reps), ROWS),
  };
}

const best = new Map();
const benches = [];
for (const d of DIMS) {
  for (const kernel of KERNELS) {
    for (const implementation of ['wasm-simd', 'js']) benches.push({ d, kernel, implementation, b: setup(implementation, kernel, d) });
  }
}
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved: every kernel and implementation once per round, best of the rounds kept.
  for (const { d, kernel, implementation, b } of benches) {
    for (const mode of ['pair', 'batch', 'range']) {
      const key = `${d}|${kernel.name}|${mode}|${implementation}`;
      best.set(key, Math.min(best.get(key) ?? Infinity, b[mode]()));
    }
  }
}

const fmt = (x) => x.toFixed(x < 10 ? 2 : 1).padStart(7);
console.log(`ns per distance, best of ${ROUNDS} rounds, ${ROWS} rows in cache, Node ${process.versions.node}`);
console.log('| d | kernel | pair wasm | pair js | batch wasm | batch js | range wasm | range js | batch js/wasm |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const d of DIMS) {
  for (const kernel of KERNELS) {
    const g = (mode, impl) => best.get(`${d}|${kernel.name}|${mode}|${impl}`);
    const dLabel = kernel.name === 'hamming' ? `${d} bits` : String(d);
    console.log(`| ${dLabel} | ${kernel.name} | ${fmt(g('pair', 'wasm-simd'))} | ${fmt(g('pair', 'js'))} | ${fmt(g('batch', 'wasm-simd'))} | ${fmt(g('batch', 'js'))} | ${fmt(g('range', 'wasm-simd'))} | ${fmt(g('range', 'js'))} | ${(g('batch', 'js') / g('batch', 'wasm-simd')).toFixed(1)}x |`);
  }
}
