/**
 * A direct convolution (any kernel size and stride, NHWC, HWIO filters) as one generated
 * WebAssembly SIMD kernel on tfjs-wasm's heap: the output pixels in blocks, each block's
 * receptive fields copied into rows of the thread's scratch (im2col, zero outside the image),
 * multiplied by the filter `[kh·kw·cin, cout]` with the products of the fused Winograd kernel
 * ({@linkcode gemmFunction}: 4 × 8 register blocks, relaxed SIMD's multiply-add where the engine
 * validates it, 1.45–1.82× XNNPACK's rate a thread), then bias and ReLU as the block is written
 * out. Every output sums its `kh·kw·cin` products in the same order whatever its position, so
 * equal receptive fields give equal outputs (exact max-pool ties, unlike Winograd's tiles).
 *
 * XNNPACK (tfjs-wasm's own conv) has no multiply-add and, where the filter changes at every call
 * (training), packs it again each time; a first layer of 3 input channels runs there at 2–4 G
 * multiply-adds/s on two threads. Pixels are split between the calling thread and the heap's
 * helper threads (each output computed by one thread: the same bits whatever the split).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, relaxedSimd, SimdOp } from "../../util/_wasm_emitter.ts";
import {
  free,
  heapRanges,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";
import { gemmFunction } from "./_wasm_winograd.ts";

/**
 * Switches and counters: `enabled` (else the caller runs tfjs-wasm's kernel), `fma` (relaxed
 * SIMD's multiply-add where validated), `blockBytes` (the most bytes of a block's im2col rows:
 * they stay in the cache while the products pass over them once per 8 output channels),
 * `rowCopies` (where `cin` is not a multiple of 4, a receptive field's row wholly inside the
 * image copied at once in vectors rather than tap by tap in scalars: a first layer's im2col),
 * `runs` (convs run: tests check that a path took the kernel).
 */
export const wasmConvGemm: {
  enabled: boolean;
  fma: boolean;
  blockBytes: number;
  rowCopies: boolean;
  runs: number;
} = { enabled: true, fma: true, blockBytes: 96 << 10, rowCopies: true, runs: 0 };

/** The geometry of one conv (padding before the first row and column; output size). */
export interface ConvGemmShape {
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly pt: number;
  readonly pl: number;
  readonly oh: number;
  readonly ow: number;
}

/** Pixels below which the conv runs on the calling thread alone. */
const MIN_SPLIT_PIXELS = 64;
/** Register block rows of the products ({@linkcode gemmFunction}). */
const ROWS = 4;
const F32X4_MAX = 0xe9;

/** Whether the kernel takes a conv of this shape (and is switched on). */
export function convGemmApplies(s: ConvGemmShape): boolean {
  return wasmConvGemm.enabled && s.cout % 4 === 0 && (s.cin % 4 === 0 || s.cin <= 8) &&
    s.kh * s.kw <= 49 && s.oh > 0 && s.ow > 0;
}

/** The depth of the products: `kh·kw·cin` rounded up to a multiple of 4. */
function depthOf(s: ConvGemmShape): number {
  return Math.ceil((s.kh * s.kw * s.cin) / 4) * 4;
}

/**
 * `im2col(x, a, p0, p1)`: the receptive fields of output pixels `p0 ≤ p < p1` (counted over all
 * images, row-major) as rows of `depth` floats at `a` (zero outside the image and past
 * `kh·kw·cin`).
 */
