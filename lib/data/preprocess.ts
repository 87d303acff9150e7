/**
 * The paper's input preprocessing (Balestriero & Baraniuk 2018, experiments of Sec. 4–5).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The paper's preprocessing: each image minus its own mean (over height, width and channels),
 * divided by its own largest absolute value after centering,
 * `x'_n = (x_n − mean(x_n)) / max|x_n − mean(x_n)|`, so every image lies in [−1, 1] with at
 * least one entry at ±1. A constant image (max 0) becomes all zeros.
 *
 * @param x Images `[N, H, W, C]`, float32, finite.
 * @returns The preprocessed images, same shape (a new tensor; `x` is not disposed).
 *
 * @example Two 1 × 2 × 1 images
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { preprocessPaper } from "./preprocess.ts";
 * import { deepEqual } from "node:assert/strict";
 * const x = tf.tensor4d([0, 1, 3, 3], [2, 1, 2, 1]);
 * deepEqual([...preprocessPaper(x).dataSync()], [-1, 1, 0, 0]);
 * ```
 */
export function preprocessPaper(x: tf.Tensor4D): tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new RangeError(
      `Cannot preprocess: input has rank ${(x as tf.Tensor)?.rank}, expected 4 ([N, H, W, C])`,
    );
  }
  if (x.dtype !== "float32") {
    throw new TypeError(`Cannot preprocess: input dtype is "${x.dtype}", expected "float32"`);
  }
  const bad = tf.tidy(() => tf.logicalNot(tf.isFinite(x)).any().dataSync()[0]);
  if (bad) throw new RangeError("Cannot preprocess: input contains NaN or ±Infinity");
  return tf.tidy(() => {
    const centered = x.sub(x.mean([1, 2, 3], true));
    const scale = centered.abs().max([1, 2, 3], true);
    return centered.div(tf.where(scale.greater(0), scale, tf.onesLike(scale))) as tf.Tensor4D;
  });
}
