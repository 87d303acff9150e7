/**
 * ⟨A[x]_c, x⟩ for every class, on WebGPU when available (async).
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
import { templateInnerProducts } from "./template_inner_products.ts";
import { checkAsyncBackend, resolveAsyncBackend } from "../backend/webgpu/resolve.ts";
import { withWebGpu } from "../backend/webgpu/with_fallback.ts";
import { innerProductsWebGpu } from "../backend/webgpu/passes.ts";

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
  const what = "Cannot compute template inner products";
  checkBatchInput(x, what); // the input first, as templateInnerProducts() checks it
  checkOptionKeys(options, ENGINE_OPTION_KEYS, what);
  const backend = checkAsyncBackend(options.backend);
  if (backend === "tfjs") return templateInnerProducts(net, x, { backend });
  // all of the input checked before any device work (the adapter's request included)
  const { data, count } = await readBatchAsync(x, {
    exampleShape: net.inputShape,
    what,
    float32: true,
  });
  // the CPU engine on the values read: a tensor is not read twice, and one on tfjs's webgpu
  // backend (which cannot read synchronously) works too
  const onCpu = () => {
    const z = templateInnerProducts(net, asBatch(x, data), { backend: "cpu" });
    return asOutput(x, z.data, [...z.shape]);
  };
  if (backend === "cpu") return onCpu();
  const engine = await resolveAsyncBackend(backend);
  if (engine === "cpu") return onCpu();
  if (engine !== "webgpu") return templateInnerProducts(net, x, { backend: engine });
  return await withWebGpu("template inner products", {
    cpu: onCpu,
    gpu: async (ctx) => {
      const array = outputArray(x);
      const z = await innerProductsWebGpu(ctx, net, { x: data, n: count, array });
      return asOutput(x, z, [count, net.outputSize]);
    },
  });
}
