/**
 * A 2D slice of a network's input space: the plane `x(u, v) = origin + u·d₁ + v·d₂` over a
 * convex polygon of `(u, v)`.
 *
 * @module
 */
import { type Batch, type BatchInput, readBatch } from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import { checkOptionKeys } from "../util/options.ts";
import { inputVector } from "./_input_vector.ts";
import { polygonArea } from "./_polygon.ts";

/** A 2D slice of input space: `x(u, v) = origin + u·directions[0] + v·directions[1]`. */
export interface InputSlice {
  /** The input at `(u, v) = (0, 0)`, flattened (`net.inputSize` values). */
  readonly origin: ArrayLike<number>;
  /** The two directions of the plane, flattened; linearly independent. */
  readonly directions: readonly [ArrayLike<number>, ArrayLike<number>];
  /**
   * The part of the plane to partition: a convex polygon in `(u, v)`, vertices as
   * `[u0, v0, u1, v1, …]` (either orientation). Default the unit square `[0, 1]²`.
   */
  readonly domain?: ArrayLike<number>;
}

/** An {@linkcode InputSlice} checked and in float64, its domain counter-clockwise. */
export interface CheckedSlice {
  /** The input at `(0, 0)`. */
  readonly origin: Float64Array;
  /** The two directions. */
  readonly directions: readonly [Float64Array, Float64Array];
  /** The domain's vertices, counter-clockwise. */
  readonly domain: Float64Array;
}

/** Options of {@linkcode sliceThrough}. */
export interface SliceThroughOptions {
  /**
   * How far the domain reaches past the triangle of the three inputs, as a fraction of the
   * distance from its centroid (0: the triangle itself; default 0.25).
   */
  margin?: number;
}

/**
 * The slice through three inputs: origin `x₀`, directions `x₁ − x₀` and `x₂ − x₀`, so that the
 * inputs sit at `(u, v) = (0, 0)`, `(1, 0)` and `(0, 1)`; the domain is their triangle grown
 * about its centroid by `margin`.
 *
 * @param net The network (for the input shape).
 * @param x Three inputs `[3, ...inputShape]` (a tensor or a float64 batch).
 * @param options `margin`.
 * @returns The slice.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { sliceThrough } from "./input_slice.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const s = sliceThrough(net, { data: new Float64Array([0, 0, 2, 0, 0, 3]), shape: [3, 2] }, { margin: 0 });
 * deepEqual(Array.from(s.directions[1]), [0, 3]);
 * deepEqual(Array.from(s.domain!), [0, 0, 1, 0, 0, 1]);
 * ```
 */
export function sliceThrough(
  net: SplineNetwork,
  x: BatchInput,
  options: SliceThroughOptions = {},
): InputSlice {
  const what = "Cannot make a slice through three inputs";
  checkOptionKeys(options, { margin: true }, what);
  const margin = options.margin ?? 0.25;
  if (typeof margin !== "number" || !Number.isFinite(margin) || margin < 0) {
    throw new RangeError(`${what}: margin is ${margin}, expected a finite number ≥ 0`);
  }
  const { data, count } = readBatch(x, { exampleShape: net.inputShape, what });
  if (count !== 3) throw new RangeError(`${what}: got ${count} inputs, expected 3`);
  const D = net.inputSize;
  const origin = data.slice(0, D);
  const d1 = new Float64Array(D), d2 = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    d1[i] = data[D + i] - origin[i];
    d2[i] = data[2 * D + i] - origin[i];
  }
  const c = 1 / 3, s = 1 + margin;
  const domain = [0, 0, 1, 0, 0, 1].map((t) => c + (t - c) * s);
  return { origin, directions: [d1, d2], domain };
}

/**
 * Checks a slice against a network and converts it to float64: sizes, finite values,
 * independent directions, a convex domain of positive area.
 *
 * @param net The network.
 * @param slice The slice.
 * @param what What failed, for messages.
 * @returns The checked slice.
 */
