/**
 * The filter gradient of a 2-D convolution with few input taps (a network's first layer: kh·kw·c
 * of 27 for 3×3 over RGB) as one generated WebAssembly SIMD kernel on tfjs-wasm's heap:
 *
 *   dW[i, j, ci, o] = Σ_{n, y, x} x[n, y·sh + i, x·sw + j, ci] · dy[n, y, x, o]
 *
 * read straight from x and dy in NHWC. For a filter row i the kw·c inputs x[n, y·sh + i,
 * x·sw + (0…kw−1), 0…c−1] are contiguous, so each output position contributes the outer product
 * of kw·c scalars with co outputs: the kernel keeps a block of `rows` × `vectors`·4 of dW in
 * registers, broadcasts `rows` inputs and loads `vectors` quads of dy per position, and sweeps
 * all positions of one example before the next block (that example's dy stays in cache).
 *
 * Why: XNNPACK's matrix product, which the general path (transposed im2col × dy) runs on, packs
 * its right operand on every call, and dy is new every training step; with the im2col copies
 * that made the first layer's filter gradient ≈20 ms of a ≈90 ms smallCNN step. This kernel reads
 * each input in place and writes only dW.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../util/_wasm_emitter.ts";
import { heapMemory, heapRun, splitEvenly, type WasmBackendLike } from "../backend/_wasm_ops.ts";

/** The shapes the kernel is generated for: x already padded, [n, h, w, c]; dy [n, oh, ow, co]. */
export interface FilterGradShape {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
}

/** Register blocking: dW rows (filter taps) × 4-wide output vectors kept in registers. */
export interface FilterGradBlocking {
  rows: number;
  vectors: number;
}

/**
 * Switches for benchmarks and tests: the kernel at all, the largest number of filter taps
 * kh·kw·c it takes on one thread (against XNNPACK's two: from 256 taps on, the convolution
 * formulation on XNNPACK is as fast), and its register blocking.
 */
export const wasmFilterGradKernel: {
  enabled: boolean;
  maxTaps: number;
  blocking: FilterGradBlocking;
} = {
  enabled: true,
  maxTaps: 255,
  blocking: { rows: 2, vectors: 4 },
};

/**
 * Whether the kernel applies: outputs a multiple of 4, and at most `maxTaps` taps unless the
 * heap has helper threads (split over 2 threads it beats XNNPACK at any size measured: 7.2 ms
 * against 16 for smallCNN's 3×3×32 → 64 layer).
 *
 * @param s The shapes.
 * @param threads The heap's thread count (`heapThreadsFor`).
 * @returns Whether {@link filterGradDirect} should run.
 */
export function filterGradApplies(s: FilterGradShape, threads: number): boolean {
  const k = wasmFilterGradKernel;
  return k.enabled && s.co % 4 === 0 && (threads > 1 || s.kh * s.kw * s.c <= k.maxTaps);
}

/** Multiply-adds below which the kernel runs on the calling thread alone. */
const MIN_SPLIT_MACS = 1 << 20;
/** Partial sums over the examples, run on as many threads as the heap has (up to 8). */
const FILTER_GRAD_PARTS = 8;

/**
 * `grad(x, dy, out, n)`: byte addresses and the batch size; `out` ([kh, kw, c, co]) must be
 * zero on entry. Full
 * blocks run in loops, the remainders (rows or vectors that do not fill a block) as one
 * block of their own size, so the code stays small for any shape.
 */
