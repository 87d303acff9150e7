/**
 * Max-affine spline operators (MASOs): the paper's eq. (5), K max-affine splines over
 * one input, and the paper's examples of deep-network operators written as MASOs
 * (Propositions 1–3).
 *
 * @module
 */
import { MaxAffineSpline } from "./max_affine_spline.ts";
import { kinked } from "./_kinked.ts";

/** Parameters of a MASO with K outputs, R_k pieces for output k, D inputs. */
export interface MasoParams {
  /** Slopes A: `slopes[k][r]` is the slope row [A]_{k,r,·} (length D). */
  readonly slopes: readonly (readonly ArrayLike<number>[])[];
  /** Offsets B: `offsets[k][r]` is [B]_{k,r}. */
  readonly offsets: readonly ArrayLike<number>[];
}

/** The affine map a MASO applies at x: S(x) = A[x]·x + B[x] (eq. 5). */
export interface MasoAffine {
  /** A[x]: K rows of length D; row k is the slope that output k selects at x. */
  readonly A: number[][];
  /** B[x]: K numbers; entry k is the offset that output k selects at x. */
  readonly B: number[];
}

/**
 * A max-affine spline operator S[A, B]: R^D → R^K (Balestriero & Baraniuk 2018, eq. 5):
 * output k is the max-affine spline max_r ⟨[A]_{k,r,·}, x⟩ + [B]_{k,r}, and
 * S(x) = A[x]·x + B[x] with [A[x]]_{k,·} = [A]_{k,r_k(x),·}, [B[x]]_k = [B]_{k,r_k(x)}.
 *
 * The number of pieces may differ between outputs (R_k), as for max-pooling windows of
 * unequal size. Region ties pick the first piece. Float64 throughout.
 *
 * @example A MASO with two outputs
 * ```ts
 * import { maso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = maso({
 *   slopes: [[[0, 0], [1, 0]], [[1, 1], [-1, -1]]],
 *   offsets: [[0, 0], [0, 0]],
 * });
 * deepEqual(S.evaluate([2, -3]), [2, 1]);
 * deepEqual(S.regions([2, -3]), [1, 1]);
 * deepEqual(S.affine([2, -3]), { A: [[1, 0], [-1, -1]], B: [0, 0] });
 * ```
 */
export class Maso {
  /** K: the number of outputs. */
  readonly outputSize: number;
  /** D: the input dimension. */
  readonly inputSize: number;
  /** R_k: the number of pieces of each output. */
  readonly pieces: readonly number[];
  #splines: readonly MaxAffineSpline[];