export function checkSlice(net: SplineNetwork, slice: InputSlice, what: string): CheckedSlice {
  if (slice === null || typeof slice !== "object") {
    throw new TypeError(
      `${what}: slice is ${
        slice === null ? "null" : typeof slice
      }, expected { origin, directions, domain? }`,
    );
  }
  checkOptionKeys(slice, { origin: true, directions: true, domain: true }, what);
  const D = net.inputSize;
  const vector = (v: unknown, name: string) => inputVector(net, v, name, what);
  const origin = vector(slice.origin, "origin");
  if (!Array.isArray(slice.directions) || slice.directions.length !== 2) {
    throw new TypeError(`${what}: directions must be a list of two vectors of ${D} numbers`);
  }
  const d1 = vector(slice.directions[0], "directions[0]");
  const d2 = vector(slice.directions[1], "directions[1]");
  let n1 = 0, n2 = 0, dot = 0;
  for (let i = 0; i < D; i++) {
    n1 += d1[i] * d1[i];
    n2 += d2[i] * d2[i];
    dot += d1[i] * d2[i];
  }
  if (!(n1 * n2 - dot * dot > 1e-12 * n1 * n2)) {
    throw new RangeError(
      `${what}: the directions are ${
        n1 === 0 || n2 === 0 ? "zero" : "parallel"
      } (|d₁|² = ${n1}, |d₂|² = ${n2}, d₁·d₂ = ${dot}), expected two independent directions`,
    );
  }
  const domain = Float64Array.from(slice.domain ?? [0, 0, 1, 0, 1, 1, 0, 1]);
  const n = domain.length / 2;
  if (domain.length % 2 !== 0 || n < 3 || domain.some((t) => !Number.isFinite(t))) {
    throw new RangeError(
      `${what}: domain is [${
        Array.from(domain)
      }], expected the finite (u, v) vertices of a convex polygon, at least 3`,
    );
  }
  if (polygonArea(domain) < 0) {
    for (let i = 0, j = n - 1; i < j; i++, j--) {
      [domain[2 * i], domain[2 * j]] = [domain[2 * j], domain[2 * i]];
      [domain[2 * i + 1], domain[2 * j + 1]] = [domain[2 * j + 1], domain[2 * i + 1]];
    }
  }
  for (let i = 0; i < n; i++) {
    const a = 2 * i, b = 2 * ((i + 1) % n), c = 2 * ((i + 2) % n);
    const cross = (domain[b] - domain[a]) * (domain[c + 1] - domain[b + 1]) -
      (domain[b + 1] - domain[a + 1]) * (domain[c] - domain[b]);
    if (!(cross > 0)) {
      throw new RangeError(
        `${what}: domain is [${
          Array.from(slice.domain!)
        }], not a convex polygon of positive area (vertex ${
          (i + 1) % n
        } turns the wrong way or repeats)`,
      );
    }
  }
  return { origin, directions: [d1, d2], domain };
}

/**
 * The inputs at points of a slice: `x(u, v) = origin + u·d₁ + v·d₂` for each `(u, v)`, as a
 * float64 batch that the engine's calls take (`forward`, `partitionCodes`, `affineMap`).
 *
 * @param net The network (for the input shape).
 * @param slice The slice.
 * @param uv The points, `[u0, v0, u1, v1, …]`.
 * @returns The batch `[points, ...inputShape]`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { slicePoints } from "./input_slice.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const x = slicePoints(net, { origin: [1, 1], directions: [[1, 0], [0, 2]] }, [0.5, 0.5]);
 * deepEqual(Array.from(x.data), [1.5, 2]);
 * ```
 */
export function slicePoints(net: SplineNetwork, slice: InputSlice, uv: ArrayLike<number>): Batch {
  const what = "Cannot place points on the slice";
  const { origin, directions: [d1, d2] } = checkSlice(net, slice, what);
  if (uv.length % 2 !== 0) {
    throw new RangeError(
      `${what}: got ${uv.length} coordinates, expected pairs [u0, v0, u1, v1, …]`,
    );
  }
  const n = uv.length / 2, D = net.inputSize, data = new Float64Array(n * D);
  for (let p = 0; p < n; p++) {
    const u = uv[2 * p], v = uv[2 * p + 1];
    if (!Number.isFinite(u) || !Number.isFinite(v)) {
      throw new RangeError(`${what}: point ${p} is (${u}, ${v}), expected finite coordinates`);
    }
    for (let k = 0; k < D; k++) data[p * D + k] = origin[k] + u * d1[k] + v * d2[k];
  }
  return { data, shape: [n, ...net.inputShape] };
}
