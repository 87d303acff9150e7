/**
 * The WebGPU device of the engine: the adapter is requested once and one `GPUDevice`
 * is shared by every kernel; the adapter is reported (name, software fallback or
 * not); a lost device is noticed and replaced on the next call.
 *
 * @module
 */

/** The shared WebGPU state: the device, what adapter it runs on, its pipeline cache. */
export interface WebGpuContext {
  /** The shared device. */
  readonly device: GPUDevice;
  /** The adapter's description (e.g. `"NVIDIA H100 80GB HBM3"` or `"llvmpipe (…)"`). */
  readonly adapterName: string;
  /** True for a software / fallback adapter (e.g. Mesa llvmpipe). */
  readonly isFallback: boolean;
  /** Compute pipelines by shader key. */
  readonly pipelines: Map<string, GPUComputePipeline>;
  /** Set once the device is lost (destroyed, driver reset); the reason, for notices. */
  lostReason: string | null;
}

/** The adapter report of {@linkcode webgpuAdapterInfo}. */
export interface WebGpuAdapterReport {
  /** The adapter's description (vendor/device when the description is empty). */
  readonly name: string;
  /** True for a software / fallback adapter. */
  readonly isFallback: boolean;
}

type AdapterSource = () => Promise<GPUAdapter | null>;

const defaultSource: AdapterSource = async () => {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) return null;
  try {
    return await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
};

let source: AdapterSource = defaultSource;
let pending: Promise<WebGpuContext | null> | null = null;
/** Why the last device request failed although an adapter was there, or null. */
let failure: string | null = null;

/**
 * Why there is no WebGPU context: the last device request's error where an adapter was found
 * but its device could not be created, or `null` (no adapter, or a context was made).
 *
 * @returns The error's message, or `null`.
 */
export function webgpuDeviceFailure(): string | null {
  return failure;
}

/** `create()`, remembering a failure and letting the next call try again. */
function request(): Promise<WebGpuContext | null> {
  const p: Promise<WebGpuContext | null> = create().then(
    (ctx) => {
      failure = null;
      return ctx;
    },
    (e) => {
      // a device request that failed (out of memory, a driver hiccup) is not "no adapter"
      // for the rest of the process: the next call requests again
      failure = e instanceof Error ? e.message : String(e);
      if (pending === p) pending = null;
      return null;
    },
  );
  return p;
}

/** Test hooks: called at fixed points of a GPU computation. */
export interface WebGpuHooks {
  /** Called after a computation's work is submitted and before its results are read back. */
  beforeReadback?: (ctx: WebGpuContext) => void;
  /** The most bytes of a network pass's largest buffer, in place of 256 MiB (within the device's
   * binding limit): tests force small chunks, benchmarks try larger ones. */
  chunkBytes?: number;
  /** Largest outputs per thread (r × r) the tiled products use on a hardware adapter
   * (default 8; benchmarks compare 4). */
  gemmMaxPerThread?: 4 | 8;
  /** Whether the tiled products use strided-quad tiles (`"quads"`: `"4q"`, `"8q"`, the
   * default), blocked ones (`true`: `"4b"`, `"8b"`) or plain ones (`false`: 4, 8; benchmarks
   * compare). */
  gemmBlocked?: boolean | "quads";
  /** Whether the tiled products prefetch their next slice into registers (`"8qp"`, `"4qp"`,
   * …: the default), or not (`false`: benchmarks compare). */
  gemmPrefetch?: boolean;
  /** False keeps narrow, deep products on tiles instead of `"reduce"` (benchmarks compare). */
  gemmReduce?: boolean;
  /** Whether the transposed pass applies the sign layer and disjoint max-pool after a conv
   * in the conv transpose's gather instead of in passes of their own, wherever the layers
   * allow (default: Winograd transposes on every adapter, products on hardware adapters for
   * convs of at least 16 input channels; tests and benchmarks set it). */
  fuseTransposes?: boolean;
  /** Whether the transposes of convs with few input channels (the first layer's, to RGB) run
   * by taps (default on hardware adapters) or as one col2im product (default on software
   * ones): `tapsFor`, run.ts; benchmarks and tests set it. */
  convTaps?: boolean;
  /** Whether the transposed pass runs a stride-1 conv → (sign) → disjoint max-pool block by
   * window tiles wherever they apply (`true`), nowhere (`false`), only where the conv's
   * input is narrow (`"narrow"`: the others by Winograd or a product), or also where they
   * do at most half the product's multiply-adds (`"work"`); default `"narrow"` on GPUs (on
   * the H100 largeCNN's templates ran 1.26× faster than by `"work"`: bench/RESULTS.md),
   * `"work"` on software adapters (where window tiles beat Winograd). Benchmarks and tests
   * set it. */
  windowTiles?: boolean | "narrow" | "work";
  /** Runs stride-1 3×3 convs and their transposes by Winograd F(m × m, 3 × 3) with this tile
   * size, or not at all (`false`): see `winogradTileFor` (run.ts) for the default. */
  winograd?: false | 2 | 4 | 6;
  /** True runs Winograd's transforms staged: each tile shared by `m + 2` invocations through
   * workgroup memory, a row, then a column each (fewer registers an invocation); benchmarks
   * compare it with the default, one invocation a tile. */
  winogradStaged?: boolean;
  /** True lets forward passes that record codes run convs by Winograd too (default: products,
   * which keep exact ties: `winogradRecordsCodes`, run.ts); benchmarks time the difference. */
  winogradRecording?: boolean;
  /** Overwrite each buffer a recording gives up for reuse with NaNs, there and then (tests:
   * a read after the give-up shows in the results). */
  poisonGivenUp?: boolean;
}

