/**
 * The exact affine map z(x) = A[x]·x + B[x] of a batch, on WebGPU when available (async).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  asBatch,
  asOutput,
  type Batch,
  type BatchInput,
  checkBatchInput,
  outputArray,
  readBatchAsync,
} from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import { ENGINE_OPTION_KEYS, type EngineOptions } from "../backend/backend.ts";
import { checkOptionKeys } from "../util/options.ts";
import { type AffineMap, affineMap } from "./affine_map.ts";
import { checkAsyncBackend, resolveAsyncBackend } from "../backend/webgpu/resolve.ts";
import { withWebGpu } from "../backend/webgpu/with_fallback.ts";
import { affineMapWebGpu } from "../backend/webgpu/passes.ts";

/**
 * All class templates A[x] `[N, C, D]` and offsets B[x] `[N, C]` of a batch (the
 * paper's eq. 8–9) — the result of {@linkcode affineMap}, computed with
 * `backend: "webgpu"` in one submit per chunk: the forward pass records the codes, one
 * transposed masked pass of the C one-hot covectors per example gives A, and the masked
 * pass of the zero input gives B. Float32 on the GPU. `"auto"` picks WebGPU on a
 * hardware adapter only; without an adapter, or when the device is lost, the CPU
 * computes after a one-line notice.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`: a tensor (float32 tensors out) or a float64 batch.
 * @param options `backend` (`"auto"`, `"cpu"`, `"tfjs"`, `"webgpu"`).
 * @returns `{ A, B }`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { affineMapAsync } from "./affine_map_async.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: new Float64Array([1, -1]), bias: null },
 *   { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
 * ]);
 * const { A } = await affineMapAsync(net, { data: new Float64Array([3, 1, 0, 2]), shape: [2, 2] });
 * deepEqual(Array.from(A.data), [1, -1, 0, 0]);
 * ```
 */
export async function affineMapAsync(
  net: SplineNetwork,
  x: tf.Tensor,
  options?: EngineOptions,
): Promise<AffineMap<tf.Tensor>>;
/** The templates A[x] and offsets B[x] of a float64 batch, as float64 batches. */
export async function affineMapAsync(
  net: SplineNetwork,
  x: Batch,
  options?: EngineOptions,
): Promise<AffineMap<Batch>>;
export async function affineMapAsync(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): Promise<AffineMap<tf.Tensor | Batch>> {
  const what = "Cannot compute the affine map";
  checkBatchInput(x, what); // the input first, as affineMap() checks it
  checkOptionKeys(options, ENGINE_OPTION_KEYS, what);
  const backend = checkAsyncBackend(options.backend);
  if (backend === "tfjs") return affineMap(net, x, { backend });
  // all of the input checked before any device work (the adapter's request included)
  const { data, count } = await readBatchAsync(x, {
    exampleShape: net.inputShape,
    what,
    float32: true,
  });
  // the CPU engine on the values read: a tensor is not read twice, and one on tfjs's webgpu
  // backend (which cannot read synchronously) works too
  const onCpu = () => {
    const { A, B } = affineMap(net, asBatch(x, data), { backend: "cpu" });
    return { A: asOutput(x, A.data, [...A.shape]), B: asOutput(x, B.data, [...B.shape]) };
  };
  if (backend === "cpu") return onCpu();
  const engine = await resolveAsyncBackend(backend);
  if (engine === "cpu") return onCpu();
  if (engine !== "webgpu") return affineMap(net, x, { backend: engine });
  const C = net.outputSize, D = net.inputSize;
  return await withWebGpu("the affine map", {
    cpu: onCpu,
    gpu: async (ctx) => {
      const array = outputArray(x);
      const { A, B } = await affineMapWebGpu(ctx, net, { x: data, n: count, array });
      return { A: asOutput(x, A, [count, C, D]), B: asOutput(x, B, [count, C]) };
    },
  });
}
