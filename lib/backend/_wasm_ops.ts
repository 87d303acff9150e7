/**
 * Private helpers for kernels registered on tfjs's `wasm` backend: calling other registered wasm
 * kernels directly (the way tfjs-backend-wasm's own composite kernels do, bypassing the engine
 * and its gradient tape) and freeing their intermediate results.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
