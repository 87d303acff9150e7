/**
 * WebAssembly kernels counting code mismatches between blocks of rows, generated
 * at run time and specialised to the row stride (so every load has a constant
 * offset and the inner loop keeps its accumulators in registers).
 *
 * Both kernels have the signature
 * `(q, nq, b, nb, out, outStride)` (all i32): for query rows `q … q + nq·S` and base
 * rows `b … b + nb·S` (byte addresses, row stride S), they write the number of
 * mismatching units of every pair (i, j) as a u32 at `out + i·outStride + 4j`.
 * `nq` must be a positive multiple of the query tile and `nb` of the base tile;
 * callers pad with zero rows.
 *
 * - `sign`: rows of packed bits; mismatches = Σ popcount(q_w XOR b_w) over 64-bit
 *   words (`i64.popcnt`), tiles of 4 query × 2 base rows so each loaded word is
 *   reused.
 * - `argmax`: rows of u16 argmax indices; mismatches = Σ (q_u ≠ b_u) with SIMD128
 *   `i16x8.ne` (counts kept per 16-bit lane, so at most 65,535 vectors a row).
 *
 * @module
 */
import {
  assembleModule,
  FunctionBuilder,
  I32,
  I64,
  Op,
  SimdOp,
  V128,
} from "../util/_wasm_emitter.ts";

/** Query rows per tile of the sign kernel. */
export const SIGN_TILE_Q = 4;
/** Base rows per tile of the sign kernel. */
export const SIGN_TILE_B = 2;
/** Query rows per tile of the argmax kernel. */
export const ARGMAX_TILE_Q = 2;
/** Base rows per tile of the argmax kernel. */
export const ARGMAX_TILE_B = 2;
/** Largest number of 128-bit vectors per row the argmax kernel accepts (16-bit lane counters). */
export const ARGMAX_MAX_VECTORS = 65535;
/** Maximum memory size the modules declare, in 64 KiB pages (4 GiB). */
export const MAX_PAGES = 65536;

/** How one kernel body loads, compares and accumulates. */
interface KernelSpec {
  tileQ: number;
  tileB: number;
  /** Bytes consumed per step of the inner loop body (one word/vector). */
  stepBytes: number;
  /** Steps per row. */
  steps: number;
  /** Inner-loop unrolling. */
  unroll: number;
  accType: number;
  valueType: number;
  /** Pushes the zero accumulator. */
  zero(f: FunctionBuilder): void;
  /** Pushes a load from the address on the stack at a constant offset. */
  load(f: FunctionBuilder, offset: number): void;
  /** With acc, q, b locals: acc ← acc + mismatches(q, b). */
  accumulate(f: FunctionBuilder, acc: number, q: number, b: number): void;
  /** Pushes the i32 total of the accumulator. */
  total(f: FunctionBuilder, acc: number): void;
}

function tiledKernel(stride: number, spec: KernelSpec): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [qp, nq, bp, nb, out, ostride] = [0, 1, 2, 3, 4, 5];
  const qEnd = f.local(I32), bEnd = f.local(I32), j = f.local(I32);
  const orow = f.local(I32), optr = f.local(I32);
  const pq = f.local(I32), pb = f.local(I32), pbEnd = f.local(I32);
  const { tileQ, tileB, stepBytes, steps, unroll } = spec;
  const acc: number[] = [];
  for (let t = 0; t < tileQ * tileB; t++) acc.push(f.local(spec.accType));
  const bv: number[] = [];
  for (let t = 0; t < tileB; t++) bv.push(f.local(spec.valueType));
  const qv = f.local(spec.valueType);
  const loops = Math.floor(steps / unroll), tail = steps % unroll;

  const step = (offset: number) => {
    for (let b = 0; b < tileB; b++) {
      f.get(pb);
      spec.load(f, b * stride + offset);
      f.set(bv[b]);
    }
    for (let q = 0; q < tileQ; q++) {
      f.get(pq);
      spec.load(f, q * stride + offset);
      f.set(qv);
      for (let b = 0; b < tileB; b++) spec.accumulate(f, acc[q * tileB + b], qv, bv[b]);
    }
  };

  // qEnd = qp + nq·S; bEnd = bp + nb·S; orow = out
  f.get(qp).get(nq).i32(stride).op(Op.i32Mul, Op.i32Add).set(qEnd);
  f.get(bp).get(nb).i32(stride).op(Op.i32Mul, Op.i32Add).set(bEnd);
  f.get(out).set(orow);
  f.op(Op.block, 0x40, Op.loop, 0x40); // loop over query tiles
  f.get(bp).set(j).get(orow).set(optr);
  f.op(Op.block, 0x40, Op.loop, 0x40); // loop over base tiles
  for (const a of acc) {
    spec.zero(f);
    f.set(a);
  }
  f.get(qp).set(pq).get(j).set(pb);
  if (loops > 0) {
    f.get(j).i32(loops * unroll * stepBytes).op(Op.i32Add).set(pbEnd);
    f.op(Op.block, 0x40, Op.loop, 0x40);
    for (let u = 0; u < unroll; u++) step(u * stepBytes);
    f.get(pq).i32(unroll * stepBytes).op(Op.i32Add).set(pq);
    f.get(pb).i32(unroll * stepBytes).op(Op.i32Add).set(pb);
    f.get(pb).get(pbEnd).op(Op.i32LtU, Op.brIf, 0, Op.end, Op.end);
  }
  for (let u = 0; u < tail; u++) step(u * stepBytes);
  for (let q = 0; q < tileQ; q++) {
    for (let b = 0; b < tileB; b++) {
      f.get(optr);
      if (q > 0) f.get(ostride).i32(q).op(Op.i32Mul, Op.i32Add);
      spec.total(f, acc[q * tileB + b]);
      f.mem(Op.i32Store, 2, b * 4);
    }
  }
  f.get(j).i32(tileB * stride).op(Op.i32Add).set(j);
  f.get(optr).i32(tileB * 4).op(Op.i32Add).set(optr);
  f.get(j).get(bEnd).op(Op.i32LtU, Op.brIf, 0, Op.end, Op.end);
  f.get(qp).i32(tileQ * stride).op(Op.i32Add).set(qp);
  f.get(orow).get(ostride).i32(tileQ).op(Op.i32Mul, Op.i32Add).set(orow);
  f.get(qp).get(qEnd).op(Op.i32LtU, Op.brIf, 0, Op.end, Op.end);
  return f;
}

