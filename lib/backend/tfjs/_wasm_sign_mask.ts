/**
 * The masked and transposed passes through a ReLU on tfjs's `wasm` backend, as one kernel:
 * `{ x, v }` with `x` the ReLU's recorded output `[n, ...]` and `v` `[n·per, ...]` (`per`
 * rows per example) → `v` where its example's `x > 0`, 0 elsewhere. With it the forward pass
 * records the ReLU's output itself (which the next layer needs anyway) instead of a separate
 * 0/1 slope tensor: one op (`Relu`) where there were two (`Step`, `Multiply`) and one fewer
 * tensor the size of the layer. `x > 0` is the engine's activity rule (a pre-activation of
 * exactly 0 is inactive; ReLU's output is positive exactly where its input is).
 *
 * The body is generated WebAssembly SIMD on the backend's own heap (4 values at a time,
 * `f32x4.gt` and `v128.and`) when the per-example size is a multiple of 4, a JS loop
 * otherwise.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import {
  heapModule,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";

/** The kernel's name. */
export const SIGN_MASK = "MasokitSignMask";

/** Switches for before/after benchmarks and tests: the kernel at all, its SIMD body. */
export const wasmSignMaskKernel = { enabled: true, simd: true };

/** `mask(x, v, out, n, per, bytes)`: byte addresses, `bytes` per example (a multiple of 16). */
function maskFunction(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [x, v, out, n, per, bytes] = [0, 1, 2, 3, 4, 5];
  const e = f.local(I32), j = f.local(I32), p = f.local(I32), end = f.local(I32);
  const dv = f.local(I32), zero = f.local(V128);
  f.get(v).get(out).op(Op.i32Sub).set(dv); // v and out share their layout
  f.v128Zero().set(zero);
  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    f.get(x).get(bytes).op(Op.i32Add).set(end);
    f.i32(0).set(j);
    f.forLoop(j, per, 1, () => {
      f.get(x).set(p);
      f.forLoop(p, end, 16, () => {
        f.get(out);
        f.get(out).get(dv).op(Op.i32Add).v128Load(0);
        f.get(p).v128Load(0).get(zero).simd(SimdOp.f32x4Gt);
        f.simd(SimdOp.v128And).v128Store(0);
        f.get(out).i32(16).op(Op.i32Add).set(out);
      });
    });
    f.get(end).set(x);
  });
  return f;
}

function signMask(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, v } = args.inputs as { x: tf.TensorInfo; v: tf.TensorInfo };
  const n = x.shape[0], per = v.shape[0] / n;
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (
    x.dtype !== "float32" || v.dtype !== "float32" || !Number.isInteger(per) ||
    v.shape.length !== x.shape.length || v.shape.some((d, i) => i > 0 && d !== x.shape[i])
  ) {
    throw new RangeError(
      `${SIGN_MASK}: v has shape [${v.shape}] (${v.dtype}), expected float32 [k·${n}, ${
        x.shape.slice(1)
      }] for x of shape [${x.shape}] (${x.dtype})`,
    );
  }
  const out = backend.makeOutput([...v.shape], "float32");
  // views after the allocation (an allocation may move the heap)
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const vs = backend.typedArrayFromHeap(v) as Float32Array;
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  const simd = wasmSignMaskKernel.simd && size % 4 === 0
    ? heapModule<{ mask: (...a: number[]) => void }>(backend, "sign mask", () => ({
      mask: maskFunction(),
    }))
    : null;
  if (simd !== null) {
    simd.mask(xs.byteOffset, vs.byteOffset, os.byteOffset, n, per, size * 4);
    return out;
  }
  for (let e = 0, o = 0; e < n; e++) {
    for (let r = 0; r < per; r++) {
      for (let i = e * size; i < (e + 1) * size; i++, o++) os[o] = xs[i] > 0 ? vs[o] : 0;
    }
  }
  return out;
}

/**
 * Registers {@linkcode SIGN_MASK} on the active backend once (idempotent) when that backend
 * is a tfjs-wasm one and the kernel is switched on; true when it can run now.
 *
 * @returns Whether the kernel is usable on the active backend.
 */
export function signMaskReady(): boolean {
  return wasmSignMaskKernel.enabled && registerOnActiveWasm([[SIGN_MASK, signMask]]);
}
