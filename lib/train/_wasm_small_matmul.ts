/**
 * Small matrix products `out[M, N] = A · B` (+ bias, then ReLU where asked) as one generated
 * WebAssembly SIMD function on tfjs-wasm's heap, for a dense layer's forward pass and gradients in
 * training: tfjs-wasm runs them on XNNPACK, which creates an operator and packs `B` whenever `B`'s
 * memory changes (a layer's weights after every step, the gradient `dy` at every call): 0.2–0.3 ms
 * for smallCNN's 10 × 1,152 by 1,152 × 10 product of 0.1 M multiply-adds (a scratch timing of
 * `tf.matMul` with fresh weights), where this function takes a few tens of µs.
 *
 * For each row `i` of `out` and each block of up to {@linkcode BLOCK_VECTORS} quads of columns
 * (then the last 1–3 columns one by one), the sums stay in registers while `k` runs over the
 * depth: `A[i, k]` splatted (read with `A`'s own strides, so `A` may be transposed in place),
 * times the row `B[k, block]`. `B` must be `[K, N]` (a transposed `B` is transposed first by
 * the caller). Each output sums its products in order of `k`.
 *
 * @module
 */
import { F32, FunctionBuilder, I32, Op, SimdOp, V128 } from "../util/_wasm_emitter.ts";
import { heapRun, type WasmBackendLike } from "../backend/_wasm_ops.ts";

/**
 * Switches for benchmarks and tests: the kernel at all, and the most multiply-adds a product may
 * have to run here (larger ones stay on XNNPACK, whose packing then pays for itself).
 */
export const wasmSmallMatMul = { enabled: true, maxMacs: 1 << 21 };

/** How many products the kernel has run (tests check that it ran). */
export const smallMatMulRuns = { count: 0 };

/** `f32x4.max` and `f32.max` (NaN where either is NaN). */
const F32X4_MAX = 0xe9, F32_MAX = 0x97;

/** The most quads of columns whose sums a block keeps in registers. */
const BLOCK_VECTORS = 8;

/** A product's shape and options (one generated function each). */
export interface SmallMatMulShape {
  m: number;
  k: number;
  n: number;
  /** Whether `A` is stored transposed (`[K, M]`). */
  transposeA: boolean;
  bias: boolean;
  relu: boolean;
}

/** `matmul(a, b, bias, out)`: byte addresses (`bias` unused without a bias). */
function matMulFunction(s: SmallMatMulShape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [a, b, bias, out] = [0, 1, 2, 3];
  const i = f.local(I32), aRow = f.local(I32), pa = f.local(I32), pb = f.local(I32);
  const paEnd = f.local(I32), av = f.local(V128);
  const acc = Array.from({ length: BLOCK_VECTORS }, () => f.local(V128));
  const accS = Array.from({ length: 3 }, () => f.local(F32));
  const aScalar = f.local(F32);
  // A[i, k]: at a + (i·K + k)·4, or transposed at a + (k·M + i)·4
  const aStepK = (s.transposeA ? s.m : 1) * 4, aStepI = (s.transposeA ? 1 : s.k) * 4;
  const rowBytes = s.n * 4;
  // columns [c0, c0 + 4·vectors) as vectors, or `scalars` columns from c0 one by one
  const block = (c0: number, vectors: number, scalars: number) => {
    for (let v = 0; v < vectors; v++) {
      if (s.bias) f.get(bias).v128Load(c0 * 4 + v * 16).set(acc[v]);
      else f.v128Zero().set(acc[v]);
    }
    for (let e = 0; e < scalars; e++) {
      if (s.bias) f.get(bias).mem(Op.f32Load, 2, (c0 + e) * 4).set(accS[e]);
      else f.op(Op.f32Const, 0, 0, 0, 0).set(accS[e]);
    }
    f.get(aRow).set(pa).get(b).set(pb);
    f.forLoop(pa, paEnd, aStepK, () => {
      if (vectors > 0) f.get(pa).v128Load32Splat(0).set(av);
      if (scalars > 0) f.get(pa).mem(Op.f32Load, 2, 0).set(aScalar);
      for (let v = 0; v < vectors; v++) {
        f.get(acc[v]).get(av).get(pb).v128Load(c0 * 4 + v * 16).simd(SimdOp.f32x4Mul);
        f.simd(SimdOp.f32x4Add).set(acc[v]);
      }
      for (let e = 0; e < scalars; e++) {
        f.get(accS[e]).get(aScalar).get(pb).mem(Op.f32Load, 2, (c0 + e) * 4).op(Op.f32Mul);
        f.op(Op.f32Add).set(accS[e]);
      }
      f.get(pb).i32(rowBytes).op(Op.i32Add).set(pb);
    });
    // out + i·N·4
    for (let v = 0; v < vectors; v++) {
      f.get(out).get(i).i32(rowBytes).op(Op.i32Mul).op(Op.i32Add).get(acc[v]);
      if (s.relu) f.v128Zero().simd(F32X4_MAX);
      f.v128Store(c0 * 4 + v * 16);
    }
    for (let e = 0; e < scalars; e++) {
      f.get(out).get(i).i32(rowBytes).op(Op.i32Mul).op(Op.i32Add).get(accS[e]);
      if (s.relu) f.op(Op.f32Const, 0, 0, 0, 0).op(F32_MAX);
      f.mem(Op.f32Store, 2, (c0 + e) * 4);
    }
  };
  f.i32(0).set(i).get(a).set(aRow);
  const mEnd = f.local(I32);
  f.i32(s.m).set(mEnd);
  f.forLoop(i, mEnd, 1, () => {
    f.get(aRow).i32(s.k * aStepK).op(Op.i32Add).set(paEnd);
    const quads = Math.floor(s.n / 4);
    for (let q = 0; q < quads; q += BLOCK_VECTORS) {
      block(q * 4, Math.min(BLOCK_VECTORS, quads - q), 0);
    }
    if (s.n % 4 > 0) block(quads * 4, 0, s.n % 4);
    f.get(aRow).i32(aStepI).op(Op.i32Add).set(aRow);
  });
  return f;
}

/**
 * Whether {@linkcode smallMatMul} takes a product of this size (switched on, at most
 * `wasmSmallMatMul.maxMacs` multiply-adds, none empty).
 *
 * @param m Rows of the output.
 * @param k The depth.
 * @param n Columns of the output.
 * @returns Whether it applies.
 */
export function smallMatMulApplies(m: number, k: number, n: number): boolean {
  return wasmSmallMatMul.enabled && m > 0 && k > 0 && n > 0 && m * k * n <= wasmSmallMatMul.maxMacs;
}

/**
 * `out = A · B` (+ bias, ReLU) for float32 tensors on the heap, `out` `[M, N]` allocated by the
 * caller; false where the heap is not found.
 *
 * @param backend The tfjs-wasm backend.
 * @param s The shapes and options.
 * @param addresses Byte addresses of A, B (`[K, N]`), the bias (`[N]`, or 0) and out.
 * @returns Whether it ran.
 */
export function smallMatMul(
  backend: WasmBackendLike,
  s: SmallMatMulShape,
  addresses: readonly [number, number, number, number],
): boolean {
  const key = `small matmul ${Object.values(s).join(" ")}`;
  smallMatMulRuns.count++;
  return heapRun(backend, key, () => ({ matmul: matMulFunction(s) }), "matmul", [[...addresses]]);
}