function im2colFunction(s: ConvGemmShape, rowCopies: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [x, a, p0, p1] = [0, 1, 2, 3];
  const [p, oy, ox, iy0, ix0, img, rowOk, src, dst, q] = Array.from(
    { length: 10 },
    () => f.local(I32),
  );
  const depth = depthOf(s), cinBytes = s.cin * 4, rowBytes = s.w * cinBytes;
  const imageBytes = s.h * rowBytes;
  // the first pixel's image, row and column
  f.get(p0).i32(s.oh * s.ow).op(Op.i32DivU).set(img);
  f.get(p0).get(img).i32(s.oh * s.ow).op(Op.i32Mul).op(Op.i32Sub).set(q);
  f.get(q).i32(s.ow).op(Op.i32DivU).set(oy);
  f.get(q).get(oy).i32(s.ow).op(Op.i32Mul).op(Op.i32Sub).set(ox);
  f.get(oy).i32(s.sh).op(Op.i32Mul).i32(s.pt).op(Op.i32Sub).set(iy0);
  f.get(ox).i32(s.sw).op(Op.i32Mul).i32(s.pl).op(Op.i32Sub).set(ix0);
  f.get(x).get(img).i32(imageBytes).op(Op.i32Mul).op(Op.i32Add).set(img); // img: its address
  f.get(a).set(dst);
  const copy = (at: number) => {
    // cin floats from src to dst + at
    if (s.cin % 4 === 0) {
      for (let c = 0; c < cinBytes; c += 16) {
        f.get(dst).get(src).v128Load(c).v128Store(at + c);
      }
    } else {
      for (let c = 0; c < cinBytes; c += 4) {
        f.get(dst).get(src).mem(Op.i32Load, 2, c).mem(Op.i32Store, 2, at + c);
      }
    }
  };
  const zero = (at: number, bytes: number) => {
    let c = 0;
    for (; c + 16 <= bytes; c += 16) f.get(dst).v128Zero().v128Store(at + c);
    for (; c < bytes; c += 4) f.get(dst).i32(0).mem(Op.i32Store, 2, at + c);
  };
  // a kernel row's kw·cin floats lie contiguous in x: where the row is wholly inside the image
  // (most pixels), one copy of them in vectors (cin not a multiple of 4: per tap, cin scalars)
  const rowCopy = rowCopies && s.cin % 4 !== 0 && s.kw <= s.w;
  const rowBytesOut = s.kw * cinBytes;
  f.get(p0).set(p);
  f.forLoop(p, p1, 1, () => {
    for (let i = 0; i < s.kh; i++) {
      // rowOk = (unsigned) (iy0 + i) < h; src row = img + (iy0 + i)·rowBytes
      f.get(iy0).i32(i).op(Op.i32Add).i32(s.h).op(Op.i32LtU).set(rowOk);
      if (rowCopy) {
        // inside: rowOk and 0 ≤ ix0 ≤ w − kw (one unsigned comparison)
        f.get(rowOk).get(ix0).i32(s.w - s.kw + 1).op(Op.i32LtU).op(Op.i32And);
        f.op(Op.if, 0x40);
        f.get(img).get(iy0).i32(i).op(Op.i32Add).i32(rowBytes).op(Op.i32Mul).op(Op.i32Add);
        f.get(ix0).i32(cinBytes).op(Op.i32Mul).op(Op.i32Add).set(src);
        const at = i * rowBytesOut;
        let c = 0;
        for (; c + 16 <= rowBytesOut; c += 16) f.get(dst).get(src).v128Load(c).v128Store(at + c);
        for (; c < rowBytesOut; c += 4) {
          f.get(dst).get(src).mem(Op.i32Load, 2, c).mem(Op.i32Store, 2, at + c);
        }
        f.op(Op.else);
      }
      for (let j = 0; j < s.kw; j++) {
        const at = (i * s.kw + j) * cinBytes;
        f.get(rowOk).get(ix0).i32(j).op(Op.i32Add).i32(s.w).op(Op.i32LtU).op(Op.i32And);
        f.op(Op.if, 0x40);
        f.get(img).get(iy0).i32(i).op(Op.i32Add).i32(rowBytes).op(Op.i32Mul).op(Op.i32Add);
        f.get(ix0).i32(j).op(Op.i32Add).i32(cinBytes).op(Op.i32Mul).op(Op.i32Add).set(src);
        copy(at);
        f.op(Op.else);
        zero(at, cinBytes);
        f.op(Op.end);
      }
      if (rowCopy) f.op(Op.end);
    }
    const k = s.kh * s.kw * cinBytes;
    zero(k, depth * 4 - k);
    f.get(dst).i32(depth * 4).op(Op.i32Add).set(dst);
    // the next pixel: column, then row, then image
    f.get(ox).i32(1).op(Op.i32Add).set(ox);
    f.get(ix0).i32(s.sw).op(Op.i32Add).set(ix0);
    f.get(ox).i32(s.ow).op(Op.i32Eq, Op.if, 0x40);
    f.i32(0).set(ox).i32(-s.pl).set(ix0);
    f.get(oy).i32(1).op(Op.i32Add).set(oy);
    f.get(iy0).i32(s.sh).op(Op.i32Add).set(iy0);
    f.get(oy).i32(s.oh).op(Op.i32Eq, Op.if, 0x40);
    f.i32(0).set(oy).i32(-s.pt).set(iy0);
    f.get(img).i32(imageBytes).op(Op.i32Add).set(img);
    f.op(Op.end, Op.end);
  });
  return f;
}