/** The active test hooks (empty in normal use). */
export const webgpuHooks: WebGpuHooks = {};

function describe(adapter: GPUAdapter): WebGpuAdapterReport {
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const a = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  const i = info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const name = i?.description || [i?.vendor, i?.device].filter((s) => s).join(" ") || "unknown";
  return { name, isFallback: Boolean(i?.isFallbackAdapter ?? a.isFallbackAdapter) };
}

async function create(): Promise<WebGpuContext | null> {
  const adapter = await source();
  if (adapter === null) return null;
  const { name, isFallback } = describe(adapter);
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    // timestamps inside command buffers, where offered: kernel-by-kernel GPU times for
    // profilers (bench/webgpu_bench.ts --profile); the engine itself never writes them
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(256, lim.maxComputeInvocationsPerWorkgroup),
      maxStorageBuffersPerShaderStage: Math.min(8, lim.maxStorageBuffersPerShaderStage),
    },
  });
  const ctx: WebGpuContext = {
    device,
    adapterName: name,
    isFallback,
    pipelines: new Map(),
    lostReason: null,
  };
  // the next webgpuContext() call then requests a new adapter and device
  device.lost.then((info) => {
    ctx.lostReason = `${info.reason ?? "unknown"}: ${info.message}`;
  });
  return ctx;
}

/**
 * The shared WebGPU context: requests the adapter and device on the first call and
 * returns the same one afterwards (a new one after the device was lost).
 *
 * @returns The context, or `null` when there is no WebGPU adapter.
 *
 * @example
 * ```ts
 * import { webgpuContext } from "./device.ts";
 * import { ok } from "node:assert/strict";
 * const ctx = await webgpuContext();
 * ok(ctx === null || typeof ctx.adapterName === "string");
 * ```
 */
export async function webgpuContext(): Promise<WebGpuContext | null> {
  pending ??= request();
  const current = pending;
  const ctx = await current;
  if (ctx !== null && ctx.lostReason !== null) {
    // one replacement for all the calls that found this device lost (concurrent calls
    // each creating a device would leave all but one unused, holding GPU memory)
    if (pending === current) pending = null;
    pending ??= request();
    return await pending;
  }
  return ctx;
}

/**
 * Reports the adapter the WebGPU backend runs on.
 *
 * @returns `{ name, isFallback }`, or `null` when there is no adapter.
 *
 * @example
 * ```ts
 * import { webgpuAdapterInfo } from "./device.ts";
 * import { ok } from "node:assert/strict";
 * const info = await webgpuAdapterInfo();
 * ok(info === null || typeof info.isFallback === "boolean");
 * ```
 */
export async function webgpuAdapterInfo(): Promise<WebGpuAdapterReport | null> {
  const ctx = await webgpuContext();
  return ctx === null ? null : { name: ctx.adapterName, isFallback: ctx.isFallback };
}

/**
 * Replaces where the adapter comes from (for tests: `async () => null` simulates a
 * machine without WebGPU) and forgets the current device; `null` restores
 * `navigator.gpu.requestAdapter`.
 *
 * @param fn The adapter source, or `null` for the default.
 *
 * @example
 * ```ts
 * import { setWebGpuAdapterSource, webgpuContext } from "./device.ts";
 * import { equal } from "node:assert/strict";
 * setWebGpuAdapterSource(() => Promise.resolve(null));
 * equal(await webgpuContext(), null);
 * setWebGpuAdapterSource(null);
 * ```
 */
export function setWebGpuAdapterSource(fn: (() => Promise<GPUAdapter | null>) | null): void {
  source = fn ?? defaultSource;
  pending = null;
  failure = null;
}

/** Thrown inside GPU computations when the device is lost mid-run. */
export class DeviceLostError extends Error {
  /**
   * @param reason Why the device was lost.
   */
  constructor(reason: string) {
    super(`WebGPU device lost (${reason})`);
    this.name = "DeviceLostError";
  }
}

/**
 * Whether the context's device is lost, waiting briefly for the `lost` promise (it
 * settles a moment after the loss itself).
 *
 * @param ctx The context.
 * @returns The loss reason, or `null` when the device is alive.
 */
export async function lostReason(ctx: WebGpuContext): Promise<string | null> {
  if (ctx.lostReason !== null) return ctx.lostReason;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    ctx.device.lost,
    new Promise((r) => timer = setTimeout(r, 200)),
  ]);
  clearTimeout(timer);
  return ctx.lostReason;
}