/**
 * Builds the sign (packed-bit) kernel for rows of `stride` bytes (a multiple of 8).
 *
 * @param stride Row stride in bytes.
 * @returns The function builder.
 */
export function signKernel(
  stride: number,
  tileQ = SIGN_TILE_Q,
  tileB = SIGN_TILE_B,
  unroll = 4,
): FunctionBuilder {
  const steps = stride / 8;
  return tiledKernel(stride, {
    tileQ,
    tileB,
    stepBytes: 8,
    steps,
    unroll: Math.min(steps, unroll),
    accType: I64,
    valueType: I64,
    zero: (f) => f.op(Op.i64Const, 0),
    load: (f, offset) => f.mem(Op.i64Load, 3, offset),
    accumulate: (f, acc, q, b) =>
      f.get(acc).get(q).get(b).op(Op.i64Xor, Op.i64Popcnt, Op.i64Add).set(acc),
    total: (f, acc) => f.get(acc).op(Op.i32WrapI64),
  });
}

/**
 * Builds the argmax (u16) kernel for rows of `stride` bytes (a multiple of 16).
 *
 * @param stride Row stride in bytes.
 * @returns The function builder.
 */
export function argmaxKernel(stride: number): FunctionBuilder {
  const steps = stride / 16;
  return tiledKernel(stride, {
    tileQ: ARGMAX_TILE_Q,
    tileB: ARGMAX_TILE_B,
    stepBytes: 16,
    steps,
    unroll: Math.min(steps, 4),
    accType: V128,
    valueType: V128,
    zero: (f) => f.simd(SimdOp.v128Const, ...new Array(16).fill(0)),
    load: (f, offset) => f.v128Load(offset),
    accumulate: (f, acc, q, b) =>
      f.get(acc).get(q).get(b).simd(SimdOp.i16x8Ne).simd(SimdOp.i16x8Sub).set(acc),
    total: (f, acc) => {
      const t = f.local(V128);
      f.get(acc).simd(SimdOp.i32x4ExtaddPairwiseI16x8U).set(t);
      f.get(t).simd(SimdOp.i32x4ExtractLane, 0).get(t).simd(SimdOp.i32x4ExtractLane, 1);
      f.op(Op.i32Add);
      f.get(t).simd(SimdOp.i32x4ExtractLane, 2).op(Op.i32Add);
      f.get(t).simd(SimdOp.i32x4ExtractLane, 3).op(Op.i32Add);
    },
  });
}

/** Which kernel: packed sign bits or u16 argmax indices. */
export type KernelKind = "sign" | "argmax";

const moduleCache = new Map<string, { bytes: Uint8Array; module: WebAssembly.Module }>();

/**
 * The compiled module exporting `kernel` for one kind and row stride (cached).
 *
 * @param kind `sign` or `argmax`.
 * @param stride Row stride in bytes.
 * @param shared Whether the module imports a shared memory (for threads).
 * @returns The module bytes and the compiled module.
 */
export function kernelModule(
  kind: KernelKind,
  stride: number,
  shared: boolean,
): { bytes: Uint8Array; module: WebAssembly.Module } {
  const key = `${kind}:${stride}:${shared}`;
  let entry = moduleCache.get(key);
  if (entry === undefined) {
    const fn = kind === "sign" ? signKernel(stride) : argmaxKernel(stride);
    const bytes = assembleModule({ kernel: fn }, { shared, maxPages: MAX_PAGES });
    entry = { bytes, module: new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>) };
    if (moduleCache.size >= 64) moduleCache.clear();
    moduleCache.set(key, entry);
  }
  return entry;
}