  /**
   * Builds a MASO from its slopes `[K][R_k][D]` and offsets `[K][R_k]`.
   *
   * @param params `slopes` and `offsets`, K ≥ 1, every R_k ≥ 1, D ≥ 1, all finite.
   * @throws {RangeError} When a list is empty, dimensions disagree, or a parameter is not
   *   finite; the message names the offending entry.
   */
  constructor(params: MasoParams) {
    const { slopes, offsets } = params;
    const what = "Cannot build MASO";
    if (!Array.isArray(slopes) || slopes.length === 0) {
      throw new RangeError(`${what}: slopes has no outputs, expected K ≥ 1 lists of pieces`);
    }
    const K = slopes.length;
    if (!Array.isArray(offsets) || offsets.length !== K) {
      throw new RangeError(
        `${what}: offsets has ${offsets?.length} outputs, expected ${K} (one per slope list)`,
      );
    }
    const D = slopes[0]?.[0]?.length;
    if (!(typeof D === "number" && D >= 1)) {
      throw new RangeError(`${what}: slopes[0][0] has length ${D}, expected D ≥ 1`);
    }
    const splines: MaxAffineSpline[] = [];
    for (let k = 0; k < K; k++) {
      const rows = slopes[k];
      if (!Array.isArray(rows) || rows.length === 0) {
        throw new RangeError(`${what}: slopes[${k}] has no pieces, expected at least one`);
      }
      if (offsets[k]?.length !== rows.length) {
        throw new RangeError(
          `${what}: offsets[${k}] has length ${offsets[k]?.length}, expected ${rows.length}`,
        );
      }
      for (let r = 0; r < rows.length; r++) {
        if (rows[r]?.length !== D) {
          throw new RangeError(
            `${what}: slopes[${k}][${r}] has length ${rows[r]?.length}, expected ${D}`,
          );
        }
      }
      try {
        splines.push(new MaxAffineSpline({ slopes: rows, offsets: offsets[k] }));
      } catch (e) {
        // Only non-finite values are left to report: name the output they belong to.
        const msg = (e as Error).message.replace(
          /^Cannot build max-affine spline: (slopes|offsets)\[/,
          `$1[${k}][`,
        );
        throw new RangeError(`${what}: ${msg}`);
      }
    }
    this.outputSize = K;
    this.inputSize = D;
    this.pieces = splines.map((s) => s.pieces);
    this.#splines = splines;
  }

  /**
   * The max-affine spline of output k.
   *
   * @example
   * ```ts
   * import { reluMaso } from "./maso.ts";
   * import { equal } from "node:assert/strict";
   * const S = reluMaso([[1, 2], [3, 4]]);
   * equal(S.spline(1).evaluate([1, 1]), 7);
   * ```
   *
   * @param k The output index, 0 ≤ k < K.
   * @returns The spline s_k with S(x)_k = s_k(x).
   */
  spline(k: number): MaxAffineSpline {
    if (!Number.isInteger(k) || k < 0 || k >= this.outputSize) {
      throw new RangeError(
        `Cannot get MASO output: k is ${k}, expected an integer in [0, ${this.outputSize})`,
      );
    }
    return this.#splines[k];
  }

  /**
   * Evaluates S(x): output k is max_r ⟨[A]_{k,r,·}, x⟩ + [B]_{k,r} (eq. 5).
   *
   * @example Max-pooling two windows of a 4-vector
   * ```ts
   * import { maxPoolMaso } from "./maso.ts";
   * import { deepEqual } from "node:assert/strict";
   * const pool = maxPoolMaso([[0, 1], [2, 3]]);
   * deepEqual(pool.evaluate([1, 5, -2, -3]), [5, -2]);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns The K outputs.
   */
  evaluate(x: ArrayLike<number>): number[] {
    this.#check(x, "evaluate");
    return this.#splines.map((s) => s.evaluate(x));
  }

  /**
   * The regions r_k(x) selected by every output (ties pick the first piece): the
   * partition code of x at this MASO (Section 7).
   *
   * @example ReLU codes: 1 where the pre-activation is positive
   * ```ts
   * import { reluMaso } from "./maso.ts";
   * import { deepEqual } from "node:assert/strict";
   * const S = reluMaso([[1, 0], [0, 1], [1, 1]], [0, 0, -10]);
   * deepEqual(S.regions([2, -1]), [1, 0, 0]);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns K region indices, r_k(x) in 0…R_k−1.
   */
  regions(x: ArrayLike<number>): number[] {
    this.#check(x, "find the regions of");
    return this.#splines.map((s) => s.region(x));
  }

  /**
   * The signal-dependent affine map at x: A[x] (K×D) and B[x] (K), with
   * S(x) = A[x]·x + B[x] (second line of eq. 5).
   *
   * @example
   * ```ts
   * import { absMaso } from "./maso.ts";
   * import { deepEqual } from "node:assert/strict";
   * const S = absMaso([[1, -1]], [0.5]);
   * deepEqual(S.affine([0, 2]), { A: [[-1, 1]], B: [-0.5] });
   * deepEqual(S.evaluate([0, 2]), [1.5]);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns `{ A, B }` (fresh arrays).
   */
  affine(x: ArrayLike<number>): MasoAffine {
    this.#check(x, "find the affine map of");
    const A: number[][] = [], B: number[] = [];
    for (const s of this.#splines) {
      const local = s.local(x);
      A.push(local.slope);
      B.push(local.offset);
    }
    return { A, B };
  }

  #check(x: ArrayLike<number>, verb: string): void {
    const what = `Cannot ${verb} MASO`, D = this.inputSize;
    if (x === null || typeof x !== "object" || typeof x.length !== "number") {
      throw new TypeError(`${what}: x is ${x === null ? "null" : typeof x}, expected ${D} numbers`);
    }
    if (x.length !== D) throw new RangeError(`${what}: x has length ${x.length}, expected ${D}`);
    for (let d = 0; d < D; d++) {
      const v = x[d];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new RangeError(`${what}: x[${d}] is ${v}, expected a finite number`);
      }
    }
  }
}

/**
 * Builds a max-affine spline operator S[A, B] from slopes `[K][R_k][D]` and offsets
 * `[K][R_k]` (eq. 5).
 *
 * @example
 * ```ts
 * import { maso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = maso({ slopes: [[[1], [-1]], [[0], [2]]], offsets: [[0, 0], [1, 0]] });
 * deepEqual(S.evaluate([3]), [3, 6]);
 * ```
 *
 * @param params `slopes` and `offsets`.
 * @returns The MASO.
 * @throws {RangeError} When lists are empty, dimensions disagree or values are not finite.
 */
export function maso(params: MasoParams): Maso {
  return new Maso(params);
}

