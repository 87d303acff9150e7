/**
 * The reductions masokit's training kernels speed up (batch-norm's statistics and their
 * gradients): float32 Sum/Mean over the leading axes of a tensor of rank ≥ 2.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A reduction over the leading `k` axes, seen as `[rows, cols] → [cols]`. */
export interface LeadingReduction {
  /** Product of the reduced (leading) dimensions. */
  readonly rows: number;
  /** Product of the kept dimensions. */
  readonly cols: number;
  /** The output shape (`keepDims` honoured). */
  readonly shape: number[];
}

/**
 * Recognises a Sum/Mean kernel call that reduces exactly the leading axes of a non-empty
 * float32 tensor of rank ≥ 2; anything else is left to tfjs' own kernel (`null`).
 *
 * @param x The input's dtype and shape.
 * @param attrs The kernel's `axis` and `keepDims`.
 * @returns The reduction as rows × cols, or `null`.
 */
export function leadingReduction(
  x: { dtype: string; shape: number[] },
  attrs: { axis?: unknown; keepDims?: unknown },
): LeadingReduction | null {
  const rank = x.shape.length;
  if (x.dtype !== "float32" || rank < 2) return null;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) =>
    a - b
  );
  const k = axes.length;
  if (k === 0 || k === rank || axes.some((a, i) => a !== i)) return null;
  const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
  const cols = tf.util.sizeFromShape(x.shape.slice(k));
  if (rows === 0 || cols === 0) return null;
  const shape = attrs.keepDims === true ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  return { rows, cols, shape };
}
