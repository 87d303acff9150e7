/**
 * Resolves the engine choice of the async entry points (`affineMapAsync`, …): `"auto"`
 * picks WebGPU only on a hardware adapter, never on a software / fallback one.
 *
 * @module
 */
import type { EngineBackend } from "../backend.ts";
import { webgpuContext } from "./device.ts";

/**
 * Checks an async call's `backend` option without touching any device: `"auto"` (the
 * default), `"cpu"`, `"tfjs"` or `"webgpu"`.
 *
 * @param backend The call's `backend` option.
 * @returns The backend, `"auto"` for `undefined`.
 *
 * @example
 * ```ts
 * import { checkAsyncBackend } from "./resolve.ts";
 * import { equal, throws } from "node:assert/strict";
 * equal(checkAsyncBackend(undefined), "auto");
 * throws(() => checkAsyncBackend("gpu" as "cpu"), RangeError);
 * ```
 */
export function checkAsyncBackend(backend: EngineBackend | undefined): EngineBackend {
  const b = backend ?? "auto";
  if (b === "auto" || b === "cpu" || b === "tfjs" || b === "webgpu") return b;
  throw new RangeError(
    `Unknown engine backend '${b}': expected "auto", "cpu", "tfjs" or "webgpu"`,
  );
}

/**
 * The engine an async call uses: `"webgpu"` when asked for, or for `"auto"` when a
 * hardware (non-fallback) adapter exists; otherwise the choice is left to the sync
 * engine (`"cpu"`, `"tfjs"` or `"auto"`).
 *
 * @param backend The call's `backend` option (default `"auto"`).
 * @returns `"webgpu"`, or the backend to pass to the sync implementation.
 *
 * @example
 * ```ts
 * import { resolveAsyncBackend } from "./resolve.ts";
 * import { equal, rejects } from "node:assert/strict";
 * equal(await resolveAsyncBackend("cpu"), "cpu");
 * await rejects(resolveAsyncBackend("gpu" as "cpu"), RangeError);
 * ```
 */
export async function resolveAsyncBackend(
  backend: EngineBackend | undefined,
): Promise<EngineBackend> {
  const b = checkAsyncBackend(backend);
  if (b !== "auto") return b;
  const ctx = await webgpuContext();
  return ctx !== null && !ctx.isFallback ? "webgpu" : "auto";
}
