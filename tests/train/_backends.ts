import * as tf from "@tensorflow/tfjs";

/** Runs `f` on `backend` (restoring the previous backend) and returns its outputs' values. */
export async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const outs = tf.tidy(f);
    const vals = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return vals;
  } finally {
    await tf.setBackend(previous);
  }
}

/** A small deterministic generator (xorshift32) of the kernel fuzz tests' shapes and values. */
export function fuzzRng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return {
    int: (a: number, b: number) => a + Math.floor(next() * (b - a + 1)),
    pick: <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)],
    /**
     * Values in `offset` + [-1, 1) with about 10% exact zeros; `ties`: the non-zero ones on a
     * grid of thirds.
     */
    values: (n: number, options: { ties?: boolean; offset?: number } = {}) =>
      Float32Array.from({ length: n }, () => {
        if (next() < 0.1) return 0;
        const v = next() * 2 - 1;
        return (options.offset ?? 0) + (options.ties ? Math.round(v * 3) / 3 : v);
      }),
  };
}
