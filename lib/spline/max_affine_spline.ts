/**
 * Max-affine spline functions: the paper's eq. (4), the globally convex special case
 * of the affine spline of eq. (3).
 *
 * @module
 */
import { kinked } from "./_kinked.ts";

/** Parameters of a max-affine spline with R pieces in D dimensions. */
export interface MaxAffineSplineParams {
  /** The slopes α: R rows of length D, row r is the slope a_r of piece r. */
  readonly slopes: readonly ArrayLike<number>[];
  /** The offsets β: R numbers, entry r is the offset b_r of piece r. */
  readonly offsets: ArrayLike<number>;
}

/** The affine piece a max-affine spline uses at a point, with its value there. */
export interface LocalAffinePiece {
  /** r(x): the index of the selected piece (ties pick the first). */
  readonly region: number;
  /** α[x] = a_{r(x)}, length D. */
  readonly slope: number[];
  /** β[x] = b_{r(x)}. */
  readonly offset: number;
  /** s(x) = ⟨α[x], x⟩ + β[x]. */
  readonly value: number;
}

/**
 * A max-affine spline function s[α, β](x) = max_r ⟨a_r, x⟩ + b_r (Balestriero &
 * Baraniuk 2018, eq. 4; the second line of eq. 3 writes it as ⟨α[x], x⟩ + β[x]).
 *
 * The partition Ω is implicit: x lies in region r(x) = argmax_r ⟨a_r, x⟩ + b_r, and
 * ties pick the first (lowest) r. The function is convex and continuous by
 * construction. All arithmetic is float64; the parameters are copied on construction.
 *
 * @example ReLU as a max-affine spline with R = 2
 * ```ts
 * import { MaxAffineSpline } from "./max_affine_spline.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const relu = new MaxAffineSpline({ slopes: [[0], [1]], offsets: [0, 0] });
 * equal(relu.evaluate([3]), 3);
 * equal(relu.evaluate([-2]), 0);
 * equal(relu.region([0]), 0); // a tie picks the first piece
 * deepEqual(relu.slope([3]), [1]);
 * ```
 */
export class MaxAffineSpline {
  /** R: the number of affine pieces. */
  readonly pieces: number;
  /** D: the input dimension. */
  readonly inputSize: number;
  #slopes: Float64Array;
  #offsets: Float64Array;

