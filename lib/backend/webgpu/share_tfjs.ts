/**
 * One GPU device for masokit's WGSL kernels and tfjs-webgpu.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "./device.ts";

/**
 * Makes tfjs' `webgpu` backend run on masokit's shared `GPUDevice`, so that tensors,
 * training (tfjs-webgpu) and the spline engine's WGSL kernels use one device. Call it
 * before `tf.setBackend("webgpu")`; it loads `@tensorflow/tfjs-backend-webgpu` itself.
 *
 * @returns `{ shared: true }`, or `{ shared: false, reason }` when there is no WebGPU
 *   adapter or tfjs' `webgpu` backend was already initialised on its own device.
 *
 * @example
 * ```ts
 * import { shareDeviceWithTfjs } from "./share_tfjs.ts";
 * import { ok } from "node:assert/strict";
 * const r = await shareDeviceWithTfjs();
 * ok(r.shared || typeof r.reason === "string");
 * ```
 */
export async function shareDeviceWithTfjs(): Promise<{ shared: boolean; reason?: string }> {
  const ctx = await webgpuContext();
  if (ctx === null) return { shared: false, reason: "no WebGPU adapter" };
  // deno-lint-ignore no-explicit-any
  const registry = (tf.engine() as any).registry as Record<string, unknown>;
  if (registry.webgpu !== undefined) {
    return { shared: false, reason: "tfjs' webgpu backend is already initialised" };
  }
  const webgpu = await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new webgpu.WebGPUBackend(ctx.device), 3);
  return { shared: true };
}
