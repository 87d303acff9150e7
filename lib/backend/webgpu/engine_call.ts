/**
 * The routing every async engine function shares (`affineMapAsync`,
 * `templateInnerProductsAsync`, `partitionCodesAsync`): its input and options checked before any
 * device work, the input read once and asynchronously, then the engine chosen and the fallback to
 * the CPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  asBatch,
  type Batch,
  type BatchInput,
  checkBatchInput,
  checkTensorAsync,
  isTensor,
  readBatchAsync,
} from "../../network/batch.ts";
import type { SplineNetwork } from "../../network/spline_network.ts";
import { ENGINE_OPTION_KEYS, type EngineOptions, resolveBackend } from "../backend.ts";
import { checkOptionKeys } from "../../util/options.ts";
import { checkAsyncBackend, resolveAsyncBackend } from "./resolve.ts";
import { withWebGpu } from "./with_fallback.ts";
import type { WebGpuContext } from "./device.ts";
import { gpuData } from "./_tfjs_gpu_tensors.ts";

/** How one async engine function computes on each engine. */
export interface EngineCall<R> {
  /** The computation, for messages (`"Cannot compute the affine map"`). */
  what: string;
  /** The computation, for the fallback notice (`"the affine map"`). */
  label: string;
  /** The sync function on the input as given, with the tfjs engine. */
  tfjs: () => R;
  /**
   * The CPU engine on the values read, as a float64 batch; its result in the kind of result the
   * input asks for (tensors for a tensor).
   */
  cpu: (batch: Batch) => R;
  /** The WebGPU engine on the values read (float32 for a float32 tensor). */
  gpu: (ctx: WebGpuContext, data: Float64Array | Float32Array, count: number) => Promise<R>;
  /**
   * The WebGPU engine on a tensor that lives on tfjs's `webgpu` backend on masokit's device: its
   * float32 rows as a buffer on the device, its results given back to tfjs as GPU tensors
   * (nothing crosses the bus). Without it such a tensor is read.
   */
  onDevice?: (ctx: WebGpuContext, x: GPUBuffer, count: number) => Promise<R>;
}

/**
 * Runs one async engine call. A tensor input is read once, asynchronously (so that one on tfjs's
 * webgpu backend, which cannot be read synchronously in Deno, works too) — or, where it lives on
 * tfjs-webgpu on masokit's device and the call has an `onDevice` path, not read at all; every
 * check of the input and options comes before the adapter's request; `"cpu"` and an `"auto"` that resolves to
 * the CPU run the CPU engine on the values read; `"tfjs"` runs the sync function; the WebGPU
 * engine falls back to the CPU with a one-line notice without an adapter or on a lost device.
 *
 * @param net The network.
 * @param x The input.
 * @param options The engine options.
 * @param call How to compute on each engine.
 * @returns What the engine that ran returned.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../../network/spline_network.ts";
 * import { engineCall } from "./engine_call.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const n = await engineCall(net, { data: new Float64Array([1, -1]), shape: [1, 2] }, { backend: "cpu" }, {
 *   what: "Cannot count", label: "a count",
 *   tfjs: () => -1, cpu: (b) => b.shape[0], gpu: () => Promise.resolve(-2),
 * });
 * equal(n, 1);
 * ```
 */
export async function engineCall<R>(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions,
  call: EngineCall<R>,
): Promise<R> {
  const { what } = call;
  checkBatchInput(x, what); // the input first, as the sync function checks it
  checkOptionKeys(options, ENGINE_OPTION_KEYS, what);
  const backend = checkAsyncBackend(options.backend);
  if (backend === "tfjs") return call.tfjs();
  const read = { exampleShape: net.inputShape, what, float32: true };
  // a tensor on tfjs-webgpu is checked where it lives, and read only if an engine needs its
  // values; any other input is read (and checked) now — all before any device work, the
  // adapter's request included
  const resident = call.onDevice !== undefined && isTensor(x) && backend !== "cpu" &&
    tf.getBackend() === "webgpu";
  let data = resident ? null : (await readBatchAsync(x, read)).data;
  if (resident) await checkTensorAsync(x as tf.Tensor, read);
  const values = async () => data ?? (data = (await readBatchAsync(x, read)).data);
  const onCpu = async () => call.cpu(asBatch(x, await values()));
  const count = x.shape[0];
  if (backend === "cpu") return await onCpu();
  const asked = await resolveAsyncBackend(backend);
  // "auto" without a hardware adapter: the sync functions' choice of engine
  const engine = asked === "auto" ? resolveBackend(x, { backend: "auto" }, what) : asked;
  if (engine === "cpu") return await onCpu();
  if (engine === "tfjs") return call.tfjs();
  return await withWebGpu(call.label, {
    cpu: onCpu,
    gpu: async (ctx) => {
      const device = resident ? gpuData(x as tf.Tensor, ctx) : null;
      if (device === null) return await call.gpu(ctx, await values(), count);
      try {
        return await call.onDevice!(ctx, device.buffer, count);
      } finally {
        device.done(); // its readers are submitted
      }
    },
  });
}
