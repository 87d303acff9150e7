/**
 * The k nearest neighbours in the partition distance of eq. (15), on WebGPU when
 * available (async), else on the CPU engine.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import {
  NEAREST_NEIGHBORS_KEYS,
  type NearestNeighbors,
  nearestNeighbors,
  type NearestNeighborsOptions,
} from "./nearest_neighbors.ts";
import { resolveLayer, toRows } from "./_hamming_input.ts";
import { resolveAsyncBackend } from "../backend/webgpu/resolve.ts";
import { withWebGpu } from "../backend/webgpu/with_fallback.ts";
import {
  MISMATCH_CHUNKS_KEYS,
  type MismatchChunks,
  mismatchTopKWebGpu,
} from "../backend/webgpu/mismatch.ts";
import { MAX_GPU_K } from "../backend/webgpu/kernels/top_k_merge.ts";
import { checkOptionKeys } from "../util/options.ts";

export type { MismatchChunks } from "../backend/webgpu/mismatch.ts";

/** Options of {@linkcode nearestNeighborsAsync}. */
export interface NearestNeighborsAsyncOptions extends NearestNeighborsOptions {
  /**
   * `"webgpu"`: WGSL kernels (XOR + popcount tiles streamed over the base, a fused
   * top-k on the GPU; k ≤ 128, larger k runs on the CPU); `"cpu"`: the CPU engine of
   * {@linkcode nearestNeighbors}; `"auto"` (default): WebGPU on a hardware adapter,
   * else the CPU. Without an adapter, or when the device is lost, the CPU engine
   * computes after a one-line notice.
   */
  backend?: "auto" | "cpu" | "webgpu";
  /** Base / query rows per GPU chunk (multiples of 128); for tests of the chunking. */
  gpuChunks?: MismatchChunks;
}

const ASYNC_KEYS: Readonly<Record<keyof NearestNeighborsAsyncOptions, true>> = {
  ...NEAREST_NEIGHBORS_KEYS,
  backend: true,
  gpuChunks: true,
};

/**
 * The `k` base examples nearest to each query in the partition distance of eq. (15)
 * (Balestriero & Baraniuk, ICML 2018, §7.3, Fig. 4),
 * `d = 1 − #{k : t_k(x₁) = t_k(x₂)} / D^(ℓ)`, sorted by distance ascending, equal
 * distances broken by the smaller base index — {@linkcode nearestNeighbors}'s result,
 * computed on WebGPU when available. The query × base distance matrix is never
 * materialised: the GPU counts one base chunk at a time and merges it into a running
 * top-k per query.
 *
 * @param query Codes of the queries (N_query examples): all layers or one layer.
 * @param base Codes of the examples searched (N_base), of the same code layer.
 * @param options As {@linkcode nearestNeighbors}, plus `backend`.
 * @returns `{ indices, distances }`, both `[N_query, k]`.
 * @throws {RangeError} As {@linkcode nearestNeighbors}, or for an unknown backend.
 *
 * @example Leave-one-out nearest neighbour
 * ```ts
 * import type { CodeLayer } from "./code_layer.ts";
 * import { nearestNeighborsAsync } from "./nearest_neighbors_async.ts";
 * import { deepEqual } from "node:assert/strict";
 * const codes: CodeLayer = {
 *   kind: "relu", layer: 0, name: "relu", count: 3, units: 4, shape: [4], words: 1,
 *   bits: new Uint32Array([0b0000, 0b0001, 0b1111]), argmax: new Uint16Array(0),
 * };
 * const nn = await nearestNeighborsAsync(codes, codes, { k: 1, exclude: "same-index" });
 * deepEqual(nn.indices.arraySync(), [[1], [0], [1]]);
 * deepEqual(nn.distances.arraySync(), [[0.25], [0.25], [0.75]]);
 * nn.indices.dispose();
 * nn.distances.dispose();
 * ```
 */
export async function nearestNeighborsAsync(
  query: PartitionCodes | CodeLayer,
  base: PartitionCodes | CodeLayer,
  options: NearestNeighborsAsyncOptions,
): Promise<NearestNeighbors> {
  const what = "Cannot find nearest neighbours";
  // the CPU entry point names what is wrong with a missing options object
  if (options === null || typeof options !== "object") {
    return nearestNeighbors(query, base, options);
  }
  checkOptionKeys(options, ASYNC_KEYS, what);
  const { backend, gpuChunks, ...rest } = options ?? {} as NearestNeighborsAsyncOptions;
  checkOptionKeys(gpuChunks, MISMATCH_CHUNKS_KEYS, `${what} (options.gpuChunks)`);
  const cpu = () => nearestNeighbors(query, base, rest);
  const cq = resolveLayer(query, rest.layer, what, "query");
  const cb = resolveLayer(base, rest.layer, what, "base");
  // the CPU entry point validates k, exclude and the operands on an empty query set
  const none = { ...cq, count: 0, bits: new Uint32Array(0), argmax: new Uint16Array(0) };
  tf.dispose(Object.values(nearestNeighbors(none, cb, rest)));
  const engine = await resolveAsyncBackend(backend);
  if (engine === "tfjs") {
    throw new RangeError(`${what}: options.backend is 'tfjs', expected "auto", "cpu" or "webgpu"`);
  }
  const mismatched = rest.exclude === "same-index" && cq.count !== cb.count; // cpu() names it
  if (engine !== "webgpu" || mismatched || rest.k === 0 || rest.k > MAX_GPU_K || cq.count === 0) {
    return cpu();
  }
  return await withWebGpu("nearest neighbours", {
    cpu,
    gpu: async (ctx) => {
      const { indices, counts } = await mismatchTopKWebGpu(ctx, {
        query: toRows(cq),
        base: toRows(cb),
      }, { k: rest.k, exclude: rest.exclude === "same-index", chunks: gpuChunks });
      const distances = new Float32Array(counts.length);
      for (let i = 0; i < counts.length; i++) distances[i] = counts[i] / cq.units;
      return {
        indices: tf.tensor2d(indices, [cq.count, rest.k], "int32"),
        distances: tf.tensor2d(distances, [cq.count, rest.k], "float32"),
      };
    },
  });
}
