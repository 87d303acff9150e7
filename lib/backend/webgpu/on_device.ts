/**
 * The affine map and ⟨A_c, x⟩ of a batch that is already on the GPU, with results left there:
 * for inputs that live on tfjs's `webgpu` backend sharing masokit's device, whose results go back
 * to tfjs as GPU tensors. Nothing crosses the bus; the passes are the read-back ones' (the same
 * chunks, recordings and kernels), with each chunk's input rows copied from the batch's buffer
 * on the device and its results copied into whole-batch result buffers there.
 *
 * @module
 */
import type { SplineNetwork } from "../../network/spline_network.ts";
import type { WebGpuContext } from "./device.ts";
import { checked, STORAGE } from "./_gpu.ts";
import {
  chunkSize,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "./passes.ts";
import { Recorder } from "./run.ts";

/** A result buffer of `floats` float32 values (storage, copy source and target: tfjs can take
 * it as a tensor's data; the caller owns it). */
function resultBuffer(ctx: WebGpuContext, floats: number, label: string): GPUBuffer {
  return ctx.device.createBuffer({ size: Math.max(4, floats * 4), usage: STORAGE, label });
}

/**
 * Runs `record` (the submits) inside {@link checked}; if it throws or WebGPU reports a
 * validation error, destroys `results` (nothing half-made is left behind) and rethrows.
 */
async function recording<T>(
  ctx: WebGpuContext,
  what: string,
  results: GPUBuffer[],
  record: () => T,
): Promise<T> {
  try {
    return await checked(ctx, what, () => Promise.resolve(record()));
  } catch (e) {
    results.forEach((b) => b.destroy());
    throw e;
  }
}

/** Copies `bytes` from `src` at `from` to `dst` at `to` in a submit of its own (queue order). */
function copy(
  ctx: WebGpuContext,
  src: GPUBuffer,
  from: number,
  dst: GPUBuffer,
  to: number,
  bytes: number,
): void {
  const enc = ctx.device.createCommandEncoder({ label: "copy on the device" });
  enc.copyBufferToBuffer(src, from, dst, to, bytes);
  ctx.device.queue.submit([enc.finish()]);
}

/**
 * The affine map of `n` examples whose float32 rows `[n, D]` are in `x` on the device: templates
 * A `[n, C, D]` and offsets B `[n, C]` in new buffers on the device. Submitted in queue order,
 * not waited for: work submitted after it (a copy into a tfjs tensor) sees the results.
 *
 * @param ctx The context.
 * @param net The network.
 * @param x The inputs, float32 `[n, D]`, on `ctx.device`.
 * @param n Examples.
 * @returns The result buffers (the caller destroys them).
 */
export function affineMapOnDevice(
  ctx: WebGpuContext,
  net: SplineNetwork,
  x: GPUBuffer,
  n: number,
): Promise<{ A: GPUBuffer; B: GPUBuffer }> {
  const D = net.inputSize, C = net.outputSize;
  const step = chunkSize(ctx, net, 1), slice = chunkSize(ctx, net, C);
  const A = resultBuffer(ctx, n * C * D, "templates"), B = resultBuffer(ctx, n * C, "offsets");
  return recording(ctx, "Cannot compute the affine map on WebGPU", [A, B], () => {
    for (let s = 0; s < n; s += step) {
      const m = Math.min(step, n - s);
      const rec = new Recorder(ctx, "affine map: codes and offsets");
      try {
        const xb = rec.copyIn(x, s * D * 4, m * D, "input");
        const { codes, b } = recordCodesAndOffsets(rec, net, xb, m);
        rec.submit();
        copy(ctx, b, 0, B, s * C * 4, m * C * 4);
        for (let first = 0; first < m; first += slice) {
          const count = Math.min(slice, m - first);
          const sub = new Recorder(ctx, "affine map: templates");
          try {
            const a = recordTemplates(sub, net, codes, { first, count });
            sub.submit();
            copy(ctx, a, 0, A, (s + first) * C * D * 4, count * C * D * 4);
          } finally {
            sub.release();
          }
        }
      } finally {
        rec.release(); // after every slice reading its codes is submitted
      }
    }
    return { A, B };
  });
}

/**
 * ⟨A[x]_c, x⟩ `[n, C]` of `n` examples whose float32 rows are in `x` on the device, in a new
 * buffer on the device (submitted in queue order, not waited for).
 *
 * @param ctx The context.
 * @param net The network.
 * @param x The inputs, float32 `[n, D]`, on `ctx.device`.
 * @param n Examples.
 * @returns The result buffer (the caller destroys it).
 */
export function innerProductsOnDevice(
  ctx: WebGpuContext,
  net: SplineNetwork,
  x: GPUBuffer,
  n: number,
): Promise<GPUBuffer> {
  const D = net.inputSize, C = net.outputSize;
  const step = chunkSize(ctx, net, 1);
  const z = resultBuffer(ctx, n * C, "template inner products");
  return recording(ctx, "Cannot compute template inner products on WebGPU", [z], () => {
    for (let s = 0; s < n; s += step) {
      const m = Math.min(step, n - s);
      const rec = new Recorder(ctx, "template inner products");
      try {
        const xb = rec.copyIn(x, s * D * 4, m * D, "input");
        const y = recordInnerProducts(rec, net, xb, m);
        rec.submit();
        copy(ctx, y, 0, z, s * C * 4, m * C * 4);
      } finally {
        rec.release();
      }
    }
    return z;
  });
}
