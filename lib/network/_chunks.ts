/**
 * Engine calls in chunks of examples, so that a large batch does not need all its
 * intermediates at once: the largest intermediate of a chunk (rows × the network's largest
 * activation) stays within a byte budget, and the chunks' outputs are concatenated. A batch
 * that fits is passed through whole. (All 10 templates of 1,024 CIFAR images through smallCNN
 * need 10,240 rows of 28,800 values per intermediate: 1.2 GB in float32 — more than
 * tfjs-wasm's heap holds once a few are alive.)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SplineNetwork } from "./spline_network.ts";

/** Bytes the largest intermediate of one chunk may take (tests lower it). */
export const chunking = { bytes: 256 * 2 ** 20 };

/**
 * Examples per chunk: `rowsPerExample` rows of the network's largest activation, at
 * `bytesPerValue`, within {@linkcode chunking}'s budget (at least 1).
 */
export function examplesPerChunk(
  net: SplineNetwork,
  rowsPerExample: number,
  bytesPerValue: number,
): number {
  const perExample = net.largestActivation * rowsPerExample * bytesPerValue;
  return Math.max(1, Math.floor(chunking.bytes / perExample));
}

/**
 * Runs `fn` on consecutive slices of `x` along axis 0 (at most `step` examples each) and
 * concatenates each of its outputs along axis 0; `fn(x)` when `x` fits in one chunk.
 */
export function tensorChunks(
  x: tf.Tensor,
  step: number,
  fn: (part: tf.Tensor) => tf.Tensor[],
): tf.Tensor[] {
  const n = x.shape[0];
  if (n <= step) return fn(x);
  const parts: tf.Tensor[][] = [];
  try {
    for (let s = 0; s < n; s += step) {
      const slice = tf.slice(x, s, Math.min(step, n - s));
      try {
        parts.push(fn(slice));
      } finally {
        slice.dispose();
      }
    }
    return parts[0].map((_, k) => tf.concat(parts.map((p) => p[k]), 0));
  } finally {
    for (const p of parts) tf.dispose(p);
  }
}

/**
 * Runs `fn(start, count)` on consecutive ranges of `total` examples (at most `step` each),
 * each returning arrays with an equal number of values per example, and concatenates each
 * output in example order; `fn(0, total)` when they fit in one chunk.
 */
export function arrayChunks<T extends Float64Array | Uint8Array | Uint16Array | Uint32Array>(
  total: number,
  step: number,
  fn: (start: number, count: number) => T[],
): T[] {
  if (total <= step) return fn(0, total);
  let out: T[] | null = null;
  for (let s = 0; s < total; s += step) {
    const count = Math.min(step, total - s);
    const parts = fn(s, count);
    out ??= parts.map((p) => new (p.constructor as new (n: number) => T)(p.length / count * total));
    parts.forEach((p, k) => out![k].set(p, p.length / count * s));
  }
  return out!;
}
