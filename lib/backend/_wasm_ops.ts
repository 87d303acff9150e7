/**
 * Private helpers for kernels registered on tfjs's `wasm` backend: calling other registered wasm
 * kernels directly (the way tfjs-backend-wasm's own composite kernels do, bypassing the engine
 * and its gradient tape) and freeing their intermediate results.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assembleModule, type FunctionBuilder } from "../util/_wasm_emitter.ts";
import {
  configureHeapThreads,
  heapParts,
  heapThreadCount,
  runParts,
  stopHeapThreads,
} from "./_heap_threads.ts";

/** A tensor as kernels see it: data id, shape and dtype, no engine bookkeeping. */
export type Info = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's `BackendWasm` that masokit's kernels use. */
export interface WasmBackendLike {
  /** Allocates an output tensor on the wasm heap. */
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  /** Decrements the reference count of a tensor's data, freeing it at zero. */
  disposeData(dataId: object, force?: boolean): boolean;
  /** A typed-array view of a tensor's data on the wasm heap (invalid after any allocation). */
  typedArrayFromHeap(t: Info): Float32Array | Int32Array | Uint8Array;
  /** Increments the reference count of a tensor's data (for outputs that share it). */
  incRef(dataId: object): void;
}

/**
 * The backend's heap memory: `wasmMemory` on threaded builds, `asm.memory` on the stock one
 * (`null` when neither is there).
 */
