/**
 * A line of a network's input space: `x(t) = origin + t·direction` over an interval of `t`.
 *
 * @module
 */
import { type Batch, type BatchInput, readBatch } from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import { checkOptionKeys } from "../util/options.ts";
import { inputVector } from "./_input_vector.ts";

/** A line of input space: `x(t) = origin + t·direction` for `t` in `range`. */
export interface InputLine {
  /** The input at `t = 0`, flattened (`net.inputSize` values). */
  readonly origin: ArrayLike<number>;
  /** The direction, flattened; not zero. */
  readonly direction: ArrayLike<number>;
  /** The interval of `t` to partition, `[lo, hi]` with `lo < hi`; default `[0, 1]`. */
  readonly range?: readonly [number, number];
}

/** An {@linkcode InputLine} checked and in float64. */
export interface CheckedLine {
  /** The input at `t = 0`. */
  readonly origin: Float64Array;
  /** The direction. */
  readonly direction: Float64Array;
  /** The interval of `t`. */
  readonly range: readonly [number, number];
}

/** Options of {@linkcode lineThrough}. */
export interface LineThroughOptions {
  /**
   * The interval of `t`, the first input at 0 and the second at 1: `[0, 1]` (the default) is
   * the segment between them, `[-0.5, 1.5]` goes half as far again past each.
   */
  range?: readonly [number, number];
}

/**
 * The line through two inputs: origin `x₀`, direction `x₁ − x₀`, so that the inputs sit at
 * `t = 0` and `t = 1`.
 *
 * @param net The network (for the input shape).
 * @param x Two inputs `[2, ...inputShape]` (a tensor or a float64 batch).
 * @param options `range`.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { lineThrough } from "./input_line.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const l = lineThrough(net, { data: new Float64Array([1, 0, 3, 1]), shape: [2, 2] });
 * deepEqual(Array.from(l.direction), [2, 1]);
 * ```
 */
export function lineThrough(
  net: SplineNetwork,
  x: BatchInput,
  options: LineThroughOptions = {},
): InputLine {
  const what = "Cannot make a line through two inputs";
  checkOptionKeys(options, { range: true }, what);
  const { data, count } = readBatch(x, { exampleShape: net.inputShape, what });
  if (count !== 2) throw new RangeError(`${what}: got ${count} inputs, expected 2`);
  const D = net.inputSize;
  const origin = data.slice(0, D), direction = new Float64Array(D);
  for (let i = 0; i < D; i++) direction[i] = data[D + i] - origin[i];
  return { origin, direction, range: checkRange(options.range ?? [0, 1], what) };
}

function checkRange(range: unknown, what: string): readonly [number, number] {
  if (
    !Array.isArray(range) || range.length !== 2 ||
    !range.every((t) => typeof t === "number" && Number.isFinite(t)) || !(range[0] < range[1])
  ) {
    throw new RangeError(
      `${what}: range is ${
        Array.isArray(range) ? `[${range}]` : String(range)
      }, expected [lo, hi], finite, with lo < hi`,
    );
  }
  return [range[0], range[1]];
}

/**
 * Checks a line against a network and converts it to float64: sizes, finite values, a
 * direction that is not zero, an interval.
 *
 * @param net The network.
 * @param line The line.
 * @param what What failed, for messages.
 * @returns The checked line.
 */
export function checkLine(net: SplineNetwork, line: InputLine, what: string): CheckedLine {
  if (line === null || typeof line !== "object") {
    throw new TypeError(
      `${what}: line is ${
        line === null ? "null" : typeof line
      }, expected { origin, direction, range? }`,
    );
  }
  checkOptionKeys(line, { origin: true, direction: true, range: true }, what);
  const origin = inputVector(net, line.origin, "origin", what);
  const direction = inputVector(net, line.direction, "direction", what);
  if (direction.every((t) => t === 0)) {
    throw new RangeError(`${what}: direction is zero, expected a nonzero vector`);
  }
  return { origin, direction, range: checkRange(line.range ?? [0, 1], what) };
}

/**
 * The inputs at points of a line: `x(t) = origin + t·direction` for each `t`, as a float64
 * batch that the engine's calls take (`forward`, `partitionCodes`, `affineMap`).
 *
 * @param net The network (for the input shape).
 * @param line The line.
 * @param t The points.
 * @returns The batch `[points, ...inputShape]`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { linePoints } from "./input_line.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const x = linePoints(net, { origin: [1, 1], direction: [2, 0] }, [0.5]);
 * deepEqual(Array.from(x.data), [2, 1]);
 * ```
 */
export function linePoints(net: SplineNetwork, line: InputLine, t: ArrayLike<number>): Batch {
  const what = "Cannot place points on the line";
  const { origin, direction } = checkLine(net, line, what);
  const n = t.length, D = net.inputSize, data = new Float64Array(n * D);
  for (let p = 0; p < n; p++) {
    if (!Number.isFinite(t[p])) {
      throw new RangeError(`${what}: point ${p} is t = ${t[p]}, expected a finite number`);
    }
    for (let k = 0; k < D; k++) data[p * D + k] = origin[k] + t[p] * direction[k];
  }
  return { data, shape: [n, ...net.inputShape] };
}
