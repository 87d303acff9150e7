/**
 * `Slice` on tfjs's `wasm` backend by runs of whole trailing axes. The gradient of a zero-padding
 * layer (largeCNN's "full" convs) crops every image: tfjs-wasm's kernel copies one innermost row
 * at a time (96 channels: 20,736 copies for a [16, 38, 38, 96] → [16, 36, 36, 96] crop), where
 * each image row's 36 × 96 floats can go at once (576 copies): largeCNN's training step 1.04×
 * (bench/train_step_bench.ts `--ab=slice`, bench/RESULTS.md).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Info, WasmBackendLike } from "../backend/_wasm_ops.ts";

/** Switch for A/B runs (bench/train_step_bench.ts `--ab=slice`); on by default. */
export const wasmSliceRuns: {
  /** Copy runs when it applies; otherwise always tfjs-wasm's own kernel. */
  enabled: boolean;
  /** The fewest elements a run must have (a copy call each). */
  minRun: number;
  /** How many slices the runs have done (tests check that they ran). */
  runs: number;
} = { enabled: true, minRun: 256, runs: 0 };

const COPYABLE = new Set(["float32", "int32", "bool"]);

/**
 * `x[begin : begin + size]` (tfjs's `Slice` attributes) by runs, or null where the runs do not
 * apply (switched off, a dtype other than float32, int32 or bool, a slice that is one contiguous
 * range — tfjs-wasm copies it at once — or runs shorter than `minRun`: the caller then runs
 * tfjs's kernel).
 *
 * @param backend The tfjs-wasm backend.
 * @param x The input.
 * @param beginAttr The begin attribute (a number or one per axis).
 * @param sizeAttr The size attribute (−1: to the end).
 * @returns The slice, or null.
 */
export function sliceRuns(
  backend: WasmBackendLike,
  x: Info,
  beginAttr: number | number[],
  sizeAttr: number | number[],
): Info | null {
  if (!wasmSliceRuns.enabled || !COPYABLE.has(x.dtype)) return null;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.TensorInfo & { shape: number[] },
    beginAttr,
    sizeAttr,
  );
  const shape = x.shape, rank = shape.length;
  if (rank === 0 || size.some((d) => d === 0)) return null;
  if (tf.slice_util.isSliceContinous(shape, begin, size)) return null;
  // q: the last axis that is not whole; a run is size[q] × the whole axes after it
  let q = rank - 1;
  while (q > 0 && begin[q] === 0 && size[q] === shape[q]) q--;
  const inner = tf.util.sizeFromShape(shape.slice(q + 1));
  const run = size[q] * inner;
  if (run < wasmSliceRuns.minRun) return null;
  const strides = tf.util.computeStrides(shape);
  const out = backend.makeOutput(size, x.dtype);
  // views after the allocation (an allocation may move the heap)
  const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
  const outer = tf.util.sizeFromShape(size.slice(0, q));
  const index = new Array<number>(q).fill(0);
  for (let r = 0; r < outer; r++) {
    let from = begin[q] * inner;
    for (let a = 0; a < q; a++) from += (begin[a] + index[a]) * strides[a];
    dst.set(src.subarray(from, from + run), r * run);
    for (let a = q - 1; a >= 0; a--) {
      if (++index[a] < size[a]) break;
      index[a] = 0;
    }
  }
  wasmSliceRuns.runs++;
  return out;
}
