/**
 * Partition codes of a batch, on WebGPU when available (async).
 *
 * @module
 */
import type { BatchInput } from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import type { EngineOptions } from "../backend/backend.ts";
import { partitionCodes } from "./codes.ts";
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import { engineCall } from "../backend/webgpu/engine_call.ts";
import { forwardWebGpu } from "../backend/webgpu/passes.ts";
import type { WebGpuContext } from "../backend/webgpu/device.ts";

/**
 * The partition codes t^(ℓ)(x) of a batch at every code layer (Section 7) — the result
 * of {@linkcode partitionCodes}, computed with `backend: "webgpu"` by one forward pass
 * on the GPU that emits the bit-packed sign words and max-pool argmax slots of every
 * layer in the same submit. The GPU works in float32: a pre-activation within float32
 * rounding of 0 (or a max-pool near-tie) may get the other code — on GPUs exact ties too where a
 * 3×3 conv before them runs by Winograd (its rounding differs across a tile: an image's constant
 * background through a max-pool), where the CPU engines keep the first-index convention.
 * `"auto"` picks WebGPU
 * on a hardware adapter only; without an adapter, or when the device is lost, the CPU
 * computes after a one-line notice.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options `backend` (`"auto"`, `"cpu"`, `"tfjs"`, `"webgpu"`).
 * @returns One {@linkcode CodeLayer} per nonlinear layer.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { partitionCodesAsync } from "./codes_async.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([3], [{ kind: "relu", name: "r", inputShape: [3], outputShape: [3] }]);
 * const [layer] = await partitionCodesAsync(net, { data: new Float64Array([1, 0, 2]), shape: [1, 3] });
 * equal(layer.bits[0], 0b101);
 * ```
 */
export async function partitionCodesAsync(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): Promise<PartitionCodes> {
  return await engineCall(net, x, options, {
    what: "Cannot compute partition codes",
    label: "partition codes",
    tfjs: () => partitionCodes(net, x, { backend: "tfjs" }),
    cpu: (batch) => partitionCodes(net, batch, { backend: "cpu" }),
    gpu: (ctx, data, count) => onWebGpu(ctx, net, data, count),
    onDevice: (ctx, xDev, count) => onWebGpu(ctx, net, xDev, count),
  });
}

/** The codes by one forward pass on WebGPU, of inputs read or already on the device. */
async function onWebGpu(
  ctx: WebGpuContext,
  net: SplineNetwork,
  x: Float64Array | Float32Array | GPUBuffer,
  count: number,
): Promise<PartitionCodes> {
  const { codes } = await forwardWebGpu(ctx, net, { x, n: count });
  return net.codeLayers.map((info): CodeLayer => {
    const raw = codes.get(info.layer)!;
    const common = {
      kind: info.kind,
      layer: info.index,
      name: info.name,
      count,
      units: info.units,
      shape: info.shape,
    };
    return info.kind === "max-pool"
      ? { ...common, words: 0, bits: new Uint32Array(0), argmax: Uint16Array.from(raw) }
      : { ...common, words: Math.ceil(info.units / 32), bits: raw, argmax: new Uint16Array(0) };
  });
}
