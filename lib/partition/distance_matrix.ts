/**
 * The partition distance of eq. (15) as plain float64 data, without tfjs.
 *
 * @module
 */
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import { mismatchMatrix } from "./_hamming_engine.ts";
import { checkComparable, engineOptions, resolveLayer, toRows } from "./_hamming_input.ts";
import { checkOptionKeys } from "../util/options.ts";

/** Options of {@linkcode partitionDistance} and {@linkcode partitionDistanceMatrix}. */
export interface PartitionDistanceOptions {
  /**
   * Which code layer ℓ, indexing the code layers from 0. Required when
   * {@linkcode PartitionCodes} with more than one layer are passed.
   */
  layer?: number;
  /**
   * Threads to use, the calling one included (default: the machine's logical cores,
   * at most 8). Workers are only started for jobs large enough to repay them.
   */
  threads?: number;
}

/** The keys of {@linkcode PartitionDistanceOptions}. */
export const PARTITION_DISTANCE_KEYS: Readonly<Record<keyof PartitionDistanceOptions, true>> = {
  layer: true,
  threads: true,
};

/** A row-major float64 matrix. */
export interface DistanceMatrix {
  /** `shape[0] · shape[1]` values, row-major. */
  data: Float64Array;
  /** `[Na, Nb]`. */
  shape: [number, number];
}

/**
 * All-pairs partition distances (eq. 15 of Balestriero & Baraniuk, ICML 2018, §7.3),
 * `d(x₁, x₂) = 1 − #{k : t_k(x₁) = t_k(x₂)} / D^(ℓ)`, as float64 data: the fraction of
 * the layer's D^(ℓ) units whose code differs (sign bit for ReLU / leaky ReLU / abs,
 * argmax index for max pooling), computed as `#mismatches / D^(ℓ)`.
 *
 * Runs on a WebAssembly popcount kernel (JavaScript where WebAssembly is missing),
 * on several threads for large inputs; {@linkcode partitionDistance} returns the
 * same values as a float32 tensor.
 *
 * @param a Codes of the first batch (N_a examples): all layers or one layer.
 * @param b Codes of the second batch (N_b examples), of the same code layer.
 * @param options `layer`, `threads`.
 * @returns `{ data, shape: [N_a, N_b] }`, `data[i · N_b + j] = d(a_i, b_j)`.
 * @throws {RangeError} When the layer is missing or out of range, or `a` and `b` are
 *   codes of different layers, kinds, sizes or shapes.
 *
 * @example Two examples of a 4-unit ReLU layer
 * ```ts
 * import type { CodeLayer } from "./code_layer.ts";
 * import { partitionDistanceMatrix } from "./distance_matrix.ts";
 * import { deepEqual } from "node:assert/strict";
 * const codes: CodeLayer = {
 *   kind: "relu", layer: 0, name: "relu", count: 2, units: 4, shape: [4], words: 1,
 *   bits: new Uint32Array([0b0011, 0b0101]), argmax: new Uint16Array(0),
 * };
 * const d = partitionDistanceMatrix(codes, codes);
 * deepEqual(d.shape, [2, 2]);
 * deepEqual([...d.data], [0, 0.5, 0.5, 0]); // units 1 and 2 differ: 2 of 4
 * ```
 */
export function partitionDistanceMatrix(
  a: PartitionCodes | CodeLayer,
  b: PartitionCodes | CodeLayer,
  options: PartitionDistanceOptions = {},
): DistanceMatrix {
  const what = "Cannot compute partition distance";
  checkOptionKeys(options, PARTITION_DISTANCE_KEYS, what);
  const ca = resolveLayer(a, options.layer, what, "a");
  const cb = resolveLayer(b, options.layer, what, "b");
  checkComparable(ca, cb, what, ["a", "b"]);
  const counts = mismatchMatrix(toRows(ca), toRows(cb), engineOptions(options.threads, what));
  const data = new Float64Array(counts.length);
  const units = ca.units;
  for (let i = 0; i < counts.length; i++) data[i] = counts[i] / units;
  return { data, shape: [ca.count, cb.count] };
}