  /**
   * Builds a max-affine spline from its slopes and offsets.
   *
   * @param params `slopes` (R rows of length D) and `offsets` (R numbers), R ≥ 1, D ≥ 1,
   *   all finite.
   * @throws {RangeError} When there are no pieces, the rows differ in length, the
   *   offsets do not match the slopes, or a parameter is not finite.
   */
  constructor(params: MaxAffineSplineParams) {
    const { slopes, offsets } = params;
    const what = "Cannot build max-affine spline";
    if (!Array.isArray(slopes)) {
      throw new RangeError(`${what}: slopes is ${typeof slopes}, expected a list of R rows`);
    }
    if (slopes.length === 0) {
      throw new RangeError(`${what}: slopes has 0 rows, expected at least one piece`);
    }
    const R = slopes.length;
    const D = slopes[0]?.length ?? 0;
    if (!(D >= 1)) throw new RangeError(`${what}: slopes[0] has length ${D}, expected D ≥ 1`);
    if (offsets?.length !== R) {
      throw new RangeError(
        `${what}: offsets has length ${offsets?.length}, expected ${R} (one per piece)`,
      );
    }
    this.pieces = R;
    this.inputSize = D;
    this.#slopes = new Float64Array(R * D);
    this.#offsets = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      const row = slopes[r];
      if (row?.length !== D) {
        throw new RangeError(`${what}: slopes[${r}] has length ${row?.length}, expected ${D}`);
      }
      for (let d = 0; d < D; d++) {
        const v = row[d];
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new RangeError(`${what}: slopes[${r}][${d}] is ${v}, expected a finite number`);
        }
        this.#slopes[r * D + d] = v;
      }
      const b = offsets[r];
      if (typeof b !== "number" || !Number.isFinite(b)) {
        throw new RangeError(`${what}: offsets[${r}] is ${b}, expected a finite number`);
      }
      this.#offsets[r] = b;
    }
  }

  /**
   * The slopes α as R rows of length D (a copy).
   *
   * @returns `slopes[r][d]`.
   */
  get slopes(): number[][] {
    const D = this.inputSize;
    return Array.from({ length: this.pieces }, (_, r) => [
      ...this.#slopes.subarray(r * D, (r + 1) * D),
    ]);
  }

  /**
   * The offsets β as R numbers (a copy).
   *
   * @returns `offsets[r]`.
   */
  get offsets(): number[] {
    return [...this.#offsets];
  }

  /**
   * The value of every affine piece at x: ⟨a_r, x⟩ + b_r for r = 0…R−1.
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { deepEqual } from "node:assert/strict";
   * const s = maxAffineSpline({ slopes: [[1, 0], [0, 1]], offsets: [0, 1] });
   * deepEqual(s.pieceValues([2, 3]), [2, 4]);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns The R piece values.
   */
  pieceValues(x: ArrayLike<number>): number[] {
    this.#check(x, "evaluate pieces of");
    const out = new Array<number>(this.pieces);
    for (let r = 0; r < this.pieces; r++) out[r] = this.#piece(r, x);
    return out;
  }

  /**
   * Evaluates s(x) = max_r ⟨a_r, x⟩ + b_r (eq. 4).
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { equal } from "node:assert/strict";
   * const abs = maxAffineSpline({ slopes: [[-1], [1]], offsets: [0, 0] });
   * equal(abs.evaluate([-4]), 4);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns The spline's value at x.
   */
  evaluate(x: ArrayLike<number>): number {
    this.#check(x, "evaluate");
    return this.#piece(this.#argmax(x), x);
  }

  /**
   * The region r(x) = argmax_r ⟨a_r, x⟩ + b_r of the implicit partition Ω that x lies
   * in; ties pick the first r.
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { equal } from "node:assert/strict";
   * const s = maxAffineSpline({ slopes: [[0], [1], [2]], offsets: [0, 0, -1] });
   * equal(s.region([-1]), 0);
   * equal(s.region([0.5]), 1);
   * equal(s.region([3]), 2);
   * equal(s.region([1]), 1); // pieces 1 and 2 tie at x = 1: the first wins
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns The index r(x) in 0…R−1.
   */
  region(x: ArrayLike<number>): number {
    this.#check(x, "find the region of");
    return this.#argmax(x);
  }

  /**
   * The local slope α[x] = a_{r(x)}: the gradient of s at x where s is differentiable.
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { deepEqual } from "node:assert/strict";
   * const s = maxAffineSpline({ slopes: [[1, 2], [-1, 0]], offsets: [0, 0] });
   * deepEqual(s.slope([1, 1]), [1, 2]);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns A copy of the selected slope row (length D).
   */
  slope(x: ArrayLike<number>): number[] {
    this.#check(x, "find the slope of");
    const r = this.#argmax(x), D = this.inputSize;
    return [...this.#slopes.subarray(r * D, (r + 1) * D)];
  }

  /**
   * The local offset β[x] = b_{r(x)}, so that s(x) = ⟨α[x], x⟩ + β[x].
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { equal } from "node:assert/strict";
   * const s = maxAffineSpline({ slopes: [[1], [-1]], offsets: [-1, 2] });
   * equal(s.offset([5]), -1);
   * equal(s.offset([-5]), 2);
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns The selected offset.
   */
  offset(x: ArrayLike<number>): number {
    this.#check(x, "find the offset of");
    return this.#offsets[this.#argmax(x)];
  }

  /**
   * Everything local at x in one pass: the region r(x), the slope α[x], the offset β[x]
   * and the value s(x) = ⟨α[x], x⟩ + β[x].
   *
   * @example
   * ```ts
   * import { maxAffineSpline } from "./max_affine_spline.ts";
   * import { deepEqual } from "node:assert/strict";
   * const s = maxAffineSpline({ slopes: [[0], [2]], offsets: [1, -1] });
   * deepEqual(s.local([3]), { region: 1, slope: [2], offset: -1, value: 5 });
   * ```
   *
   * @param x A point of R^D (D finite numbers).
   * @returns `{ region, slope, offset, value }` at x (the slope is a copy).
   */
  local(x: ArrayLike<number>): LocalAffinePiece {
    this.#check(x, "evaluate");
    const r = this.#argmax(x), D = this.inputSize;
    return {
      region: r,
      slope: [...this.#slopes.subarray(r * D, (r + 1) * D)],
      offset: this.#offsets[r],
      value: this.#piece(r, x),
    };
  }

  #piece(r: number, x: ArrayLike<number>): number {
    const D = this.inputSize, base = r * D;
    let v = this.#offsets[r];
    for (let d = 0; d < D; d++) v += this.#slopes[base + d] * x[d];
    return v;
  }

  #argmax(x: ArrayLike<number>): number {
    if (kinked.has(this)) return this.#piece(1, x) > 0 ? 1 : 0; // max(ν·f, f): the sign of f
    let best = 0, bestValue = this.#piece(0, x);
    for (let r = 1; r < this.pieces; r++) {
      const v = this.#piece(r, x);
      if (v > bestValue) {
        best = r;
        bestValue = v;
      }
    }
    return best;
  }

  #check(x: ArrayLike<number>, verb: string): void {
    checkPoint(x, this.inputSize, `Cannot ${verb} max-affine spline`);
  }
}

/**
 * Builds a max-affine spline function s[α, β](x) = max_r ⟨a_r, x⟩ + b_r (eq. 4).
 *
 * @example A convex piecewise-affine function of two variables
 * ```ts
 * import { maxAffineSpline } from "./max_affine_spline.ts";
 * import { equal } from "node:assert/strict";
 * const s = maxAffineSpline({ slopes: [[1, 0], [0, 1], [-1, -1]], offsets: [0, 0, 0] });
 * equal(s.evaluate([2, -1]), 2);
 * equal(s.region([2, -1]), 0);
 * equal(s.evaluate([-1, -1]), 2);
 * equal(s.region([-1, -1]), 2);
 * ```
 *
 * @param params `slopes` (R rows of length D) and `offsets` (R numbers).
 * @returns The spline.
 * @throws {RangeError} When the parameters are empty, ragged, mismatched or not finite.
 */
export function maxAffineSpline(params: MaxAffineSplineParams): MaxAffineSpline {
  return new MaxAffineSpline(params);
}

/** Throws a RangeError (TypeError for a non-array) unless x is D finite numbers. */
function checkPoint(x: ArrayLike<number>, D: number, what: string): void {
  if (x === null || typeof x !== "object" || typeof x.length !== "number") {
    throw new TypeError(`${what}: x is ${x === null ? "null" : typeof x}, expected ${D} numbers`);
  }
  if (x.length !== D) {
    throw new RangeError(`${what}: x has length ${x.length}, expected ${D}`);
  }
  for (let d = 0; d < D; d++) {
    const v = x[d];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`${what}: x[${d}] is ${v}, expected a finite number`);
    }
  }
}
