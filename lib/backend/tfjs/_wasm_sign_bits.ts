/**
 * A ReLU layer's partition code, packed, on tfjs's `wasm` backend: `{ x }` with `x` the ReLU's
 * recorded output `[n, ...]` → int32 `[n, ⌈units/32⌉]`, bit b of word w set where unit
 * `32·w + b` of the example is `> 0` (the engine's activity rule; the layout of
 * `partitionCodes`). Generated WebAssembly SIMD on the backend's heap: four units compared at a
 * time (`f32x4.gt`) and turned into bits by `i32x4.bitmask`, so only the packed words leave the
 * heap — the unpacked path read every activation back into JS (44 K floats per smallCNN image)
 * and packed them there. Examples are split between the calling thread and the heap's helper
 * threads.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, SimdOp } from "../../util/_wasm_emitter.ts";
import {
  heapMemory,
  heapRanges,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";

/** The kernel's name. */
export const SIGN_BITS = "MasokitSignBits";

/** Switch for benchmarks and tests. */
export const wasmSignBits = { enabled: true };

/** Below this many values the kernel runs on the calling thread alone. */
const MIN_SPLIT_VALUES = 1 << 16;

/** `pack(x, out, n)`: byte addresses, n examples of `units` floats each. */
function packFunction(units: number): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32]);
  const [xp, outp, n] = [0, 1, 2];
  const e = f.local(I32), w = f.local(I32), wEnd = f.local(I32);
  const full = Math.floor(units / 32), rest = units - full * 32;
  /** Pushes the bits of `count` units from `x + offset` (count ≤ 32), LSB first. */
  const bits = (offset: number, count: number) => {
    const vectors = Math.floor(count / 4);
    f.i32(0);
    for (let v = 0; v < vectors; v++) {
      f.get(xp).v128Load(offset + v * 16).v128Zero().simd(SimdOp.f32x4Gt);
      f.simd(SimdOp.i32x4Bitmask);
      if (v > 0) f.i32(v * 4).op(Op.i32Shl);
      f.op(Op.i32Or);
    }
    for (let u = vectors * 4; u < count; u++) {
      f.get(xp).mem(Op.f32Load, 2, offset + u * 4).op(Op.f32Const, 0, 0, 0, 0).op(Op.f32Gt);
      if (u > 0) f.i32(u).op(Op.i32Shl);
      f.op(Op.i32Or);
    }
  };
  f.i32(0).set(e).i32(full).set(wEnd);
  f.forLoop(e, n, 1, () => {
    f.i32(0).set(w);
    f.forLoop(w, wEnd, 1, () => {
      f.get(outp);
      bits(0, 32);
      f.mem(Op.i32Store, 2, 0);
      f.get(xp).i32(128).op(Op.i32Add).set(xp);
      f.get(outp).i32(4).op(Op.i32Add).set(outp);
    });
    if (rest > 0) {
      f.get(outp);
      bits(0, rest);
      f.mem(Op.i32Store, 2, 0);
      f.get(xp).i32(rest * 4).op(Op.i32Add).set(xp);
      f.get(outp).i32(4).op(Op.i32Add).set(outp);
    }
  });
  return f;
}

function signBits(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const n = x.shape[0] ?? 0;
  const units = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (x.dtype !== "float32" || x.shape.length < 2 || units < 1) {
    throw new RangeError(
      `${SIGN_BITS}: x has shape [${x.shape}] (${x.dtype}), expected float32 [n, ...units]`,
    );
  }
  const words = Math.ceil(units / 32);
  const out = backend.makeOutput([n, words], "int32");
  if (heapMemory(backend) === null) throw new Error(`${SIGN_BITS}: the wasm heap was not found`);
  // views after the allocation (an allocation may move the heap)
  const xs = backend.typedArrayFromHeap(x).byteOffset;
  const os = backend.typedArrayFromHeap(out).byteOffset;
  heapRun(
    backend,
    `sign bits ${units}`,
    () => ({ pack: packFunction(units) }),
    "pack",
    heapRanges(backend, n, n * units >= MIN_SPLIT_VALUES).map(([s, c]) => [
      xs + s * units * 4,
      os + s * words * 4,
      c,
    ]),
  );
  return out;
}

/**
 * Registers {@linkcode SIGN_BITS} on the active backend once when it is a tfjs-wasm one and
 * the kernel is switched on; true when it can run now.
 *
 * @returns Whether to call the kernel.
 */
export function signBitsReady(): boolean {
  return wasmSignBits.enabled && registerOnActiveWasm([[SIGN_BITS, signBits]]);
}