/**
 * A fully connected (or convolution, unrolled) operator z = W·x + b as a degenerate MASO
 * with R = 1 (Proposition 1): [A]_{k,1,·} = w_k, [B]_{k,1} = b_k.
 *
 * @example
 * ```ts
 * import { affineMaso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = affineMaso([[1, 2], [-1, 0]], [1, 1]);
 * deepEqual(S.evaluate([1, 1]), [4, 0]);
 * deepEqual(S.pieces, [1, 1]);
 * ```
 *
 * @param weights W as K rows of length D (row k is w_k; this is the transpose of a tfjs
 *   Dense kernel, which is `[in, out]`).
 * @param bias b, K numbers; zeros when omitted.
 * @returns The MASO with one piece per output.
 */
export function affineMaso(weights: readonly ArrayLike<number>[], bias?: ArrayLike<number>): Maso {
  const b = checkAffine(weights, bias, "affine");
  return new Maso({ slopes: weights.map((w) => [w]), offsets: b.map((v) => [v]) });
}

/**
 * ReLU after an affine map, z_k = max(0, ⟨w_k, x⟩ + b_k), as a MASO with R = 2
 * (Propositions 2 and 4): piece 0 is the zero map, piece 1 is ⟨w_k, x⟩ + b_k. A
 * pre-activation of exactly 0 ties and selects piece 0 ("inactive").
 *
 * @example ReLU alone: W the identity
 * ```ts
 * import { reluMaso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = reluMaso([[1, 0], [0, 1]]);
 * deepEqual(S.evaluate([-1, 2]), [0, 2]);
 * deepEqual(S.regions([-1, 2]), [0, 1]);
 * ```
 *
 * @param weights W as K rows of length D.
 * @param bias b, K numbers; zeros when omitted.
 * @returns The MASO S with S(x) = ReLU(W·x + b).
 */
export function reluMaso(weights: readonly ArrayLike<number>[], bias?: ArrayLike<number>): Maso {
  return twoPieceMaso(weights, bias, 0, "ReLU");
}

/** Options of {@linkcode leakyReluMaso}. */
export interface LeakyReluMasoOptions {
  /** b, K numbers; zeros when omitted. */
  readonly bias?: ArrayLike<number>;
  /** ν, the slope for negative pre-activations, 0 ≤ ν < 1 (default 0.3, as tfjs). */
  readonly alpha?: number;
}

/**
 * Leaky ReLU after an affine map, z_k = max(ν·(⟨w_k, x⟩ + b_k), ⟨w_k, x⟩ + b_k), as a MASO
 * with R = 2 (Proposition 2): piece 0 is ν times the affine map, piece 1 the affine map.
 * A pre-activation of exactly 0 selects piece 0.
 *
 * @example
 * ```ts
 * import { leakyReluMaso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = leakyReluMaso([[1], [2]], { alpha: 0.5 });
 * deepEqual(S.evaluate([-2]), [-1, -2]);
 * deepEqual(S.affine([-2]), { A: [[0.5], [1]], B: [0, 0] });
 * ```
 *
 * @param weights W as K rows of length D.
 * @param options `bias` (zeros when omitted) and `alpha` (ν, default 0.3).
 * @returns The MASO S with S(x) = LeakyReLU_ν(W·x + b).
 * @throws {RangeError} When alpha is not in [0, 1).
 */
export function leakyReluMaso(
  weights: readonly ArrayLike<number>[],
  options: LeakyReluMasoOptions = {},
): Maso {
  const alpha = options.alpha ?? 0.3;
  if (typeof alpha !== "number" || !(alpha >= 0 && alpha < 1)) {
    throw new RangeError(
      `Cannot build leaky ReLU MASO: alpha is ${alpha}, expected a number in [0, 1)`,
    );
  }
  return twoPieceMaso(weights, options.bias, alpha, "leaky ReLU");
}

/**
 * Absolute value after an affine map, z_k = |⟨w_k, x⟩ + b_k|, as a MASO with R = 2
 * (Proposition 2): piece 0 is the negated affine map, piece 1 the affine map. A
 * pre-activation of exactly 0 selects piece 0.
 *
 * @example
 * ```ts
 * import { absMaso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const S = absMaso([[1, 1]], [-5]);
 * deepEqual(S.evaluate([1, 1]), [3]);
 * deepEqual(S.regions([1, 1]), [0]);
 * ```
 *
 * @param weights W as K rows of length D.
 * @param bias b, K numbers; zeros when omitted.
 * @returns The MASO S with S(x) = |W·x + b|.
 */
export function absMaso(weights: readonly ArrayLike<number>[], bias?: ArrayLike<number>): Maso {
  return twoPieceMaso(weights, bias, -1, "abs");
}

