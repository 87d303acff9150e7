/**
 * A stride-1 convolution with at most 4 output channels as one generated WebAssembly SIMD
 * kernel on tfjs-wasm's heap: the transposed pass through a network's first layer, which maps
 * every template row back to image space (3 channels for RGB, 1 for grayscale). XNNPACK
 * vectorises over output channels and reaches ≈18 GFLOP/s there (3 of its lanes' worth of
 * work), against ≈60 for wide layers; this kernel vectorises over the input channels instead:
 *
 *   out[m, y, x, c] = Σ_{i, j, o} x[m, y + i − pt, x + j − pl, o] · k[i, j, c, o]
 *
 * (zero outside x), with P output positions × C channels of float32x4 partial sums in registers
 * (each loaded input vector meets C kernel vectors, each kernel vector P inputs), added across
 * lanes at the end. Positions whose window crosses the left/right edge and the rows whose
 * window crosses the top/bottom one take the same sums over their valid taps only. Images are
 * split between the calling thread and the heap's helper threads.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import {
  heapMemory,
  heapRanges,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";

/** The kernel's name. */
export const CONV_FEW_OUTPUTS = "MasokitConvFewOutputs";

/** The most output channels the kernel takes. */
export const MAX_FEW_OUTPUTS = 4;
/** The most input channels the kernel takes (they are unrolled in the generated code). */
export const MAX_FEW_OUTPUTS_INPUTS = 512;

/** Switch for benchmarks and tests. */
export const wasmConvFewOutputs = { enabled: true };

/** Multiply-adds below which the kernel runs on the calling thread alone. */
const MIN_SPLIT_MACS = 1 << 20;

interface Shape {
  h: number;
  w: number;
  cin: number;
  c: number;
  kh: number;
  kw: number;
  pt: number;
  pl: number;
  oh: number;
  ow: number;
}

/** Output positions per register block for C channels (≤ 12 accumulators + C + 1 registers). */
function positionsPerBlock(c: number): number {
  return Math.max(1, Math.floor(12 / c));
}

/** `conv(x, k, out, m)`: byte addresses and the number of images. */
function convFunction(s: Shape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [inp, kt, out, m] = [0, 1, 2, 3];
  const P = positionsPerBlock(s.c), C = s.c, vecs = s.cin / 4, cinBytes = s.cin * 4;
  const [e, y, x, i, j, i0, i1, j0, j1, t] = Array.from({ length: 10 }, () => f.local(I32));
  const [outRow, inRow, kRow, oPos, ohL, owL, xaL, blockEndL] = Array.from(
    { length: 8 },
    () => f.local(I32),
  );
  const acc = Array.from({ length: P * C }, () => f.local(V128));
  const kv = Array.from({ length: C }, () => f.local(V128));
  const v = f.local(V128);
  const xa = Math.min(s.pl, s.ow);
  const xb = Math.max(xa, Math.min(s.ow, s.w - s.kw + s.pl + 1));
  const blockEnd = xa + Math.floor((xb - xa) / P) * P;

  /** dst ← max(0, value). */
  const clampLow = (dst: number, value: () => void) => {
    value();
    f.set(t).get(t).i32(0).get(t).i32(0).op(Op.i32GtS).op(Op.select).set(dst);
  };
  /** dst ← min(limit, max(0, value)) (an empty range stays empty for unsigned loops). */
  const clampHigh = (dst: number, value: () => void, limit: number) => {
    clampLow(dst, value);
    f.get(dst).i32(limit).get(dst).i32(limit).op(Op.i32LtS).op(Op.select).set(dst);
  };
  const zero = (n: number) => {
    for (let a = 0; a < n; a++) f.v128Zero().set(acc[a]);
  };
  /** Stores the lane sums of acc[a] at oPos + offset. */
  const storeSum = (a: number, offset: number) => {
    f.get(oPos).get(acc[a]).simd(SimdOp.f32x4ExtractLane, 0);
    for (let lane = 1; lane < 4; lane++) {
      f.get(acc[a]).simd(SimdOp.f32x4ExtractLane, lane).op(Op.f32Add);
    }
    f.mem(Op.f32Store, 2, offset);
  };
  /** inRow ← x + ((y + i − pt)·W + x − pl + jLocal?)·cin·4 */
  const inputRow = (withJ: boolean) => {
    f.get(y).get(i).op(Op.i32Add).i32(s.pt).op(Op.i32Sub).i32(s.w).op(Op.i32Mul);
    f.get(x).op(Op.i32Add).i32(s.pl).op(Op.i32Sub);
    if (withJ) f.get(j).op(Op.i32Add);
    f.i32(cinBytes).op(Op.i32Mul).get(inp).op(Op.i32Add).set(inRow);
  };

  const block = () => {
    zero(P * C);
    f.get(i0).set(i);
    f.forLoop(i, i1, 1, () => {
      inputRow(false);
      f.get(i).i32(s.kw * C * cinBytes).op(Op.i32Mul).get(kt).op(Op.i32Add).set(kRow);
      for (let jj = 0; jj < s.kw; jj++) {
        for (let ov = 0; ov < vecs; ov++) {
          for (let c = 0; c < C; c++) {
            f.get(kRow).v128Load(((jj * C + c) * s.cin + ov * 4) * 4).set(kv[c]);
          }
          for (let p = 0; p < P; p++) {
            f.get(inRow).v128Load(((p + jj) * s.cin + ov * 4) * 4).set(v);
            for (let c = 0; c < C; c++) {
              const a = acc[p * C + c];
              f.get(a).get(v).get(kv[c]).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(a);
            }
          }
        }
      }
    });
    f.get(x).i32(C * 4).op(Op.i32Mul).get(outRow).op(Op.i32Add).set(oPos);
    for (let p = 0; p < P; p++) {
      for (let c = 0; c < C; c++) storeSum(p * C + c, (p * C + c) * 4);
    }
  };

  const single = () => {
    zero(C);
    clampLow(j0, () => f.i32(s.pl).get(x).op(Op.i32Sub));
    clampHigh(j1, () => f.i32(s.w + s.pl).get(x).op(Op.i32Sub), s.kw);
    f.get(i0).set(i);
    f.forLoop(i, i1, 1, () => {
      f.get(j0).set(j);
      f.forLoop(j, j1, 1, () => {
        inputRow(true);
        f.get(i).i32(s.kw).op(Op.i32Mul).get(j).op(Op.i32Add).i32(C * cinBytes).op(Op.i32Mul);
        f.get(kt).op(Op.i32Add).set(kRow);
        for (let ov = 0; ov < vecs; ov++) {
          f.get(inRow).v128Load(ov * 16).set(v);
          for (let c = 0; c < C; c++) {
            f.get(acc[c]).get(v).get(kRow).v128Load((c * s.cin + ov * 4) * 4);
            f.simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(acc[c]);
          }
        }
      });
    });
    f.get(x).i32(C * 4).op(Op.i32Mul).get(outRow).op(Op.i32Add).set(oPos);
    for (let c = 0; c < C; c++) storeSum(c, c * 4);
  };

  f.i32(s.oh).set(ohL).i32(s.ow).set(owL).i32(xa).set(xaL).i32(blockEnd).set(blockEndL);
  f.get(out).set(outRow).i32(0).set(e);
  f.forLoop(e, m, 1, () => {
    f.i32(0).set(y);
    f.forLoop(y, ohL, 1, () => {
      clampLow(i0, () => f.i32(s.pt).get(y).op(Op.i32Sub));
      clampHigh(i1, () => f.i32(s.h + s.pt).get(y).op(Op.i32Sub), s.kh);
      f.i32(0).set(x);
      f.forLoop(x, xaL, 1, single);
      f.forLoop(x, blockEndL, P, block);
      f.forLoop(x, owL, 1, single);
      f.get(outRow).i32(s.ow * C * 4).op(Op.i32Add).set(outRow);
    });
    f.get(inp).i32(s.h * s.w * cinBytes).op(Op.i32Add).set(inp);
  });
  return f;
}

