/**
 * Giving back the device memory that the WebGPU engine keeps between calls.
 *
 * @module
 */
import { webgpuContext } from "./device.ts";
import { drainBufferPool } from "./_gpu.ts";

/**
 * Frees the temporary device buffers that the WebGPU engine keeps for reuse between calls
 * (up to 4 GiB; a batch's chunks and the next call reuse them instead of allocating, which
 * costs milliseconds per buffer). Later calls allocate again as needed.
 *
 * @returns The bytes freed (0 without a WebGPU adapter).
 *
 * @example
 * ```ts
 * import { releaseWebGpuBuffers } from "./release_buffers.ts";
 * import { ok } from "node:assert/strict";
 * ok((await releaseWebGpuBuffers()) >= 0);
 * ```
 */
export async function releaseWebGpuBuffers(): Promise<number> {
  const ctx = await webgpuContext();
  return ctx === null ? 0 : drainBufferPool(ctx);
}
