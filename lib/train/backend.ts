/**
 * Choosing the tfjs backend for training: `wasm` (XNNPACK, with masokit's training kernels) on
 * CPU, `cpu` or `webgpu` on request.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { activeWasmBackend, heapThreadsFor, heapThreadsReady } from "../backend/_wasm_ops.ts";
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
  /**
   * XNNPACK threads for `wasm`, the calling thread included: an integer in [1, 8]. Default:
   * `navigator.hardwareConcurrency` capped at 8 (threads on wherever the runtime has shared
   * WebAssembly memory; `1` keeps tfjs's stock single-threaded build). Only takes effect when
   * the `wasm` backend has not been initialised yet in this process (tfjs cannot restart it);
   * the reason string says which build runs.
   */
  wasmThreads?: number;
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

/** Threads of the `wasm` backend this module started (null: not started here). */
let wasmThreadsNote: string | null = null;

function defaultThreads(): number {
  return Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
}

/** Imports and (before its first initialisation) threads the wasm backend; returns a note. */
async function prepareWasm(threads: number): Promise<string> {
  await import("@tensorflow/tfjs-backend-wasm");
  // deno-lint-ignore no-explicit-any
  const registry = (tf.engine() as any).registry as Record<string, unknown>;
  if (registry.wasm === undefined) {
    if (threads > 1) {
      const { enableWasmThreads } = await import("../backend/wasm_threads.ts");
      const report = await enableWasmThreads({ threads, quiet: true });
      wasmThreadsNote = report.enabled
        ? `${threads} threads`
        : `1 thread (${report.reason.replace(/^wasm threads not enabled, staying /, "")})`;
    } else {
      wasmThreadsNote = "1 thread";
    }
  } else if (wasmThreadsNote === null) {
    wasmThreadsNote = "started before selectBackend(), thread count unknown";
  }
  registerWasmTrainingKernels();
  return wasmThreadsNote;
}

async function activate(name: TrainingBackendName, threads = 1): Promise<string> {
  let note = "";
  if (name === "wasm") {
    note = await prepareWasm(threads);
  } else if (name === "webgpu") {
    // one GPUDevice for tfjs-webgpu and masokit's WGSL kernels (falls back to tfjs' own
    // device when the webgpu backend already started)
    const { shareDeviceWithTfjs } = await import("../backend/webgpu/share_tfjs.ts");
    await shareDeviceWithTfjs();
    await import("@tensorflow/tfjs-backend-webgpu");
    const { registerWebGpuTrainingKernels } = await import("./webgpu_kernels.ts");
    registerWebGpuTrainingKernels();
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`Cannot select tfjs backend '${name}': tf.setBackend('${name}') failed`);
  }
  const wasm = name === "wasm" ? activeWasmBackend() : null;
  if (wasm !== null && heapThreadsFor(wasm) > 1) {
    // masokit's heap kernels split from the first step on (their helpers start in ≈0.1 s)
    const threads = await heapThreadsReady(wasm);
    note += `, masokit kernels on ${threads} thread${threads === 1 ? "" : "s"}`;
  }
  return note;
}

/**
 * Selects and activates the tfjs backend for training. `auto` picks `wasm` (XNNPACK, with
 * {@link registerWasmTrainingKernels}): on CPU it trains a BN conv net ≈10× faster than `cpu`.
 * `auto` does not pick `webgpu`, even on a real (non-fallback, non-llvmpipe) adapter: stock
 * tfjs-backend-webgpu 4.22 trained smallCNN with batch-norm at 60–65 img/s on an H100 and an
 * H200 (1,836 img/s without batch-norm; shared/PEERS.md, bench/RESULTS.md), below `wasm` on 2
 * CPU cores, and masokit's fixes for it (below) are not yet timed on a GPU, so it is available
 * by explicit choice only; the reason string says when a GPU was seen. `wasm` runs
 * multi-threaded (`enableWasmThreads` from lib/backend/wasm_threads.ts, `wasmThreads` threads,
 * default all cores) when it is first started here (a `wasm` backend that tfjs already started,
 * e.g. by `tf.ready()` after importing `@tensorflow/tfjs-backend-wasm`, keeps its build: on an
 * oversubscribed machine `wasmThreads: 1` can be faster, bench/RESULTS.md); `webgpu` also gets
 * `registerWebGpuTrainingKernels()` (lib/train/webgpu_kernels.ts: batch-norm's reductions and
 * fused gradients, uploads through `writeBuffer`).
 *
 * @param options `prefer`: "auto" (default), "wasm", "cpu" or "webgpu"; `wasmThreads`
 *   (default `navigator.hardwareConcurrency`, at most 8).
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
  const threads = options.wasmThreads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 8) {
    throw new RangeError(
      `Cannot select a backend: wasmThreads is ${
        typeof threads === "number" ? threads : JSON.stringify(threads)
      }, expected an integer in [1, 8]`,
    );
  }
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
    const note = await activate("wasm", threads);
    return {
      backend: "wasm",
      reason: `requested: wasm with masokit's training kernels, ${note}`,
    };
  }
  const gpu = await describeGpuAdapter();
  const seen = gpu === null
    ? "no WebGPU adapter"
    : gpu.software
    ? `WebGPU adapter '${gpu.description}' is software`
    : `WebGPU adapter '${gpu.description}' not used: training on tfjs-webgpu is not yet measured faster (selectBackend({ prefer: "webgpu" }) to use it)`;
  try {
    const note = await activate("wasm", threads);
    return {
      backend: "wasm",
      reason: `auto: wasm (XNNPACK + training kernels, ${note}); ${seen}`,
    };
  } catch (e) {
    await activate("cpu");
    return {
      backend: "cpu",
      reason: `auto: cpu, because wasm failed to start (${(e as Error).message}); ${seen}`,
    };
  }
}
