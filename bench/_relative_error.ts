/**
 * The benchmarks' measure of agreement with a reference.
 *
 * @module
 */

/**
 * The largest |got − want| over the largest |want| (0 where both are all zeros; Infinity where
 * `want` is all zeros and `got` is not, or where the lengths differ).
 *
 * @param got The values to check.
 * @param want The reference.
 * @returns The relative error.
 */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let top = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    top = Math.max(top, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return top === 0 ? (err === 0 ? 0 : Infinity) : err / top;
}
