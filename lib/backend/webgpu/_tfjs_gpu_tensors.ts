/**
 * Tensors of tfjs's `webgpu` backend on masokit's own device (`shareDeviceWithTfjs`): their data
 * as a GPU buffer, and results given back to tfjs as GPU tensors, without crossing the bus.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGpuContext } from "./device.ts";

/**
 * `x`'s float32 data as a buffer on `ctx.device`: where tfjs's active backend is `webgpu` on that
 * device and `x`'s values are on the GPU; else null (then read the values). `done()` gives tfjs's
 * copy back once the work reading it is submitted.
 *
 * @param x The tensor.
 * @param ctx masokit's context.
 * @returns The buffer, or null.
 */
export function gpuData(
  x: tf.Tensor,
  ctx: WebGpuContext,
): { buffer: GPUBuffer; done: () => void } | null {
  if (x.dtype !== "float32" || tf.getBackend() !== "webgpu") return null;
  if ((tf.backend() as { device?: unknown }).device !== ctx.device) return null;
  let data: { buffer?: GPUBuffer; tensorRef: tf.Tensor };
  try {
    data = x.dataToGPU() as typeof data;
  } catch {
    return null; // its values are on the CPU
  }
  if (data.buffer === undefined) {
    data.tensorRef.dispose();
    return null;
  }
  return { buffer: data.buffer, done: () => data.tensorRef.dispose() };
}

/**
 * A float32 tfjs tensor of `shape` holding `buffer`'s values, copied on the device by tfjs (which
 * submits the copy at once), after which `buffer` is destroyed.
 *
 * @param buffer A result buffer on tfjs's device (storage, copy source).
 * @param shape The tensor's shape.
 * @returns The tensor, on tfjs's `webgpu` backend.
 */
export function gpuTensor(buffer: GPUBuffer, shape: number[]): tf.Tensor {
  try {
    return tf.tensor({ buffer, zeroCopy: false } as unknown as tf.TensorLike, shape, "float32");
  } finally {
    buffer.destroy();
  }
}
