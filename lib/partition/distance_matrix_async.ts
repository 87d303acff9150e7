/**
 * The partition distance of eq. (15) as plain float64 data, on WebGPU when available.
 *
 * @module
 */
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import {
  type DistanceMatrix,
  PARTITION_DISTANCE_KEYS,
  partitionDistanceMatrix,
  type PartitionDistanceOptions,
} from "./distance_matrix.ts";
import { checkComparable, engineOptions, resolveLayer, toRows } from "./_hamming_input.ts";
import { resolveAsyncBackend } from "../backend/webgpu/resolve.ts";
import { withWebGpu } from "../backend/webgpu/with_fallback.ts";
import {
  MISMATCH_CHUNKS_KEYS,
  type MismatchChunks,
  mismatchMatrixWebGpu,
} from "../backend/webgpu/mismatch.ts";
import { checkOptionKeys } from "../util/options.ts";

export type { MismatchChunks } from "../backend/webgpu/mismatch.ts";

/** Options of {@linkcode partitionDistanceMatrixAsync}. */
export interface PartitionDistanceAsyncOptions extends PartitionDistanceOptions {
  /** `"webgpu"`, `"cpu"` or `"auto"` (default: WebGPU on a hardware adapter, else CPU). */
  backend?: "auto" | "cpu" | "webgpu";
  /** Base / query rows per GPU chunk; for tests of the chunking. */
  gpuChunks?: MismatchChunks;
}

const ASYNC_KEYS: Readonly<Record<keyof PartitionDistanceAsyncOptions, true>> = {
  ...PARTITION_DISTANCE_KEYS,
  backend: true,
  gpuChunks: true,
};

/**
 * All-pairs partition distances (eq. 15), `#mismatches / D^(ℓ)` as float64 — the
 * result of {@linkcode partitionDistanceMatrix}, computed on WebGPU when available
 * (the whole `[N_a, N_b]` matrix is read back: use `nearestNeighborsAsync` when only
 * the nearest are needed).
 *
 * @param a Codes of the first batch: all layers or one layer.
 * @param b Codes of the second batch, of the same code layer.
 * @param options `layer`, `threads` (CPU), `backend`.
 * @returns `{ data, shape: [N_a, N_b] }`.
 *
 * @example
 * ```ts
 * import type { CodeLayer } from "./code_layer.ts";
 * import { partitionDistanceMatrixAsync } from "./distance_matrix_async.ts";
 * import { deepEqual } from "node:assert/strict";
 * const codes: CodeLayer = {
 *   kind: "relu", layer: 0, name: "relu", count: 2, units: 4, shape: [4], words: 1,
 *   bits: new Uint32Array([0b0011, 0b0101]), argmax: new Uint16Array(0),
 * };
 * const d = await partitionDistanceMatrixAsync(codes, codes);
 * deepEqual([...d.data], [0, 0.5, 0.5, 0]);
 * ```
 */
export async function partitionDistanceMatrixAsync(
  a: PartitionCodes | CodeLayer,
  b: PartitionCodes | CodeLayer,
  options: PartitionDistanceAsyncOptions = {},
): Promise<DistanceMatrix> {
  const what = "Cannot compute partition distance";
  checkOptionKeys(options, ASYNC_KEYS, what);
  const { backend, gpuChunks, ...rest } = options;
  checkOptionKeys(gpuChunks, MISMATCH_CHUNKS_KEYS, `${what} (options.gpuChunks)`);
  const ca = resolveLayer(a, rest.layer, what, "a");
  const cb = resolveLayer(b, rest.layer, what, "b");
  checkComparable(ca, cb, what, ["a", "b"]);
  engineOptions(rest.threads, what); // named here whichever engine runs
  const cpu = () => partitionDistanceMatrix(a, b, rest);
  const engine = await resolveAsyncBackend(backend);
  if (engine === "tfjs") {
    throw new RangeError(`${what}: options.backend is 'tfjs', expected "auto", "cpu" or "webgpu"`);
  }
  if (engine !== "webgpu" || ca.count === 0 || cb.count === 0) return cpu();
  return await withWebGpu("partition distances", {
    cpu,
    gpu: async (ctx) => {
      const counts = await mismatchMatrixWebGpu(ctx, { query: toRows(ca), base: toRows(cb) }, {
        chunks: gpuChunks,
      });
      const data = new Float64Array(counts.length);
      for (let i = 0; i < counts.length; i++) data[i] = counts[i] / ca.units;
      return { data, shape: [ca.count, cb.count] as [number, number] };
    },
  });
}