export function heapMemory(backend: WasmBackendLike): WebAssembly.Memory | null {
  const m = (backend as unknown as {
    wasm?: { wasmMemory?: unknown; asm?: { memory?: unknown } };
  }).wasm;
  const memory = m?.wasmMemory ?? m?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** Runs the `wasm` backend's kernel `name` directly on `backend`. */
export function runWasm(
  backend: WasmBackendLike,
  name: string,
  inputs: Record<string, Info> | Info[],
  attrs: Record<string, unknown> = {},
): Info {
  const kernel = tf.getKernel(name, "wasm");
  if (kernel === undefined) {
    throw new Error(`Cannot run wasm kernel '${name}': it is not registered for backend 'wasm'`);
  }
  return kernel.kernelFunc({
    inputs: inputs as unknown as tf.NamedTensorInfoMap,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  }) as Info;
}

/** Frees intermediate kernel results. */
export function free(backend: WasmBackendLike, ...infos: Info[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/** A kernel function as tfjs calls it. */
export type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

/**
 * The active tfjs backend when it is a tfjs-wasm one (`wasm`, or a threaded copy under
 * another name), else `null`.
 */
export function activeWasmBackend(): WasmBackendLike | null {
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  if (typeof b.typedArrayFromHeap !== "function" || typeof b.makeOutput !== "function") {
    return null;
  }
  freshHeapViews(b as WasmBackendLike);
  return b as WasmBackendLike;
}

/** Backends whose heap views {@linkcode freshHeapViews} made current. */
const freshened = new WeakSet<object>();

/**
 * Makes tfjs-wasm's views of the heap — `backend.typedArrayFromHeap` (every tensor's view, tfjs's
 * kernels' and masokit's) and `backend.wasm.HEAPU8` (tfjs's writes and reads of values) — views of
 * the heap's current buffer. On the threaded build the memory is shared, and when wasm code on
 * another thread grows it, V8 tells this thread only at its next interrupt check: until then
 * `memory.buffer` is the old, shorter buffer, and a view of a tensor past its end throws "Invalid
 * typed array length" (met on largeCNN's templates on 2 threads, intermittently). `memory.grow(0)`
 * brings this thread's buffer up to date (≈ 0.1 µs): the views retry with it where the buffer is
 * short, and `HEAPU8` is made after it. Unshared heaps (the single-threaded build) are left as
 * they are. Idempotent.
 *
 * @param backend The tfjs-wasm backend.
 */
export function freshHeapViews(backend: WasmBackendLike): void {
  if (freshened.has(backend)) return;
  freshened.add(backend);
  const module = (backend as unknown as { wasm?: Record<string, unknown> }).wasm;
  const ids = (backend as unknown as { dataIdMap?: { get(id: object): { memoryOffset: number } } })
    .dataIdMap;
  const memory = heapMemory(backend);
  // an unshared heap grows on this thread only (and its glue refreshes its views then);
  // there grow(0) would detach the glue's views
  const shared = typeof SharedArrayBuffer !== "undefined" &&
    memory?.buffer instanceof SharedArrayBuffer;
  if (module === undefined || ids === undefined || memory === null || !shared) return;
  const types = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;
  backend.typedArrayFromHeap = (t: Info) => {
    const type = types[t.dtype as keyof typeof types];
    if (type === undefined) throw new Error(`Unknown dtype ${t.dtype}`);
    const offset = ids.get(t.dataId).memoryOffset, size = t.shape.reduce((a, b) => a * b, 1);
    const bytes = offset + size * type.BYTES_PER_ELEMENT;
    if (memory.buffer.byteLength < bytes) memory.grow(0); // a growth on another thread
    return new type(memory.buffer as unknown as ArrayBuffer, offset, size); // shared, as tfjs types it
  };
  let view: Uint8Array<ArrayBufferLike> = new Uint8Array(memory.buffer);
  Object.defineProperty(module, "HEAPU8", {
    configurable: true,
    enumerable: true,
    get: () => {
      memory.grow(0);
      const buffer = memory.buffer;
      if (view.buffer !== buffer) view = new Uint8Array(buffer);
      return view;
    },
    set: () => {}, // the glue's own refreshes: the getter reads the current buffer
  });
}

/**
 * Registers `kernels` for the active backend once (idempotent) when that backend is a
 * tfjs-wasm one (`wasm`, or a threaded copy under another name).
 *
 * @param kernels Kernel name and function pairs.
 * @returns Whether the active backend is a tfjs-wasm one (the kernels can run now).
 */
export function registerOnActiveWasm(
  kernels: readonly (readonly [string, (args: KernelArgs) => Info | Info[]])[],
): boolean {
  if (activeWasmBackend() === null) return false;
  const name = tf.getBackend();
  for (const [kernelName, fn] of kernels) {
    if (tf.getKernel(kernelName, name) === undefined) {
      tf.registerKernel({
        kernelName,
        backendName: name,
        kernelFunc: fn as unknown as tf.KernelFunc,
      });
    }
  }
  return true;
}

interface HeapModule {
  id: number;
  bytes: Uint8Array;
  exports: Record<string, unknown>;
}

const heapModules = new WeakMap<WebAssembly.Memory, Map<string, HeapModule>>();
let nextModuleId = 1;

function heapModuleEntry(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
): { memory: WebAssembly.Memory; module: HeapModule } | null {
  const memory = heapMemory(backend);
  if (memory === null) return null;
  let forMemory = heapModules.get(memory);
  if (forMemory === undefined) {
    forMemory = new Map();
    heapModules.set(memory, forMemory);
  }
  let module = forMemory.get(key);
  if (module === undefined) {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const bytes = assembleModule(build(), { shared, maxPages: shared ? 65536 : null });
    const exports = new WebAssembly.Instance(
      new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
      { env: { memory } },
    ).exports as Record<string, unknown>;
    module = { id: nextModuleId++, bytes, exports };
    forMemory.set(key, module);
  }
  return { memory, module };
}

/**
 * The exports of a generated WebAssembly module instantiated on the backend's own heap (the
 * module imports that memory, shared on threaded builds), so its functions read and write
 * tensors in place by byte address. Built and instantiated once per memory and `key`.
 *
 * @param backend The tfjs-wasm backend.
 * @param key Names what `build` generates (pool size, …).
 * @param build The module's exported functions.
 * @returns The exports, or `null` when the backend's memory is not found.
 */
export function heapModule<T>(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
): T | null {
  return (heapModuleEntry(backend, key, build)?.module.exports ?? null) as T | null;
}

const withStopHook = new WeakSet<WasmBackendLike>();
const helpersOf = new WeakMap<WasmBackendLike, number>();

/**
 * Records how many helper threads the backend's heap kernels should use (the threaded build:
 * its XNNPACK threads − 1), before its first kernel.
 *
 * @param backend The tfjs-wasm backend.
 * @param helpers The helper count.
 */
export function setHeapHelpers(backend: WasmBackendLike, helpers: number): void {
  helpersOf.set(backend, helpers);
}

/**
 * The backend's heap, with its `dispose` (`tf.removeBackend`) made to stop the heap's helper
 * threads too (once per backend); `null` when the heap is not found.
 */
function threadedHeap(backend: WasmBackendLike): WebAssembly.Memory | null {
  const memory = heapMemory(backend);
  if (memory !== null && !withStopHook.has(backend)) {
    withStopHook.add(backend);
    const helpers = helpersOf.get(backend);
    if (helpers !== undefined) configureHeapThreads(memory, helpers);
    const b = backend as unknown as { dispose?: () => void };
    const dispose = b.dispose?.bind(backend);
    b.dispose = () => {
      dispose?.();
      stopHeapThreads(memory);
    };
  }
  return memory;
}

/**
 * How many parts {@link heapRun} runs at the same time on this backend now (1 + the helper
 * threads that have started; 1 on an unshared heap).
 *
 * @param backend The tfjs-wasm backend.
 * @returns The number of parts to split work into.
 */
export function heapParallelism(backend: WasmBackendLike): number {
  const memory = threadedHeap(backend);
  return memory === null ? 1 : heapParts(memory);
}

/**
 * `n` items split into `parts` contiguous ranges as even as can be (sizes differ by at most 1).
 *
 * @param n Items.
 * @param parts Ranges (at least 1).
 * @returns `[start, count]` of each range, in order.
 */
export function splitEvenly(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0, start = 0; p < parts; p++) {
    const end = Math.floor((n * (p + 1)) / parts);
    out.push([start, end - start]);
    start = end;
  }
  return out;
}

/**
 * `n` items (examples, rows) as the contiguous ranges the heap runs at once now: as many as
 * {@link heapParallelism}, or one when `split` is false (work too small for a helper's ≈40 µs
 * hand-off).
 *
 * @param backend The tfjs-wasm backend.
 * @param n Items.
 * @param split Whether the work is worth splitting.
 * @returns `[start, count]` of each range, in order.
 */
export function heapRanges(
  backend: WasmBackendLike,
  n: number,
  split = true,
): [number, number][] {
  return splitEvenly(n, split ? Math.max(1, Math.min(n, heapParallelism(backend))) : 1);
}

/**
 * How many threads {@link heapRun} will use on this backend once its helpers have started
 * (1 on an unshared heap): unlike {@link heapParallelism}, fixed from the first call.
 *
 * @param backend The tfjs-wasm backend.
 * @returns The thread count.
 */
export function heapThreadsFor(backend: WasmBackendLike): number {
  const memory = threadedHeap(backend);
  return memory === null ? 1 : heapThreadCount(memory);
}

/**
 * Starts the backend's helper threads (where its heap is shared) and resolves when they have
 * all answered, or after `timeoutMs`, with the parallelism then: so that kernels run split
 * from the first (they start in ≈0.1 s; until then every part runs on the calling thread).
 *
 * @param backend The tfjs-wasm backend.
 * @param timeoutMs How long to wait at most.
 * @returns {@link heapParallelism} when done.
 */
export async function heapThreadsReady(
  backend: WasmBackendLike,
  timeoutMs = 5_000,
): Promise<number> {
  const want = heapThreadsFor(backend), start = performance.now();
  while (heapParallelism(backend) < want && performance.now() - start < timeoutMs) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return heapParallelism(backend);
}

/**
 * Runs the function `name` of the module `key` (see {@link heapModule}) once per part, the
 * parts at the same time on helper threads where the heap is shared (`_heap_threads.ts`).
 *
 * @param backend The tfjs-wasm backend.
 * @param key Names what `build` generates.
 * @param build The module's exported functions.
 * @param name The function to run.
 * @param parts Its integer arguments, one list per part.
 * @returns False when the backend's memory is not found (nothing ran).
 */
export function heapRun(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
  name: string,
  parts: readonly (readonly number[])[],
): boolean {
  const entry = heapModuleEntry(backend, key, build);
  if (entry === null) return false;
  threadedHeap(backend);
  runParts(entry.memory, entry.module, name, parts);
  return true;
}

/**
 * Runs an elementwise function `name(…addresses, from, to)` of the module `key` over `vectors`
 * groups of four float32 values (`from`, `to`: byte offsets, multiples of 16), split between
 * threads where `split` (see {@link heapRun}).
 *
 * @param backend The tfjs-wasm backend.
 * @param key Names what `build` generates.
 * @param build The module's exported functions.
 * @param name The function to run.
 * @param addresses Its leading arguments (the arrays' byte addresses).
 * @param vectors How many groups of four values.
 * @param split Whether to split them between threads.
 * @returns False when the backend's memory is not found (nothing ran).
 */
export function heapRunVectors(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
  name: string,
  addresses: readonly number[],
  vectors: number,
  split: boolean,
): boolean {
  const ranges = heapRanges(backend, vectors, split);
  return heapRun(
    backend,
    key,
    build,
    name,
    ranges.map(([v0, c]) => [...addresses, 16 * v0, 16 * (v0 + c)]),
  );
}
