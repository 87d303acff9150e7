/**
 * Whether the shared WebGPU device compiles tiled products in seconds: a GPU, or Mesa's lavapipe
 * (through Vulkan: its adapter offers `shader-f16`); through GL, llvmpipe takes tens of seconds a
 * shader, and tests of the tiled kernels end to end are skipped there.
 */
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";

const gpu = await webgpuContext();
const adapter = await (globalThis.navigator as { gpu?: GPU }).gpu?.requestAdapter();

/** True where tiled products compile fast on the shared device. */
export const fastCompiles: boolean = gpu !== null &&
  (!gpu.isFallback || adapter?.features.has("shader-f16") === true);
