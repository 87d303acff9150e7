/**
 * The exact affine map z(x) = A[x]·x + B[x] of a batch, on WebGPU when available (async).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { asOutput, type Batch, type BatchInput, outputArray } from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import type { EngineOptions } from "../backend/backend.ts";
import { type AffineMap, affineMap } from "./affine_map.ts";
import { engineCall } from "../backend/webgpu/engine_call.ts";
import { affineMapWebGpu } from "../backend/webgpu/passes.ts";
import { affineMapOnDevice } from "../backend/webgpu/on_device.ts";
import { gpuTensor } from "../backend/webgpu/_tfjs_gpu_tensors.ts";

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
  return await engineCall(net, x, options, {
    what: "Cannot compute the affine map",
    label: "the affine map",
    tfjs: () => affineMap(net, x, { backend: "tfjs" }),
    cpu: (batch) => {
      const { A, B } = affineMap(net, batch, { backend: "cpu" });
      return { A: asOutput(x, A.data, [...A.shape]), B: asOutput(x, B.data, [...B.shape]) };
    },
    gpu: async (ctx, data, count) => {
      const array = outputArray(x);
      const { A, B } = await affineMapWebGpu(ctx, net, { x: data, n: count, array });
      const C = net.outputSize, D = net.inputSize;
      return { A: asOutput(x, A, [count, C, D]), B: asOutput(x, B, [count, C]) };
    },
    onDevice: async (ctx, xDev, count) => {
      const { A, B } = await affineMapOnDevice(ctx, net, xDev, count);
      const C = net.outputSize, D = net.inputSize;
      return { A: gpuTensor(A, [count, C, D]), B: gpuTensor(B, [count, C]) };
    },
  });
}
