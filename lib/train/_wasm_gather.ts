/**
 * `GatherV2` on tfjs's `wasm` backend by whole-row copies. `train` picks each batch out of the
 * training set with `tf.gather(x, indices)` along axis 0; tfjs-wasm's kernel walks the output
 * element by element, 1.6–2 ms for 10 CIFAR images out of 3,000 (≈10% of a batch-10 smallCNN
 * step), where copying the 10 rows of 3,072 floats takes microseconds.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Info, WasmBackendLike } from "../backend/_wasm_ops.ts";

/** Switch for A/B runs (bench/train_step_bench.ts `--ab=gather`); on by default. */
export const wasmGatherRows: {
  /** Copy rows when it applies; otherwise always tfjs-wasm's own kernel. */
  enabled: boolean;
  /** The fewest elements a gathered slice must have for the row copies (a copy call each). */
  minSlice: number;
  /** How many gathers the row copies have done (tests check that they ran). */
  runs: number;
} = { enabled: true, minSlice: 16, runs: 0 };

const COPYABLE = new Set(["float32", "int32", "bool"]);

/**
 * Gathers `x`'s slices along `axis` at `indices` (no batch dimensions), or returns null where
 * the row copies do not apply (disabled, `batchDims` ≠ 0, a dtype other than float32, int32 or
 * bool, indices not int32, an empty tensor, or slices shorter than `minSlice`: the caller then
 * runs tfjs's kernel). Throws tfjs's own error for an index out of range:
 * "GatherV2: the index value 7 is not in [0, 4]".
 */
export function gatherRows(
  backend: WasmBackendLike,
  x: Info,
  indices: Info,
  axisAttr: number,
  batchDims: number,
): Info | null {
  if (!wasmGatherRows.enabled || batchDims !== 0) return null;
  if (!COPYABLE.has(x.dtype) || indices.dtype !== "int32") return null;
  const axis = tf.util.parseAxisParam(axisAttr, x.shape)[0];
  const dim = x.shape[axis];
  const slice = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const n = tf.util.sizeFromShape(indices.shape);
  if (slice < wasmGatherRows.minSlice || n === 0 || tf.util.sizeFromShape(x.shape) === 0) {
    return null;
  }
  const idx = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let j = 0; j < n; j++) {
    const v = idx[j];
    if (!(v >= 0 && v <= dim - 1)) {
      throw new Error(`GatherV2: the index value ${v} is not in [0, ${dim - 1}]`);
    }
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const out = backend.makeOutput(
    [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)],
    x.dtype,
  );
  // views after the allocation (an allocation may move the heap)
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const at = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const from = (o * dim + at[j]) * slice;
      dst.set(src.subarray(from, from + slice), (o * n + j) * slice);
    }
  }
  wasmGatherRows.runs++;
  return out;
}
