/**
 * Small helpers of the WebGPU engine: storage buffers, dispatches over a grid larger
 * than one dimension allows, uniform parameters, and reading results back.
 *
 * @module
 */
import { DeviceLostError, type WebGpuContext, webgpuHooks } from "./device.ts";
import { pipelineFor, type ShaderSource } from "./_pipelines.ts";

/** Threads per workgroup of the one-thread-per-element kernels. */
export const WG = 64;

/** Usage of the engine's storage buffers: STORAGE | COPY_SRC | COPY_DST. */
export const STORAGE = 0x80 | 0x04 | 0x08;
/** Usage of its uniform buffers: UNIFORM | COPY_DST. */
export const UNIFORM = 0x40 | 0x08;

/**
 * A storage buffer, filled with `data` or zeroed (`size` bytes, at least 16).
 *
 * @param ctx The context.
 * @param data Initial contents, or a size in bytes.
 * @param label A label for error messages.
 * @returns The buffer.
 */
export function storageBuffer(
  ctx: WebGpuContext,
  data: ArrayBufferView | number,
  label: string,
): GPUBuffer {
  const size = bufferSize(typeof data === "number" ? data : data.byteLength);
  const buf = ctx.device.createBuffer({ label, size, usage: STORAGE });
  if (typeof data !== "number" && data.byteLength > 0) {
    const v = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = new Uint8Array(Math.ceil(v.byteLength / 4) * 4);
    padded.set(v);
    ctx.device.queue.writeBuffer(buf, 0, padded);
  }
  return buf;
}

/**
 * Free device buffers kept for reuse, per device. Creating a large buffer costs
 * milliseconds (device memory is mapped for it and zeroed before first use) — on the lent
 * H200 a templates chunk spent most of its time there — while a chunk of a batch needs the
 * same sizes as the one before it.
 */
interface BufferPool {
  free: GPUBuffer[];
  bytes: number;
}

const pools = new WeakMap<GPUDevice, BufferPool>();

/** The most bytes kept free per device; buffers given back past it are destroyed. */
const POOL_LIMIT_BYTES = 4 * 2 ** 30;

/** A buffer's size for `bytes` of data: a multiple of 4, at least 16. */
export const bufferSize = (bytes: number) => Math.max(16, Math.ceil(bytes / 4) * 4);

/**
 * The index of the smallest of `buffers` that `accept` takes, the newest (last) on a tie;
 * −1 if none.
 *
 * @param buffers Free buffers, oldest first.
 * @param accept Whether a buffer would do.
 * @returns The index.
 */
export function smallestFit(
  buffers: readonly GPUBuffer[],
  accept: (b: GPUBuffer) => boolean,
): number {
  let best = -1;
  for (let i = buffers.length - 1; i >= 0; i--) {
    if (accept(buffers[i]) && (best < 0 || buffers[i].size < buffers[best].size)) best = i;
  }
  return best;
}

/**
 * A buffer of at least `bytes` (rounded up to 4, at least 16) and usage `usage`: the
 * smallest pooled one of that usage holding `bytes` and at most twice as large (a batch's
 * last, partial chunk reuses the full chunks' buffers; its contents are whatever its last
 * user left), else a new one (zeroed). Give it back with {@linkcode giveBuffer}.
 */
export function takeBuffer(
  ctx: WebGpuContext,
  bytes: number,
  usage: number,
  label: string,
): GPUBuffer {
  const size = bufferSize(bytes);
  const pool = pools.get(ctx.device);
  const best = smallestFit(
    pool?.free ?? [],
    (b) => b.usage === usage && b.size >= size && b.size <= 2 * size,
  );
  if (best < 0) return ctx.device.createBuffer({ label, size, usage });
  const [b] = pool!.free.splice(best, 1);
  pool!.bytes -= b.size;
  return b;
}

/**
 * Returns a buffer to the pool once no later work needs its contents (work already
 * submitted that uses it runs before any later submit that reuses it: the queue is ordered).
 */
