/**
 * How finely a network's partition cuts input space near each input: the number of region
 * boundaries that random chords through the input cross, each counted exactly.
 *
 * @module
 */
import { type BatchInput, readBatch } from "../network/batch.ts";
import type { CodeKind, SplineNetwork } from "../network/spline_network.ts";
import { checkOptionKeys } from "../util/options.ts";
import { Rng } from "../util/rng.ts";
import { linePartition } from "./line_partition.ts";

/** Options of {@linkcode localComplexity}. */
export interface LocalComplexityOptions {
  /** The chords' half-length `r` in input space (ℓ2): each runs from `x − r·u` to `x + r·u`. */
  radius: number;
  /** How many random directions `u` (the same for every input); default 16. */
  lines?: number;
  /** Seed of the directions; default 0. */
  seed?: number;
  /** Passed on to {@linkcode linePartition}: the most regions on one chord (default 1,000,000). */
  maxRegions?: number;
}

/** The boundaries of one level that the chords cross. */
export interface LocalComplexityLevel {
  /** Index of the code layer (as in `net.codeLayers`). */
  readonly layer: number;
  /** The layer's name. */
  readonly name: string;
  /** The layer's kind. */
  readonly kind: CodeKind;
  /**
   * `[inputs, lines]`: how many times chord `j` through input `n` crosses a boundary of the
   * partition by this code layer and all before it (its regions on the chord, less one).
   */
  readonly crossings: Int32Array;
}

/** The result of {@linkcode localComplexity}. */
export interface LocalComplexity {
  /** The chords' half-length. */
  readonly radius: number;
  /** The directions, `[lines, D]`, each of unit ℓ2 norm (uniform on the sphere). */
  readonly directions: Float64Array;
  /** One entry per code layer, in the network's code-layer order. */
  readonly levels: readonly LocalComplexityLevel[];
  /** For each input, the mean number of the network's regions on a chord through it. */
  readonly regions: Float64Array;
}

/**
 * The local complexity of a network's partition (Section 7) at each input: through the input,
 * chords of half-length `radius` along the same `lines` random directions, each partitioned
 * exactly by {@linkcode linePartition}; per code layer, how many boundaries each chord crosses,
 * and per input the mean number of regions on a chord. Crossings of random chords measure how
 * much boundary lies near the input (by Crofton's formula, their mean is proportional to the
 * boundary's area in the ball, in the limit of small chords); this counts them exactly, where
 * sampling points along the chords misses the regions shorter than its spacing.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]` (a tensor or a float64 batch).
 * @param options `radius`, `lines`, `seed`, `maxRegions`.
 * @returns Crossings per level, input and chord; mean regions per chord.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { localComplexity } from "./local_complexity.ts";
 * import { equal } from "node:assert/strict";
 * // boundaries x₁ = 0 and x₂ = 0: a chord of half-length 1 through (0.5, 5) crosses the
 * // first when its direction u has |u₁| ≥ 0.5; one through (2, 5) crosses neither
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const lc = localComplexity(net, { data: Float64Array.of(0.5, 5, 2, 5), shape: [2, 2] }, { radius: 1 });
 * equal(lc.regions[1], 1);
 * ```
 */
export function localComplexity(
  net: SplineNetwork,
  x: BatchInput,
  options: LocalComplexityOptions,
): LocalComplexity {
  const what = "Cannot measure the local complexity";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options are ${options}, expected { radius, lines?, seed? }`);
  }
  checkOptionKeys(options, { radius: true, lines: true, seed: true, maxRegions: true }, what);
  const { radius, lines = 16, seed = 0 } = options;
  if (typeof radius !== "number" || !(radius > 0 && Number.isFinite(radius))) {
    throw new RangeError(`${what}: radius is ${radius}, expected a finite number > 0`);
  }
  if (!Number.isInteger(lines) || lines < 1) {
    throw new RangeError(`${what}: lines is ${lines}, expected an integer ≥ 1`);
  }
  if (!Number.isInteger(seed)) {
    throw new RangeError(`${what}: seed is ${seed}, expected an integer`);
  }
  const { data, count: N } = readBatch(x, { exampleShape: net.inputShape, what });
  const D = net.inputSize, rng = new Rng(seed);
  const directions = new Float64Array(lines * D);
  for (let j = 0; j < lines; j++) {
    const u = directions.subarray(j * D, (j + 1) * D);
    let norm = 0;
    while (norm === 0) {
      for (let k = 0; k < D; k++) {
        // Box–Muller: a standard normal per coordinate, so that u/|u| is uniform on the sphere
        u[k] = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
        norm += u[k] * u[k];
      }
    }
    const s = 1 / Math.sqrt(norm);
    for (let k = 0; k < D; k++) u[k] *= s;
  }
  const levels = net.codeLayers.map((c) => ({
    layer: c.index,
    name: c.name,
    kind: c.kind,
    crossings: new Int32Array(N * lines),
  }));
  const regions = new Float64Array(N);
  const lineOptions = options.maxRegions === undefined ? {} : { maxRegions: options.maxRegions };
  const chords = directions.map((t) => t * radius);
  for (let n = 0; n < N; n++) {
    const origin = data.subarray(n * D, (n + 1) * D);
    for (let j = 0; j < lines; j++) {
      const direction = chords.subarray(j * D, (j + 1) * D);
      const p = linePartition(net, { origin, direction, range: [-1, 1] }, lineOptions);
      p.levels.forEach((l, i) => (levels[i].crossings[n * lines + j] = l.breaks.length - 2));
      regions[n] += (p.breaks.length - 1) / lines;
    }
  }
  return { radius, directions, levels, regions };
}