/**
 * `epilogue(c, out, b, p0, p1)`: output pixels `p0 ≤ p < p1` from the block's products at `c`
 * (a row each), plus the bias at `b` (when `bias`), through ReLU (when `relu`).
 */
function epilogueFunction(cout: number, bias: boolean, relu: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [c, out, b, p0, p1] = [0, 1, 2, 3, 4];
  const [pc, po, end, co, coEnd] = Array.from({ length: 5 }, () => f.local(I32));
  const coutBytes = cout * 4;
  f.get(c).set(pc);
  f.get(out).get(p0).i32(coutBytes).op(Op.i32Mul).op(Op.i32Add).set(po);
  f.get(out).get(p1).i32(coutBytes).op(Op.i32Mul).op(Op.i32Add).set(end);
  f.forLoop(po, end, coutBytes, () => {
    f.i32(0).set(co).i32(coutBytes).set(coEnd);
    f.forLoop(co, coEnd, 16, () => {
      f.get(po).get(co).op(Op.i32Add);
      f.get(pc).get(co).op(Op.i32Add).v128Load(0);
      if (bias) f.get(b).get(co).op(Op.i32Add).v128Load(0).simd(SimdOp.f32x4Add);
      if (relu) f.v128Zero().simd(F32X4_MAX);
      f.v128Store(0);
    });
    f.get(pc).i32(coutBytes).op(Op.i32Add).set(pc);
  });
  return f;
}

/** Function indices of the module (the order of {@linkcode convModule}'s keys). */
const IM2COL = 0, GEMM = 1, EPILOGUE = 2;

/**
 * `conv(x, k, out, b, p0, p1, scratch)`: output pixels `p0 ≤ p < p1` in blocks of `block`:
 * im2col into the scratch, the products into the scratch after it, the epilogue into `out`.
 */
function convModule(
  s: ConvGemmShape,
  block: number,
  bias: boolean,
  relu: boolean,
  fma: boolean,
  rowCopies: boolean,
): Record<string, FunctionBuilder> {
  const depth = depthOf(s);
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [x, k, out, b, p0, p1, scratch] = [0, 1, 2, 3, 4, 5, 6];
  const [p, end, products] = [f.local(I32), f.local(I32), f.local(I32)];
  f.get(scratch).i32(block * depth * 4).op(Op.i32Add).set(products);
  f.get(p0).set(p);
  f.forLoop(p, p1, block, () => {
    f.setBlockEnd(end, p, block, p1);
    f.get(x).get(scratch).get(p).get(end).op(Op.call, IM2COL);
    f.get(scratch).get(k).get(products);
    // the block's rows, rounded up to a multiple of ROWS (the rows past them never read)
    f.get(end).get(p).op(Op.i32Sub).i32(ROWS - 1).op(Op.i32Add);
    f.i32(ROWS).op(Op.i32DivU).i32(ROWS).op(Op.i32Mul);
    f.op(Op.call, GEMM);
    f.get(products).get(out).get(b).get(p).get(end).op(Op.call, EPILOGUE);
  });
  return {
    im2col: im2colFunction(s, rowCopies),
    gemm: gemmFunction(depth, s.cout, { fma }),
    epilogue: epilogueFunction(s.cout, bias, relu),
    conv: f,
  };
}

/**
 * Runs the conv `x` `[n, h, w, cin]` ⊛ `filter` `[kh, kw, cin, cout]` (+ `bias` `[cout]`, then
 * ReLU where `relu`) into a new output `[n, oh, ow, cout]` on tfjs-wasm's heap, or returns null
 * where {@linkcode convGemmApplies} says no or the heap is not found (the caller then runs
 * tfjs-wasm's kernel).
 *
 * @param backend The tfjs-wasm backend.
 * @param x The input, float32 NHWC.
 * @param filter The filter, float32 HWIO.
 * @param bias The bias, or undefined.
 * @param s The geometry.
 * @param relu Whether a ReLU follows.
 * @returns The output, or null.
 */
