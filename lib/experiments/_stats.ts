/**
 * Statistics behind the experiments' verdicts, kept apart so tests can check them by hand
 * (private: not part of the public API).
 *
 * @module
 */

/**
 * The largest relative error over rows of `width` values: max over rows of
 * max_i |a_i − b_i| / max_i |b_i| (0 for an exact row, the whole row's error over the smallest
 * positive number when `b`'s row is all zero). A NaN in any row makes the result NaN, so a
 * bound checked on it fails.
 *
 * @param a The computed values, row after row.
 * @param b The reference values, as many as `a`.
 * @param width Values per row.
 * @returns The worst row's relative error, or NaN.
 * @example A NaN row is not hidden by a later exact one
 * ```ts
 * import { rowRelativeError } from "./_stats.ts";
 * import { equal } from "node:assert/strict";
 * equal(rowRelativeError([1, 2.5, 3, 4], [1, 2, 3, 4], 2), 0.25);
 * equal(rowRelativeError([NaN, 2, 3, 4], [1, 2, 3, 4], 2), NaN);
 * ```
 */
export function rowRelativeError(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  width: number,
): number {
  let worst = 0;
  for (let start = 0; start < b.length; start += width) {
    let diff = 0, scale = 0;
    for (let i = start; i < start + width; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    const e = diff === 0 ? 0 : diff / (scale || Number.MIN_VALUE);
    // NaN is sticky: a later finite row must not replace it.
    if (Number.isNaN(e)) return NaN;
    if (e > worst) worst = e;
  }
  return worst;
}

/**
 * The fraction of images whose true class has the strictly largest ⟨A[x_n]_c, x_n⟩: an image
 * counts when its true class's value exceeds every other class's. A tie for the largest does
 * not count (whatever the classes' order), nor does a row with a NaN; no image gives NaN.
 *
 * @param innerProducts ⟨A[x_n]_c, x_n⟩ per image, `[N][C]`.
 * @param labels The true class of each image, `[N]`.
 * @returns The fraction, in [0, 1], or NaN for N = 0.
 * @example
 * ```ts
 * import { trueClassLargestFraction } from "./_stats.ts";
 * import { equal } from "node:assert/strict";
 * equal(trueClassLargestFraction([[3, 1], [2, 5], [1, 1], [NaN, 0]], [0, 0, 0, 0]), 0.25);
 * ```
 */
export function trueClassLargestFraction(
  innerProducts: readonly (readonly number[])[],
  labels: readonly number[],
): number {
  let hits = 0;
  for (let n = 0; n < labels.length; n++) {
    const v = innerProducts[n], y = labels[n];
    if (v.every((x, c) => c === y || v[y] > x)) hits++;
  }
  return hits / labels.length;
}
