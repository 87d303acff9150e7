/**
 * ⟨A[x]_c, x⟩ for every class, on WebGPU when available (async).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { asOutput, type Batch, type BatchInput, outputArray } from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import type { EngineOptions } from "../backend/backend.ts";
import { templateInnerProducts } from "./template_inner_products.ts";
import { engineCall } from "../backend/webgpu/engine_call.ts";
import { innerProductsWebGpu } from "../backend/webgpu/passes.ts";
import { innerProductsOnDevice } from "../backend/webgpu/on_device.ts";
import { gpuTensor } from "../backend/webgpu/_tfjs_gpu_tensors.ts";

/**
 * The inner products ⟨A[x]_c, x⟩ `[N, C]` (Proposition 5, Figure 2) — the result of
 * {@linkcode templateInnerProducts}, computed with `backend: "webgpu"` by the forward
 * pass (codes) and ONE masked linear pass with every bias dropped, in one submit per
 * chunk. Float32 on the GPU. `"auto"` picks WebGPU on a hardware adapter only; without
 * an adapter, or when the device is lost, the CPU computes after a one-line notice.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`: a tensor (a float32 tensor out) or a float64 batch.
 * @param options `backend` (`"auto"`, `"cpu"`, `"tfjs"`, `"webgpu"`).
 * @returns `[N, C]`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { templateInnerProductsAsync } from "./template_inner_products_async.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: new Float64Array([1, -1]), bias: new Float64Array([1]) },
 *   { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
 * ]);
 * const out = await templateInnerProductsAsync(net, { data: new Float64Array([3, 1]), shape: [1, 2] });
 * deepEqual(Array.from(out.data), [2]);
 * ```
 */
export async function templateInnerProductsAsync(
  net: SplineNetwork,
  x: tf.Tensor,
  options?: EngineOptions,
): Promise<tf.Tensor>;
/** ⟨A[x]_c, x⟩ for every class c of a float64 batch, as a float64 batch `[N, C]`. */
export async function templateInnerProductsAsync(
  net: SplineNetwork,
  x: Batch,
  options?: EngineOptions,
): Promise<Batch>;
export async function templateInnerProductsAsync(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): Promise<tf.Tensor | Batch> {
  return await engineCall(net, x, options, {
    what: "Cannot compute template inner products",
    label: "template inner products",
    tfjs: () => templateInnerProducts(net, x, { backend: "tfjs" }),
    cpu: (batch) => {
      const z = templateInnerProducts(net, batch, { backend: "cpu" });
      return asOutput(x, z.data, [...z.shape]);
    },
    gpu: async (ctx, data, count) => {
      const array = outputArray(x);
      const z = await innerProductsWebGpu(ctx, net, { x: data, n: count, array });
      return asOutput(x, z, [count, net.outputSize]);
    },
    onDevice: async (ctx, xDev, count) =>
      gpuTensor(await innerProductsOnDevice(ctx, net, xDev, count), [count, net.outputSize]),
  });
}
