/**
 * The filter of a conv's input gradient on tfjs-wasm's heap, `K'[i, j, o, c] = K[kh−1−i,
 * kw−1−j, c, o]` (flipped in both spatial axes, its channels swapped), in one pass: tfjs-wasm's
 * `Reverse` took 1.5 ms for smallCNN's [3, 3, 32, 64] filter and 19 ms for largeCNN's
 * [3, 3, 192, 192], at every training step (bench/RESULTS.md, twenty-third session).
 *
 * @module
 */
import type { Info, WasmBackendLike } from "../backend/_wasm_ops.ts";

/** Switch for A/B runs (bench/train_step_bench.ts `--ab=flip`); on by default. */
export const wasmFilterFlip: {
  /** One pass; off: tfjs-wasm's `Reverse`, then `Transpose`. */
  enabled: boolean;
} = { enabled: true };

/**
 * `K'` of an HWIO filter `K` `[kh, kw, c, o]` as a new `[kh, kw, o, c]` tensor, or null where
 * switched off (the caller then reverses and transposes with tfjs's kernels).
 *
 * @param backend The tfjs-wasm backend.
 * @param filter The filter.
 * @returns The flipped, transposed filter, or null.
 */
export function flippedTransposed(backend: WasmBackendLike, filter: Info): Info | null {
  if (!wasmFilterFlip.enabled) return null;
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], filter.dtype);
  // views after the allocation (an allocation may move the heap)
  const src = backend.typedArrayFromHeap(filter), dst = backend.typedArrayFromHeap(out);
  const tap = ci * co;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * tap, to = (i * kw + j) * tap;
      for (let c = 0; c < ci; c++) {
        const row = from + c * co;
        for (let o = 0; o < co; o++) dst[to + o * ci + c] = src[row + o];
      }
    }
  }
  return out;
}