/**
 * Max-pooling as a MASO (Proposition 3): output k is max_{i ∈ R_k} x_i, with one piece
 * e_i (offset 0) per index of its window, in the window's order; region r of output k
 * selects `windows[k][r]` (ties pick the first).
 *
 * @example 2×2 max-pooling of a 2×4 image, row-major
 * ```ts
 * import { maxPoolMaso } from "./maso.ts";
 * import { deepEqual } from "node:assert/strict";
 * const pool = maxPoolMaso([[0, 1, 4, 5], [2, 3, 6, 7]]);
 * const x = [1, 2, 3, 4, 8, 7, 6, 5];
 * deepEqual(pool.evaluate(x), [8, 6]);
 * deepEqual(pool.regions(x), [2, 2]);
 * ```
 *
 * @param windows K windows, each a non-empty list of input indices.
 * @param inputSize D; defaults to the largest index + 1.
 * @returns The MASO with R_k = windows[k].length.
 * @throws {RangeError} When a window is empty or an index is not an integer in [0, D).
 */
export function maxPoolMaso(windows: readonly (readonly number[])[], inputSize?: number): Maso {
  const what = "Cannot build max-pooling MASO";
  if (!Array.isArray(windows) || windows.length === 0) {
    throw new RangeError(`${what}: windows has no entries, expected K ≥ 1 windows`);
  }
  let largest = -1;
  windows.forEach((w, k) => {
    if (!Array.isArray(w) || w.length === 0) {
      throw new RangeError(`${what}: windows[${k}] is empty, expected at least one index`);
    }
    w.forEach((i, r) => {
      if (!Number.isInteger(i) || i < 0) {
        throw new RangeError(`${what}: windows[${k}][${r}] is ${i}, expected an index ≥ 0`);
      }
      largest = Math.max(largest, i);
    });
  });
  const D = inputSize ?? largest + 1;
  if (!Number.isInteger(D) || D < 1) {
    throw new RangeError(`${what}: inputSize is ${inputSize}, expected a positive integer`);
  }
  if (largest >= D) {
    throw new RangeError(`${what}: window index ${largest} is out of range for inputSize ${D}`);
  }
  const basis = (i: number) => {
    const e = new Float64Array(D);
    e[i] = 1;
    return e;
  };
  return new Maso({
    slopes: windows.map((w) => w.map(basis)),
    offsets: windows.map((w) => new Float64Array(w.length)),
  });
}

/** Pieces [ν·(Wx+b), Wx+b] for each output: ReLU (ν=0), leaky ReLU, abs (ν=−1). */
function twoPieceMaso(
  weights: readonly ArrayLike<number>[],
  bias: ArrayLike<number> | undefined,
  nu: number,
  name: string,
): Maso {
  const b = checkAffine(weights, bias, name);
  const scaled = (w: ArrayLike<number>) => Float64Array.from(w, (v) => nu * v + 0);
  const S = new Maso({
    slopes: weights.map((w) => [scaled(w), w]),
    offsets: b.map((v) => [nu * v + 0, v]),
  });
  // piece 1 wins exactly where the pre-activation is > 0 (ν < 1), as the engine's codes say
  for (let k = 0; k < S.outputSize; k++) kinked.add(S.spline(k));
  return S;
}

/** Checks W (K rows of equal length D ≥ 1) and b (K numbers); returns b (zeros if absent). */
function checkAffine(
  weights: readonly ArrayLike<number>[],
  bias: ArrayLike<number> | undefined,
  name: string,
): number[] {
  const what = `Cannot build ${name} MASO`;
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new RangeError(`${what}: weights has no rows, expected K ≥ 1 rows`);
  }
  const K = weights.length, D = weights[0]?.length;
  if (!(typeof D === "number" && D >= 1)) {
    throw new RangeError(`${what}: weights[0] has length ${D}, expected D ≥ 1`);
  }
  weights.forEach((w, k) => {
    if (w?.length !== D) {
      throw new RangeError(`${what}: weights[${k}] has length ${w?.length}, expected ${D}`);
    }
    for (let d = 0; d < D; d++) {
      if (typeof w[d] !== "number" || !Number.isFinite(w[d])) {
        throw new RangeError(`${what}: weights[${k}][${d}] is ${w[d]}, expected a finite number`);
      }
    }
  });
  if (bias === undefined) return new Array<number>(K).fill(0);
  if (bias?.length !== K) {
    throw new RangeError(`${what}: bias has length ${bias?.length}, expected ${K}`);
  }
  for (let k = 0; k < K; k++) {
    if (typeof bias[k] !== "number" || !Number.isFinite(bias[k])) {
      throw new RangeError(`${what}: bias[${k}] is ${bias[k]}, expected a finite number`);
    }
  }
  return Array.from(bias);
}