function convFewOutputs(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, k } = args.inputs as { x: tf.TensorInfo; k: tf.TensorInfo };
  const [pt, pb, pl, pr] = (args.attrs?.pad ?? [0, 0, 0, 0]) as number[];
  const [m, h, w, cin] = x.shape;
  const [kh, kw, c, kin] = k.shape;
  const oh = h + pt + pb - kh + 1, ow = w + pl + pr - kw + 1;
  if (
    x.dtype !== "float32" || k.dtype !== "float32" || x.shape.length !== 4 ||
    k.shape.length !== 4 || kin !== cin || !convFewOutputsApplies(cin, c) || oh < 1 || ow < 1 ||
    [pt, pb, pl, pr].some((p) => !Number.isInteger(p) || p < 0)
  ) {
    throw new RangeError(
      `${CONV_FEW_OUTPUTS}: x [${x.shape}] (${x.dtype}), k [${k.shape}] (${k.dtype}), pad [${[
        pt,
        pb,
        pl,
        pr,
      ]}]: expected float32 x [m, h, w, cin] and k [kh, kw, c ≤ ${MAX_FEW_OUTPUTS}, cin] with cin a multiple of 4 up to ${MAX_FEW_OUTPUTS_INPUTS} and padding ≥ 0 leaving an output`,
    );
  }
  const s: Shape = { h, w, cin, c, kh, kw, pt, pl, oh, ow };
  const out = backend.makeOutput([m, oh, ow, c], "float32");
  const memory = heapMemory(backend);
  if (memory === null) throw new Error(`${CONV_FEW_OUTPUTS}: the wasm heap was not found`);
  // views after the allocation (an allocation may move the heap)
  const xs = backend.typedArrayFromHeap(x), ks = backend.typedArrayFromHeap(k);
  const os = backend.typedArrayFromHeap(out);
  const macs = m * oh * ow * c * kh * kw * cin;
  const parts = heapRanges(backend, m, macs >= MIN_SPLIT_MACS).map(([start, count]) => [
    xs.byteOffset + start * h * w * cin * 4,
    ks.byteOffset,
    os.byteOffset + start * oh * ow * c * 4,
    count,
  ]);
  const key = `conv few outputs ${Object.values(s).join("x")}`;
  heapRun(backend, key, () => ({ conv: convFunction(s) }), "conv", parts);
  return out;
}

/** Whether the kernel takes cin input and c output channels (and is switched on). */
export function convFewOutputsApplies(cin: number, c: number): boolean {
  return wasmConvFewOutputs.enabled && c >= 1 && c <= MAX_FEW_OUTPUTS && cin % 4 === 0 &&
    cin >= 4 && cin <= MAX_FEW_OUTPUTS_INPUTS;
}

/**
 * Registers {@linkcode CONV_FEW_OUTPUTS} on the active backend once when it is a tfjs-wasm one;
 * true when the kernel can run now for cin input and c output channels.
 *
 * @param cin Input channels.
 * @param c Output channels.
 * @returns Whether to call the kernel.
 */
export function convFewOutputsReady(cin: number, c: number): boolean {
  return convFewOutputsApplies(cin, c) &&
    registerOnActiveWasm([[CONV_FEW_OUTPUTS, convFewOutputs]]);
}
