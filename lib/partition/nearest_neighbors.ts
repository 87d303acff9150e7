/**
 * The k nearest neighbours of each query in the partition distance of eq. (15).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import { mismatchTopK } from "./_hamming_engine.ts";
import { checkComparable, engineOptions, resolveLayer, toRows } from "./_hamming_input.ts";
import { checkOptionKeys } from "../util/options.ts";

/** Options of {@linkcode nearestNeighbors}. */
export interface NearestNeighborsOptions {
  /**
   * Which code layer ℓ, indexing the code layers from 0. Required when
   * {@linkcode PartitionCodes} with more than one layer are passed.
   */
  layer?: number;
  /** Neighbours per query, an integer in `[0, N_base]` (`[0, N_base − 1]` with `exclude`). */
  k: number;
  /**
   * `"same-index"`: query `i` never gets base example `i` (leave-one-out, for
   * `query === base`).
   */
  exclude?: "same-index";
  /**
   * Threads to use, the calling one included (default: the machine's logical cores,
   * at most 8). Workers are only started for jobs large enough to repay them.
   */
  threads?: number;
}

/** The neighbours found by {@linkcode nearestNeighbors}. */
export interface NearestNeighbors {
  /** int32 `[N_query, k]`: base example indices, nearest first. */
  indices: tf.Tensor2D;
  /** float32 `[N_query, k]`: their partition distances (eq. 15), ascending. */
  distances: tf.Tensor2D;
}

/** The keys of {@linkcode NearestNeighborsOptions}. */
export const NEAREST_NEIGHBORS_KEYS: Readonly<Record<keyof NearestNeighborsOptions, true>> = {
  k: true,
  layer: true,
  exclude: true,
  threads: true,
};

/**
 * The `k` base examples nearest to each query in the partition distance of eq. (15)
 * (Balestriero & Baraniuk, ICML 2018, §7.3, Fig. 4),
 * `d = 1 − #{k : t_k(x₁) = t_k(x₂)} / D^(ℓ)`, sorted by distance ascending; equal
 * distances are broken by the smaller base index.
 *
 * The query × base distance matrix is never materialised: the base is streamed in
 * blocks through a WebAssembly popcount kernel and a bounded top-k per query (on
 * several threads for large inputs). Distances equal {@linkcode partitionDistance}'s.
 *
 * @param query Codes of the queries (N_query examples): all layers or one layer.
 * @param base Codes of the examples searched (N_base), of the same code layer.
 * @param options `k`, `layer` (required for codes with several layers), `exclude`,
 *   `threads`.
 * @returns `{ indices, distances }`, both `[N_query, k]`; `[N_query, 0]` for `k = 0`
 *   and `[0, k]` for no queries.
 * @throws {RangeError} When `k` is not an integer in range, the layer is missing or
 *   out of range, or the two operands are codes of different layers, kinds, sizes or shapes.
 *
 * @example Leave-one-out nearest neighbour
 * ```ts
 * import type { CodeLayer } from "./code_layer.ts";
 * import { nearestNeighbors } from "./nearest_neighbors.ts";
 * import { deepEqual } from "node:assert/strict";
 * const codes: CodeLayer = {
 *   kind: "relu", layer: 0, name: "relu", count: 3, units: 4, shape: [4], words: 1,
 *   bits: new Uint32Array([0b0000, 0b0001, 0b1111]), argmax: new Uint16Array(0),
 * };
 * const { indices, distances } = nearestNeighbors(codes, codes, { k: 1, exclude: "same-index" });
 * deepEqual(indices.arraySync(), [[1], [0], [1]]);
 * deepEqual(distances.arraySync(), [[0.25], [0.25], [0.75]]);
 * indices.dispose();
 * distances.dispose();
 * ```
 */
export function nearestNeighbors(
  query: PartitionCodes | CodeLayer,
  base: PartitionCodes | CodeLayer,
  options: NearestNeighborsOptions,
): NearestNeighbors {
  const what = "Cannot find nearest neighbours";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options is ${options}, expected { k, layer?, exclude? }`);
  }
  checkOptionKeys(options, NEAREST_NEIGHBORS_KEYS, what);
  const cq = resolveLayer(query, options.layer, what, "query");
  const cb = resolveLayer(base, options.layer, what, "base");
  checkComparable(cq, cb, what, ["query", "base"]);
  const { k, exclude } = options;
  if (exclude !== undefined && exclude !== "same-index") {
    throw new RangeError(`${what}: options.exclude is '${exclude}', expected 'same-index'`);
  }
  if (exclude === "same-index" && cq.count !== cb.count && cq.count > 0) {
    throw new RangeError(
      `${what}: exclude 'same-index' is for a set against itself, but query has ${cq.count} examples and base ${cb.count}`,
    );
  }
  const most = cb.count - (exclude === "same-index" ? 1 : 0);
  if (!(Number.isInteger(k) && k >= 0 && k <= most)) {
    throw new RangeError(
      `${what}: k is ${
        typeof k === "string" ? `"${k}" (a string)` : k
      }, expected an integer in [0, ${most}] (base has ${cb.count} examples${
        exclude ? ", one excluded per query" : ""
      })`,
    );
  }
  const { indices, counts } = mismatchTopK(toRows(cq), toRows(cb), {
    ...engineOptions(options.threads, what),
    k,
    exclude: exclude === "same-index",
  });
  const distances = new Float32Array(counts.length);
  for (let i = 0; i < counts.length; i++) distances[i] = counts[i] / cq.units;
  return {
    indices: tf.tensor2d(indices, [cq.count, k], "int32"),
    distances: tf.tensor2d(distances, [cq.count, k], "float32"),
  };
}