function gradFunction(s: FilterGradShape, b: FilterGradBlocking): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [x, dy, out, nEnd] = [0, 1, 2, 3];
  const ex = f.local(I32), oy = f.local(I32), ohEnd = f.local(I32);
  const xRow = f.local(I32), xp = f.local(I32), dyp = f.local(I32), rowEnd = f.local(I32);
  const dyEx = f.local(I32), rOff = f.local(I32), rEnd = f.local(I32), vOff = f.local(I32);
  const vEnd = f.local(I32), outBase = f.local(I32);
  const acc = Array.from({ length: b.rows * b.vectors }, () => f.local(V128));
  const bc = Array.from({ length: b.rows }, () => f.local(V128));
  const d = f.local(V128);
  const r = s.kw * s.c; // contiguous inputs per filter row
  const vecs = s.co / 4;
  const rowBytes = s.w * s.c * 4, exBytes = s.h * rowBytes, dyExBytes = s.oh * s.ow * s.co * 4;
  const fullRows = r - (r % b.rows), fullVecs = vecs - (vecs % b.vectors);

  // One block: `rows` filter taps from byte offset rOff (within filter row i) × `vectors`
  // output quads from byte offset vOff, swept over all positions of the example.
  const block = (i: number, rows: number, vectors: number) => {
    // out + ((i·r + rOff/4)·co)·4 + vOff
    f.get(rOff).i32(s.co).op(Op.i32Mul).get(vOff).op(Op.i32Add).get(out).op(Op.i32Add)
      .set(outBase);
    const outOffset = (e: number, v: number) => ((i * r + e) * s.co + v * 4) * 4;
    for (let e = 0; e < rows; e++) {
      for (let v = 0; v < vectors; v++) {
        f.get(outBase).v128Load(outOffset(e, v)).set(acc[e * b.vectors + v]);
      }
    }
    f.get(x).get(rOff).op(Op.i32Add).set(xRow);
    f.get(dyEx).get(vOff).op(Op.i32Add).set(dyp).i32(0).set(oy);
    f.forLoop(oy, ohEnd, 1, () => {
      f.get(xRow).set(xp).get(dyp).i32(s.ow * s.co * 4).op(Op.i32Add).set(rowEnd);
      f.forLoop(dyp, rowEnd, s.co * 4, () => {
        for (let e = 0; e < rows; e++) {
          f.get(xp).v128Load32Splat((i * s.w * s.c + e) * 4).set(bc[e]);
        }
        for (let v = 0; v < vectors; v++) {
          f.get(dyp).v128Load(v * 16).set(d);
          for (let e = 0; e < rows; e++) {
            const a = acc[e * b.vectors + v];
            f.get(a).get(bc[e]).get(d).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(a);
          }
        }
        f.get(xp).i32(s.sw * s.c * 4).op(Op.i32Add).set(xp);
      });
      f.get(xRow).i32(s.sh * rowBytes).op(Op.i32Add).set(xRow);
    });
    for (let e = 0; e < rows; e++) {
      for (let v = 0; v < vectors; v++) {
        f.get(outBase).get(acc[e * b.vectors + v]).v128Store(outOffset(e, v));
      }
    }
  };
  // All output quads for `rows` taps at rOff.
  const quads = (i: number, rows: number) => {
    if (fullVecs > 0) {
      f.i32(0).set(vOff).i32(fullVecs * 16).set(vEnd);
      f.forLoop(vOff, vEnd, b.vectors * 16, () => block(i, rows, b.vectors));
    }
    if (fullVecs < vecs) {
      f.i32(fullVecs * 16).set(vOff);
      block(i, rows, vecs - fullVecs);
    }
  };

  f.i32(0).set(ex).i32(s.oh).set(ohEnd).get(dy).set(dyEx);
  f.forLoop(ex, nEnd, 1, () => {
    for (let i = 0; i < s.kh; i++) {
      if (fullRows > 0) {
        f.i32(0).set(rOff).i32(fullRows * 4).set(rEnd);
        f.forLoop(rOff, rEnd, b.rows * 4, () => quads(i, b.rows));
      }
      if (fullRows < r) {
        f.i32(fullRows * 4).set(rOff);
        quads(i, r - fullRows);
      }
    }
    f.get(x).i32(exBytes).op(Op.i32Add).set(x);
    f.get(dyEx).i32(dyExBytes).op(Op.i32Add).set(dyEx);
  });
  return f;
}

/**
 * dW for padded x `[n, h, w, c]` and dy `[n, oh, ow, co]` (float32 on the wasm heap) as a new
 * `[kh, kw, c, co]` tensor, or `null` when the backend's memory is not found. The examples are
 * split into up to 8 parts, each summing into its own dW, added up at the end in a fixed order,
 * and the parts run on the calling thread and the heap's helper threads (`_heap_threads.ts`):
 * the same bits whatever the number of threads.
 *
 * @param backend The tfjs-wasm backend holding both tensors.
 * @param x The padded input.
 * @param dy The output gradient.
 * @param s Their shapes and the filter's.
 * @returns dW, or null.
 */
export function filterGradDirect(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  s: FilterGradShape,
): tf.TensorInfo | null {
  const b = wasmFilterGradKernel.blocking;
  const { n, ...perExample } = s; // one module for every batch size
  const key = `filter grad ${Object.values(perExample).join("x")} ${b.rows}x${b.vectors}`;
  if (heapMemory(backend) === null) return null;
  const macs = n * s.oh * s.ow * s.kh * s.kw * s.c * s.co;
  // A fixed number of partial sums (never the number of threads, so that results do not
  // depend on how many helpers have started); a helper's hand-off costs ≈40 µs, so small
  // gradients are one part.
  const parts = macs < MIN_SPLIT_MACS ? 1 : Math.min(n, FILTER_GRAD_PARTS);
  const size = s.kh * s.kw * s.c * s.co;
  const out = backend.makeOutput([s.kh, s.kw, s.c, s.co], "float32");
  const extra = parts > 1 ? backend.makeOutput([(parts - 1) * size], "float32") : null;
  // views after the allocations (an allocation may move the heap)
  const outs = backend.typedArrayFromHeap(out) as Float32Array;
  const more = extra === null ? null : backend.typedArrayFromHeap(extra) as Float32Array;
  outs.fill(0);
  more?.fill(0);
  const xs = backend.typedArrayFromHeap(x), dys = backend.typedArrayFromHeap(dy);
  const xBytes = s.h * s.w * s.c * 4, dyBytes = s.oh * s.ow * s.co * 4;
  const args = splitEvenly(n, parts).map(([start, count], p) => [
    xs.byteOffset + start * xBytes,
    dys.byteOffset + start * dyBytes,
    p === 0 ? outs.byteOffset : more!.byteOffset + (p - 1) * size * 4,
    count,
  ]);
  heapRun(backend, key, () => ({ grad: gradFunction(s, b) }), "grad", args);
  if (extra !== null) {
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    const m = backend.typedArrayFromHeap(extra) as Float32Array;
    for (let i = 0; i < m.length; i++) o[i % size] += m[i];
    backend.disposeData(extra.dataId);
  }
  return out;
}
