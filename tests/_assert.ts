/**
 * Assertions for masokit's tests: `node:assert/strict` re-exported (so moving to
 * `@std/assert` later is this one file), plus float helpers.
 *
 * @module
 */
export {
  deepEqual as assertEquals,
  equal as assertStrictEquals,
  match as assertMatch,
  notEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";

/** Largest |a_i − b_i| / max(|b_i|, floor) over two arrays of equal length. */
export function maxRelativeError(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  floor = 1,
): number {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: ${actual.length} vs ${expected.length}`);
  }
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], b = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(b)) return Infinity;
    const e = Math.abs(a - b) / Math.max(Math.abs(b), floor);
    if (e > worst) worst = e;
  }
  return worst;
}

/** The largest absolute value of `a` (0 for an empty array): a scale for `assertAllClose`'s floor. */
export function largestMagnitude(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Asserts that two arrays agree elementwise within a relative tolerance
 * (`|a − b| ≤ tol · max(|b|, floor)`), reporting the worst index.
 */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  message = "",
  floor = 1,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${message} length mismatch: ${actual.length} vs ${expected.length}`);
  }
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  if (!(worst <= tol)) {
    throw new Error(
      `${message} max relative error ${worst} > ${tol} at index ${at}: ${actual[at]} vs ${
        expected[at]
      }`,
    );
  }
}