export function convGemm(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  s: ConvGemmShape,
  relu: boolean,
): tf.TensorInfo | null {
  if (!convGemmApplies(s)) return null;
  const n = x.shape[0], pixels = n * s.oh * s.ow;
  const depth = depthOf(s), k = s.kh * s.kw * s.cin;
  const ranges = heapRanges(backend, pixels, pixels >= MIN_SPLIT_PIXELS);
  const part = Math.max(...ranges.map(([, c]) => c));
  const most = Math.max(1, Math.floor(wasmConvGemm.blockBytes / (depth * 4) / ROWS)) * ROWS;
  const block = Math.min(Math.ceil(part / ROWS) * ROWS, most);
  const fma = wasmConvGemm.fma && relaxedSimd();
  const { rowCopies } = wasmConvGemm;
  const key = `conv gemm ${block} ${fma} ${relu} ${bias !== undefined} ${rowCopies} ${
    Object.values(s).join("x")
  }`;
  const scratchBytes = block * (depth + s.cout) * 4;
  const out = backend.makeOutput([n, s.oh, s.ow, s.cout], "float32");
  const temps: tf.TensorInfo[] = [];
  try {
    const scratch = backend.makeOutput([(ranges.length * scratchBytes) / 4], "float32");
    temps.push(scratch);
    let padded: tf.TensorInfo | null = null;
    if (depth !== k) {
      // the filter's rows past kh·kw·cin: zeros (the im2col rows' zeros meet them)
      padded = backend.makeOutput([depth * s.cout], "float32");
      temps.push(padded);
      const dst = backend.typedArrayFromHeap(padded) as Float32Array;
      dst.set(backend.typedArrayFromHeap(filter) as Float32Array);
      dst.fill(0, k * s.cout);
    }
    const address = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
    const at = [
      address(x),
      address(padded ?? filter),
      address(out),
      bias === undefined ? 0 : address(bias),
    ];
    const sAt = address(scratch);
    const ran = heapRun(
      backend,
      key,
      () => convModule(s, block, bias !== undefined, relu, fma, rowCopies),
      "conv",
      ranges.map(([p0, c], i) => [...at, p0, p0 + c, sAt + i * scratchBytes]),
    );
    if (!ran) {
      free(backend, out);
      return null;
    }
  } catch (e) {
    free(backend, out);
    throw e;
  } finally {
    free(backend, ...temps);
  }
  wasmConvGemm.runs++;
  return out;
}

/** The kernel's name (the engine's passes call it on a tfjs-wasm backend). */
export const CONV_GEMM = "MasokitConvGemm";

/**
 * The kernel: inputs `x` `[n, h, w, cin]`, `filter` `[kh, kw, cin, cout]`, `bias` `[cout]`
 * (optional); attrs `strides` `[sh, sw]`, `pad` `[top, bottom, left, right]` (≥ 0), `relu`.
 * Output `[n, oh, ow, cout]`.
 */
function convGemmKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, filter, bias } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs ?? {};
  const [sh, sw] = attrs.strides as number[];
  const [pt, pb, pl, pr] = attrs.pad as number[];
  const [, h, w, cin] = x.shape;
  const [kh, kw, , cout] = filter.shape;
  const s: ConvGemmShape = {
    h,
    w,
    cin,
    cout,
    kh,
    kw,
    sh,
    sw,
    pt,
    pl,
    oh: Math.floor((h + pt + pb - kh) / sh) + 1,
    ow: Math.floor((w + pl + pr - kw) / sw) + 1,
  };
  const out = convGemm(backend, x, filter, bias, s, attrs.relu === true);
  if (out === null) {
    throw new Error(`${CONV_GEMM}: cannot run a conv of ${JSON.stringify(s)} (or no wasm heap)`);
  }
  return out;
}

/**
 * Whether the engine runs a conv by {@linkcode CONV_GEMM} (switched on, a shape it takes),
 * registering the kernel on the active backend once when it is a tfjs-wasm one.
 *
 * @param s The conv's geometry.
 * @returns Whether to call the kernel.
 */
export function convGemmReady(s: ConvGemmShape): boolean {
  return convGemmApplies(s) && registerOnActiveWasm([[CONV_GEMM, convGemmKernel]]);
}