export function giveBuffer(ctx: WebGpuContext, b: GPUBuffer): void {
  let pool = pools.get(ctx.device);
  if (pool === undefined) pools.set(ctx.device, pool = { free: [], bytes: 0 });
  if (ctx.lostReason !== null || pool.bytes + b.size > POOL_LIMIT_BYTES) {
    b.destroy();
    return;
  }
  pool.free.push(b);
  pool.bytes += b.size;
}

/** Bytes held free in the context's device pool. */
export function pooledBytes(ctx: WebGpuContext): number {
  return pools.get(ctx.device)?.bytes ?? 0;
}

/**
 * Destroys every pooled buffer of the context's device (their memory goes back now).
 *
 * @returns The bytes freed.
 */
export function drainBufferPool(ctx: WebGpuContext): number {
  const pool = pools.get(ctx.device);
  if (pool === undefined) return 0;
  pool.free.forEach((b) => b.destroy());
  pools.delete(ctx.device);
  return pool.bytes;
}

/**
 * A uniform buffer of u32 parameters.
 *
 * @param ctx The context.
 * @param values The parameters.
 * @returns The buffer.
 */
export function uniformU32(ctx: WebGpuContext, values: readonly number[]): GPUBuffer {
  const data = new Uint32Array(Math.max(4, Math.ceil(values.length / 4) * 4));
  data.set(values);
  const buf = ctx.device.createBuffer({
    label: "params",
    size: data.byteLength,
    usage: UNIFORM,
  });
  ctx.device.queue.writeBuffer(buf, 0, data);
  return buf;
}

/**
 * Splits `groups` workgroups over x and y (each at most 65,535). Kernels recover the
 * linear workgroup index as `wid.y * nwg.x + wid.x` and return past the end.
 *
 * @param groups Workgroups needed.
 * @returns `[x, y]`.
 */
export function grid(groups: number): [number, number] {
  const x = Math.max(1, Math.min(groups, 65535));
  return [x, Math.max(1, Math.ceil(groups / x))];
}

/**
 * Bind groups made from a pipeline's layout, in a trie keyed by their buffers in binding order:
 * weak maps all the way down, so that a bind group lives no longer than every buffer it binds
 * (a network's weights, once the network is gone, are not kept on the device by the cache).
 */
interface BindGroupTrie {
  readonly next: WeakMap<GPUBuffer, BindGroupTrie>;
  group?: GPUBindGroup;
}

const bindGroups = new WeakMap<
  GPUComputePipeline,
  { readonly layout: GPUBindGroupLayout; readonly root: BindGroupTrie }
>();

/**
 * The bind group of `buffers` (bindings 0, 1, …) for `pipeline`, made once and reused by
 * later recordings with the same buffers — as they are from call to call, the buffers coming
 * from the device's pool and the uniform parameters from a cache: making a bind group costs
 * Deno tens of microseconds, as much as the rest of a dispatch's recording. (A bind group made
 * from one pipeline's `"auto"` layout fits that pipeline only, hence per pipeline.)
 */
