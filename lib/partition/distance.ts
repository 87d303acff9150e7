/**
 * The partition distance of eq. (15) between two batches, as a tfjs tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import { partitionDistanceMatrix, type PartitionDistanceOptions } from "./distance_matrix.ts";

/**
 * All-pairs partition distances (eq. 15 of Balestriero & Baraniuk, ICML 2018, §7.3),
 * `d(x₁, x₂) = 1 − #{k : t_k(x₁) = t_k(x₂)} / D^(ℓ)`: the fraction of the layer's
 * D^(ℓ) units whose code differs (sign bit for ReLU / leaky ReLU / abs, argmax index
 * for max pooling). 0 for identical codes, 1 when every unit differs.
 *
 * Values are {@linkcode partitionDistanceMatrix}'s float64 `#mismatches / D^(ℓ)`
 * rounded to float32. Runs on the CPU (WebAssembly popcount kernel, several threads
 * for large inputs) whatever the tfjs backend; the result is created on the current
 * backend.
 *
 * @param a Codes of the first batch (N_a examples): all layers or one layer.
 * @param b Codes of the second batch (N_b examples), of the same code layer.
 * @param options `layer` (required for codes with several layers), `threads`.
 * @returns A float32 tensor `[N_a, N_b]`; `[0, N_b]` for an empty first batch.
 * @throws {RangeError} When the layer is missing or out of range, or `a` and `b` are
 *   codes of different layers, kinds, sizes or shapes.
 *
 * @example Distances at the second code layer
 * ```ts
 * import type { CodeLayer } from "./code_layer.ts";
 * import { partitionDistance } from "./distance.ts";
 * import { deepEqual } from "node:assert/strict";
 * const relu = (layer: number, bits: number[]): CodeLayer => ({
 *   kind: "relu", layer, name: `relu${layer}`, count: bits.length, units: 4, shape: [4],
 *   words: 1, bits: new Uint32Array(bits), argmax: new Uint16Array(0),
 * });
 * const codes = [relu(0, [0b0000, 0b0000]), relu(1, [0b1111, 0b0001])];
 * const d = partitionDistance(codes, codes, { layer: 1 });
 * deepEqual(d.arraySync(), [[0, 0.75], [0.75, 0]]);
 * d.dispose();
 * ```
 */
export function partitionDistance(
  a: PartitionCodes | CodeLayer,
  b: PartitionCodes | CodeLayer,
  options: PartitionDistanceOptions = {},
): tf.Tensor2D {
  const { data, shape } = partitionDistanceMatrix(a, b, options);
  return tf.tensor2d(Float32Array.from(data), shape, "float32");
}
