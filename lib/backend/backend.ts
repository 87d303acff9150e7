/**
 * Which engine computes: the float64 CPU reference or tfjs ops (float32, on the active
 * tfjs backend: wasm/XNNPACK on CPU; tfjs-webgpu cannot read back synchronously in Deno, so
 * on a GPU use the `webgpu` engine of the async entry points).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchInput } from "../network/batch.ts";
import { checkOptionKeys } from "../util/options.ts";

/**
 * The engine choice on every engine call:
 * - `"cpu"`: the TypeScript reference, float64, exact;
 * - `"tfjs"`: tfjs ops in float32 on the active tfjs backend (fast with `wasm`; not on
 *   tfjs-webgpu, which cannot read back synchronously in Deno: a RangeError says so);
 * - `"webgpu"`: masokit's own WGSL kernels on the shared WebGPU device, float32; only the
 *   async entry points (`affineMapAsync`, `partitionCodesAsync`, …) take it, and they fall
 *   back to `"cpu"` with a one-line notice when there is no adapter;
 * - `"auto"` (default): `"cpu"` for float64 batches and when the active tfjs backend is
 *   tfjs' own slow `cpu` or `webgpu`; `"tfjs"` for tensors otherwise (the async entry points pick
 *   `"webgpu"` first on a hardware adapter, never on a software / fallback one).
 */
export type EngineBackend = "auto" | "cpu" | "tfjs" | "webgpu";

/** Options every engine call takes. */
export interface EngineOptions {
  /** Which engine computes (default `"auto"`). */
  readonly backend?: EngineBackend;
}

/** The keys of {@linkcode EngineOptions}. */
export const ENGINE_OPTION_KEYS: Readonly<Record<keyof EngineOptions, true>> = { backend: true };

/**
 * Resolves `"auto"` to a concrete engine for an input.
 *
 * @param x The engine input.
 * @param options The call's options.
 * @param what The computation, for messages (`"Cannot compute the affine map"`).
 * @returns `"cpu"` or `"tfjs"`.
 *
 * @example
 * ```ts
 * import { resolveBackend } from "./backend.ts";
 * import { equal, throws } from "node:assert/strict";
 * equal(resolveBackend({ data: new Float64Array(0), shape: [0, 1] }, {}), "cpu");
 * throws(() => resolveBackend({ data: new Float64Array(0), shape: [0, 1] }, { backend: "gpu" as "cpu" }), RangeError);
 * ```
 */
export function resolveBackend(
  x: BatchInput,
  options: EngineOptions,
  what = "Cannot run the engine",
): "cpu" | "tfjs" {
  checkOptionKeys(options, ENGINE_OPTION_KEYS, what);
  const b = options.backend ?? "auto";
  // the tfjs engine reads codes back synchronously, which tfjs-webgpu cannot do in Deno
  // (no tfjs backend is initialised before the first tensor: then nothing to check)
  const active = (): string => tf.getBackend() ?? "";
  const syncReads = () => !active().startsWith("webgpu");
  if (b === "tfjs" && !syncReads()) {
    throw new RangeError(
      `${what}: engine backend 'tfjs' needs synchronous read-back, which the active tfjs backend '${active()}' does not offer in Deno: use backend "webgpu" with the async variants (e.g. affineMapAsync), or tfjs' wasm backend`,
    );
  }
  // an empty batch: nothing to compute, and the CPU engine returns the empty results
  if ((b === "tfjs" || b === "auto") && x.shape[0] === 0) return "cpu";
  if (b === "cpu" || b === "tfjs") return b;
  if (b === "webgpu") {
    throw new RangeError(
      `${what}: engine backend 'webgpu' runs asynchronously: call the async variant (e.g. affineMapAsync)`,
    );
  }
  if (b !== "auto") {
    throw new RangeError(
      `${what}: unknown engine backend '${b}', expected "auto", "cpu" or "tfjs" ("webgpu" in the async variants)`,
    );
  }
  if (!(x instanceof tf.Tensor)) return "cpu";
  return active() === "cpu" || !syncReads() ? "cpu" : "tfjs";
}
