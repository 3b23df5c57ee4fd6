// Seeded data and scalar references for the kernel tests and the benchmark script.

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scalar references in double precision over already-f32 values: [value, sum of |terms|]. */
export function refDot(a: ArrayLike<number>, b: ArrayLike<number>): [number, number] {
  let s = 0, m = 0;
  for (let j = 0; j < a.length; j++) {
    const t = (a[j] as number) * (b[j] as number);
    s += t;
    m += Math.abs(t);
  }
  return [s, m];
}

export function refL2sq(a: ArrayLike<number>, b: ArrayLike<number>): [number, number] {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += ((a[j] as number) - (b[j] as number)) ** 2;
  return [s, s];
}

export function refL1(a: ArrayLike<number>, b: ArrayLike<number>): [number, number] {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += Math.abs((a[j] as number) - (b[j] as number));
  return [s, s];
}

/** Differing bits, one bit at a time. */
export function refHamming(a: Uint32Array, b: Uint32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const x = ((a[j] as number) ^ (b[j] as number)) >>> 0;
    for (let bit = 0; bit < 32; bit++) s += (x >>> bit) & 1;
  }
  return s;
}
