/**
 * Runs a computation on the shared WebGPU device, or on the CPU backend with a
 * one-line notice when there is no adapter or the device is lost mid-run (the
 * whole computation is then redone on the CPU: nothing is lost).
 *
 * @module
 */
import { lostReason, type WebGpuContext, webgpuContext, webgpuDeviceFailure } from "./device.ts";

/** Where the one-line fallback notices go (default `console.warn`); replaceable for tests. */
export const webgpuNotices: { write: (line: string) => void } = {
  write: (line) => console.warn(line),
};

/**
 * Runs `gpu` on the shared device; runs `cpu` instead, after a one-line notice, when
 * there is no WebGPU adapter or when the device is lost while `gpu` runs. Other
 * errors of `gpu` propagate.
 *
 * @param what The computation, for the notice (e.g. `"nearest neighbours"`).
 * @param run `gpu(ctx)` and the CPU reference `cpu()`.
 * @returns What the engine that ran returned.
 *
 * @example
 * ```ts
 * import { withWebGpu } from "./with_fallback.ts";
 * import { equal } from "node:assert/strict";
 * const v = await withWebGpu("an example", { gpu: () => Promise.resolve(1), cpu: () => 1 });
 * equal(v, 1);
 * ```
 */
export async function withWebGpu<T>(
  what: string,
  run: { gpu: (ctx: WebGpuContext) => Promise<T>; cpu: () => T | Promise<T> },
): Promise<T> {
  const ctx = await webgpuContext();
  if (ctx === null) {
    const failed = webgpuDeviceFailure()?.replace(/\s+/g, " ").trim();
    webgpuNotices.write(
      failed === undefined
        ? `masokit: no WebGPU adapter; computing ${what} on the CPU backend`
        : `masokit: no WebGPU device (its request failed: ${failed}); computing ${what} on the CPU backend`,
    );
    return await run.cpu();
  }
  try {
    return await run.gpu(ctx);
  } catch (e) {
    const lost = await lostReason(ctx);
    if (lost === null) throw e;
    // one line, whatever the driver's message holds (wgpu's span several lines)
    const reason = lost.replace(/\s+/g, " ").trim();
    webgpuNotices.write(
      `masokit: WebGPU device lost (${reason}) while computing ${what}; redone on the CPU backend`,
    );
    return await run.cpu();
  }
}
