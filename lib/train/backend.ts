/**
 * Choosing the tfjs backend for training: `wasm` (XNNPACK, with masokit's training kernels) on
 * CPU, `cpu` or `webgpu` on request.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./wasm_kernels.ts";

/** The backends {@link selectBackend} can choose. */
export type TrainingBackendName = "wasm" | "cpu" | "webgpu";

/** Options for {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * `"auto"` (default): `wasm` with masokit's training kernels; `"wasm"`, `"cpu"`, `"webgpu"`:
   * that backend, or an error if it cannot start.
   */
  prefer?: "auto" | TrainingBackendName;
}

/** The backend {@link selectBackend} activated, and why. */
export interface BackendChoice {
  /** The active tfjs backend. */
  backend: TrainingBackendName;
  /** One line saying why this backend was chosen. */
  reason: string;
}

/** What a WebGPU adapter says about itself; `software` is true for fallback/CPU renderers. */
export interface GpuAdapterSummary {
  /** Adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "NVIDIA H100 80GB HBM3". */
  description: string;
  /** True for a fallback adapter or a software rasteriser (llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
}

const SOFTWARE_RENDERERS = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic/i;

/**
 * Describes the WebGPU adapter (`navigator.gpu.requestAdapter()`), or null when there is none.
 *
 * @returns The adapter's description and whether it is a software renderer, or null.
 *
 * @example
 * ```ts
 * import { describeGpuAdapter } from "./backend.ts";
 * import { ok } from "node:assert/strict";
 * const gpu = await describeGpuAdapter();
 * ok(gpu === null || typeof gpu.software === "boolean");
 * ```
 */
export async function describeGpuAdapter(): Promise<GpuAdapterSummary | null> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    return null;
  }
  if (adapter === null) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = info?.isFallbackAdapter === true ||
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const description = [info?.description, info?.vendor, info?.device].filter((s) =>
    s !== undefined && s !== ""
  ).join(" ");
  return { description, software: fallback || SOFTWARE_RENDERERS.test(description) };
}

async function activate(name: TrainingBackendName): Promise<void> {
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    registerWasmTrainingKernels();
  } else if (name === "webgpu") {
    await import("@tensorflow/tfjs-backend-webgpu");
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`Cannot select tfjs backend '${name}': tf.setBackend('${name}') failed`);
  }
}

/**
 * Selects and activates the tfjs backend for training. `auto` picks `wasm` (XNNPACK, with
 * {@link registerWasmTrainingKernels}): on CPU it trains a BN conv net ≈10× faster than `cpu`.
 * `auto` does not pick `webgpu`, even on a real (non-fallback, non-llvmpipe) adapter:
 * tfjs-backend-webgpu 4.22 spends most of a batch-norm training step in its reductions (65
 * img/s for smallCNN on an H100, below `wasm` on 2 CPU cores, shared/PEERS.md), so it is
 * available by explicit choice only; the reason string says when a GPU was seen.
 *
 * @param options `prefer`: "auto" (default), "wasm", "cpu" or "webgpu".
 * @returns The active backend and a one-line reason.
 *
 * @example Choosing a backend and restoring the previous one
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { selectBackend } from "./backend.ts";
 * import { equal, ok } from "node:assert/strict";
 *
 * await tf.ready();
 * const previous = tf.getBackend();
 * const choice = await selectBackend({ prefer: "cpu" });
 * equal(choice.backend, "cpu");
 * equal(tf.getBackend(), "cpu");
 * ok(choice.reason.length > 0);
 * await tf.setBackend(previous);
 * ```
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  const prefer = options.prefer ?? "auto";
  if (!["auto", "wasm", "cpu", "webgpu"].includes(prefer)) {
    throw new RangeError(
      `Cannot select a backend: prefer is ${
        JSON.stringify(prefer)
      }, expected "auto", "wasm", "cpu" or "webgpu"`,
    );
  }
  if (prefer === "cpu") {
    await activate("cpu");
    return { backend: "cpu", reason: "requested: cpu (plain JavaScript kernels, slow)" };
  }
  if (prefer === "webgpu") {
    const gpu = await describeGpuAdapter();
    if (gpu === null) {
      throw new Error("Cannot select tfjs backend 'webgpu': navigator.gpu has no adapter");
    }
    await activate("webgpu");
    return {
      backend: "webgpu",
      reason: `requested: webgpu on '${gpu.description}'${gpu.software ? " (software)" : ""}`,
    };
  }
  if (prefer === "wasm") {
    await activate("wasm");
    return { backend: "wasm", reason: "requested: wasm with masokit's training kernels" };
  }
  const gpu = await describeGpuAdapter();
  const seen = gpu === null
    ? "no WebGPU adapter"
    : gpu.software
    ? `WebGPU adapter '${gpu.description}' is software`
    : `WebGPU adapter '${gpu.description}' not used: tfjs-webgpu batch-norm training is slower`;
  try {
    await activate("wasm");
    return { backend: "wasm", reason: `auto: wasm (XNNPACK + training kernels); ${seen}` };
  } catch (e) {
    await activate("cpu");
    return {
      backend: "cpu",
      reason: `auto: cpu, because wasm failed to start (${(e as Error).message}); ${seen}`,
    };
  }
}