function bindGroupFor(
  ctx: WebGpuContext,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: readonly GPUBuffer[],
): GPUBindGroup {
  let cache = bindGroups.get(pipeline);
  if (cache === undefined) {
    cache = { layout: pipeline.getBindGroupLayout(0), root: { next: new WeakMap() } };
    bindGroups.set(pipeline, cache);
  }
  let node = cache.root;
  for (const b of buffers) {
    let child = node.next.get(b);
    if (child === undefined) node.next.set(b, child = { next: new WeakMap() });
    node = child;
  }
  node.group ??= ctx.device.createBindGroup({
    label,
    layout: cache.layout,
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return node.group;
}

/**
 * Records one dispatch: binds `buffers` to bindings 0, 1, … of group 0.
 *
 * @param ctx The context.
 * @param pass The compute pass.
 * @param shader The kernel.
 * @param options `buffers` (in binding order) and the workgroup grid `groups`.
 */
export function dispatch(
  ctx: WebGpuContext,
  pass: GPUComputePassEncoder,
  shader: ShaderSource,
  options: { buffers: readonly GPUBuffer[]; groups: number | [number, number] },
): void {
  const pipeline = pipelineFor(ctx, shader);
  const bindGroup = bindGroupFor(ctx, pipeline, shader.label, options.buffers);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  const [x, y] = typeof options.groups === "number" ? grid(options.groups) : options.groups;
  pass.dispatchWorkgroups(x, y);
}

/** One buffer to read back: `bytes` of it, copied into `into` at element `at` where given. */
export interface ReadBack {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  /** The array to copy into (float32 values converted to float64 for a `Float64Array`). */
  readonly into?: Float32Array | Float64Array | Uint32Array;
  readonly at?: number;
}

/**
 * Copies buffers back to the CPU after all submitted work, checking that the device
 * is still alive and that no WebGPU validation error occurred.
 *
 * @param ctx The context.
 * @param reads Buffers and byte sizes to read; a read with `into` is copied straight from
 *   the mapped range into that array (its ArrayBuffer in the result is empty).
 * @param options `submitted`: called once the copies are submitted, before the wait — the
 *   buffers read may be reused from then on (later work runs after the copies); `mapAfter`:
 *   the copies are submitted now, but mapped only once this settles (a caller with more work
 *   to submit first: Deno's `mapAsync` waits for all work submitted before it returns).
 * @returns One ArrayBuffer per read.
 */
export async function readBack(
  ctx: WebGpuContext,
  reads: readonly ReadBack[],
  options: { submitted?: () => void; mapAfter?: Promise<unknown> } = {},
): Promise<ArrayBuffer[]> {
  const { device } = ctx;
  const enc = device.createCommandEncoder({ label: "readback" });
  const staging = reads.map(({ buffer, bytes }) => {
    const size = bufferSize(bytes);
    const s = takeBuffer(ctx, size, 0x01 | 0x08, "staging"); // MAP_READ | COPY_DST
    enc.copyBufferToBuffer(buffer, 0, s, 0, size);
    return s;
  });
  device.queue.submit([enc.finish()]);
  options.submitted?.();
  webgpuHooks.beforeReadback?.(ctx);
  await options.mapAfter;
  // one map at a time into a list: on a lost device a later mapAsync can throw
  // synchronously, and the earlier ones' rejections must still be observed
  const maps: Promise<void>[] = [];
  try {
    for (const s of staging) maps.push(s.mapAsync(0x0001));
    await Promise.all(maps);
  } catch (e) {
    await Promise.allSettled(maps);
    staging.forEach((s) => s.destroy());
    if (ctx.lostReason !== null) throw new DeviceLostError(ctx.lostReason);
    throw e;
  }
  if (ctx.lostReason !== null) throw new DeviceLostError(ctx.lostReason);
  const out = staging.map((s, i) => {
    const { bytes, into, at } = reads[i];
    const mapped = s.getMappedRange(0, Math.ceil(bytes / 4) * 4);
    if (into === undefined) return mapped.slice(0);
    const view = into instanceof Uint32Array
      ? new Uint32Array(mapped, 0, bytes / 4)
      : new Float32Array(mapped, 0, bytes / 4);
    into.set(view, at ?? 0);
    return new ArrayBuffer(0);
  });
  staging.forEach((s) => {
    s.unmap();
    giveBuffer(ctx, s);
  });
  return out;
}

/**
 * Runs `fn` inside a validation error scope and throws what WebGPU reported.
 *
 * @param ctx The context.
 * @param what The computation, for the message.
 * @param fn The GPU work.
 * @returns What `fn` returned.
 */
export async function checked<T>(
  ctx: WebGpuContext,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  ctx.device.pushErrorScope("validation");
  let result: T;
  try {
    result = await fn();
  } finally {
    const err = await ctx.device.popErrorScope().catch(() => null);
    if (err !== null && ctx.lostReason === null) {
      // deno-lint-ignore no-unsafe-finally
      throw new Error(`${what}: WebGPU validation error: ${err.message}`);
    }
  }
  return result;
}
