/**
 * The engine's passes through `conv (stride 1) → ReLU → disjoint max-pool` with the codes held
 * fixed, as three generated WebAssembly SIMD kernels on tfjs-wasm's heap that touch only the
 * positions the pool lets through.
 *
 * With its codes fixed a disjoint max-pool passes one position per window and channel (the
 * window's first maximum in the recorded input, and only where that maximum is positive when a
 * ReLU gates it), so of the conv's outputs only those are needed (masked pass), and only those
 * receive a gradient (transposed pass): 36 of 169 positions per channel for smallCNN's second
 * layer, fewer once the ReLU gates. The kernels find each window's maximum in the pool's
 * recorded input once per example (shared by the example's rows) and
 *
 * - {@link CONV_POOL_GATHER} (masked pass): computes the conv only there, as dot products over
 *   the valid taps;
 * - {@link POOL_CONV_TILES} (transposed pass of a conv with ≤ 4 input channels, a first layer):
 *   sums each window's contributions over all channels in registers, as a tile of the input
 *   around the window, from filter tiles precomputed for each window slot
 *   ({@link poolConvTiles}), and adds the tile once (clipped at the edges);
 * - {@link POOL_CONV_TRANSPOSE} (transposed pass): adds each row's gradient times the filter's
 *   slice K[i, j, :, o] to the conv input's gradient around that position, up to
 *   {@link MAX_GROUP} rows at a time sharing each loaded filter vector, and returns the rows'
 *   bias terms Σ g·b (the offsets B[x] of eq. 7) too — where {@link scatterPays} (else the
 *   engine's Winograd transpose of the whole conv is faster);
 *
 * both in float32x4 over each tap row's contiguous (kw, Cin) floats — the conv input in NHWC and
 * the filters laid out with (j, ci) innermost — with a scalar rest (the gather takes any Cin:
 * the first layer's 3 channels give rows of 9 floats, two vectors and one scalar for 3×3);
 *
 * so neither the dense conv output, nor the upsampled gradient, nor a dense transposed
 * convolution is formed. Examples are split between the calling thread and the heap's helper
 * threads (each example's rows on one thread: the same bits whatever the split).
 *
 * Shared inputs: `x` the pool's recorded input `[n, PH, PW, Co]` (the ReLU's output when
 * gated), `b` the conv's bias `[Co]`. Attrs: `poolSize`, `gate`, `inShape` `[H, W, Cin]` (the
 * conv's input), `pad` `[top, left]`, `kernelSize` `[kh, kw]` (required by the tile kernel), and
 * for the masked pass `bias` (add b).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { F32, FunctionBuilder, I32, Op, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import {
  heapMemory,
  heapRanges,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";

/**
 * The transposed pass: `{ x, g, k, b }` with `g` the pooled gradient `[n·per, OH, OW, Co]` and
 * `k` the conv kernel as `[kh, Co, kw, Cin]` → `[n·per, H, W, Cin]` and the bias terms
 * `[n·per]`.
 */
export const POOL_CONV_TRANSPOSE = "MasokitPoolConvTranspose";

/**
 * The masked pass: `{ x, v, k, b }` with `v` the conv's input `[n·per, H, W, Cin]` and `k` the
 * conv kernel as `[Co, kh, kw, Cin]` → the pool's output `[n·per, OH, OW, Co]`.
 */
export const CONV_POOL_GATHER = "MasokitConvPoolGather";

/**
 * The transposed pass of a conv with few input channels (a first layer, ≤ 4): `{ x, g, k, b }`
 * with `k` the filter as window tiles ({@link poolConvTiles}) → `[n·per, H, W, Cin]` and the bias
 * terms `[n·per]`. Attrs also `kernelSize`.
 */
export const POOL_CONV_TILES = "MasokitPoolConvTiles";

/** The most float32x4 registers a window tile may take (the tile kernel's accumulators). */
export const MAX_TILE_VECTORS = 12;

/** Rows (classes) that share each loaded filter vector in the transposed pass. */
export const MAX_GROUP = 10;
/** The most conv input channels (a tap's channels are unrolled in the generated code). */
export const MAX_CONV_POOL_INPUTS = 512;

/**
 * Switches for benchmarks and tests: each kernel at all, and whether the engine asks
 * {@link scatterPays} before scattering where a Winograd transpose is the other way
 * (`scatterRule`; false scatters wherever the kernel applies).
 */
export const wasmConvPool = { transpose: true, gather: true, tiles: true, scatterRule: true };

/** The most floats of a row of the conv's input for which {@link scatterPays} at any width. */
export const SCATTER_MAX_ROW = 16384;
/** The most input channels for which {@link scatterPays} up to {@link SCATTER_MAX_NARROW_ROW}. */
export const SCATTER_MAX_CHANNELS = 32;
/** The most floats of a row of a conv of ≤ {@link SCATTER_MAX_CHANNELS} input channels. */
export const SCATTER_MAX_NARROW_ROW = 65536;

/**
 * Whether {@link POOL_CONV_TRANSPOSE} is the faster way through a conv of input `[H, W, Cin]`
 * where the other way is the masked pool's transpose and then the conv's transpose by Winograd
 * (which computes every position, but in a quarter of the multiply-adds, as products that keep
 * their sums in registers). The scatter reads, adds to and writes back the `kh × kw × Cin`
 * neighbourhoods of up to {@link MAX_GROUP} rows around each passed position, so it holds its
 * ground only while those rows stay in the caches:
 * - never where rows are a multiple of 4 KiB apart (`H·W·Cin` a multiple of 1024 floats): the
 *   rows' neighbourhoods then fall into the same L1 cache sets;
 * - rows of at most {@link SCATTER_MAX_ROW} floats (ten rows: 640 KiB), or of at most
 *   {@link SCATTER_MAX_NARROW_ROW} for convs of at most {@link SCATTER_MAX_CHANNELS} input
 *   channels (smaller neighbourhoods).
 *
 * Measured on the 2-core CI machine (`bench/pooled_transpose_bench.ts`, bench/RESULTS.md,
 * nineteenth session), the scatter's time over Winograd's: 4.1 on `[32, 32, 32]` and 6.3 on
 * `[16, 16, 96]` (aligned rows), 1.7 on largeCNN's `[18, 18, 192]`, 1.4 on its third conv;
 * 0.62–0.84 on `[45, 45, 16]`, `[31, 31, 32]`, smallCNN's `[15, 15, 32]`, `[9, 9, 192]`.
 *
 * @param inShape The conv's input shape `[H, W, Cin]`.
 * @returns Whether to scatter.
 */
export function scatterPays(inShape: readonly number[]): boolean {
  const cin = inShape[inShape.length - 1];
  const rowFloats = inShape.reduce((a, b) => a * b, 1);
  return rowFloats % 1024 !== 0 &&
    (rowFloats <= SCATTER_MAX_ROW ||
      (cin <= SCATTER_MAX_CHANNELS && rowFloats <= SCATTER_MAX_NARROW_ROW));
}

interface Shape {
  ph: number;
  pw: number;
  PH: number;
  PW: number;
  OH: number;
  OW: number;
  co: number;
  kh: number;
  kw: number;
  H: number;
  W: number;
  cin: number;
  pt: number;
  pl: number;
  per: number;
  gate: boolean;
  bias: boolean;
}

/** The locals both kernels' window sweep uses. */
interface Sweep {
  oy: number;
  ox: number;
  o: number;
  y: number;
  x: number;
  t: number;
  p: number;
  winX: number;
  best: number;
  val: number;
  i0: number;
  i1: number;
  j0: number;
  j1: number;
}

function sweepLocals(f: FunctionBuilder): Sweep {
  const l = () => f.local(I32);
  return {
    oy: l(),
    ox: l(),
    o: l(),
    y: l(),
    x: l(),
    t: l(),
    p: l(),
    winX: l(),
    best: f.local(F32),
    val: f.local(F32),
    i0: l(),
    i1: l(),
    j0: l(),
    j1: l(),
  };
}

/**
 * For every window (oy, ox) and channel o of the example whose pool input starts at local
 * `xp`: its first maximum `best` at conv output position (y, x) and the valid taps
 * [i0, i1) × [j0, j1) of the conv there; then `pass()`, or `gatedOff()` where a gating ReLU
 * lets nothing through (maximum not positive).
 */
function sweepWindows(
  f: FunctionBuilder,
  s: Shape,
  L: Sweep,
  xp: number,
  pass: () => void,
  gatedOff: () => void,
): void {
  const clamp = (dst: number, value: () => void, limit: number) => {
    value(); // dst ← min(limit, max(0, value))
    f.set(L.t).get(L.t).i32(0).get(L.t).i32(0).op(Op.i32GtS).op(Op.select).set(dst);
    f.get(dst).i32(limit).get(dst).i32(limit).op(Op.i32LtS).op(Op.select).set(dst);
  };
  const OHl = f.local(I32), OWl = f.local(I32), COl = f.local(I32);
  f.i32(s.OH).set(OHl).i32(s.OW).set(OWl).i32(s.co).set(COl);
  f.i32(0).set(L.oy);
  f.forLoop(L.oy, OHl, 1, () => {
    f.i32(0).set(L.ox);
    f.forLoop(L.ox, OWl, 1, () => {
      // the window's top-left element, channel 0
      f.get(L.oy).i32(s.ph * s.PW).op(Op.i32Mul).get(L.ox).i32(s.pw).op(Op.i32Mul);
      f.op(Op.i32Add).i32(s.co * 4).op(Op.i32Mul).get(xp).op(Op.i32Add).set(L.winX);
      f.i32(0).set(L.o);
      f.forLoop(L.o, COl, 1, () => {
        f.get(L.winX).get(L.o).i32(4).op(Op.i32Mul).op(Op.i32Add).set(L.p);
        f.get(L.p).mem(Op.f32Load, 2, 0).set(L.best).i32(0).set(L.y).i32(0).set(L.x);
        for (let a = 0; a < s.ph; a++) {
          for (let c = 0; c < s.pw; c++) {
            if (a === 0 && c === 0) continue;
            // strictly greater: the first maximum in row-major window order wins ties
            f.get(L.p).mem(Op.f32Load, 2, ((a * s.PW + c) * s.co) * 4).set(L.val);
            f.get(L.val).get(L.best).op(Op.f32Gt).set(L.t);
            f.get(L.val).get(L.best).get(L.t).op(Op.select).set(L.best);
            f.i32(a).get(L.y).get(L.t).op(Op.select).set(L.y);
            f.i32(c).get(L.x).get(L.t).op(Op.select).set(L.x);
          }
        }
        const taps = () => {
          f.get(L.oy).i32(s.ph).op(Op.i32Mul).get(L.y).op(Op.i32Add).set(L.y);
          f.get(L.ox).i32(s.pw).op(Op.i32Mul).get(L.x).op(Op.i32Add).set(L.x);
          clamp(L.i0, () => f.i32(s.pt).get(L.y).op(Op.i32Sub), s.kh);
          clamp(L.i1, () => f.i32(s.H + s.pt).get(L.y).op(Op.i32Sub), s.kh);
          clamp(L.j0, () => f.i32(s.pl).get(L.x).op(Op.i32Sub), s.kw);
          clamp(L.j1, () => f.i32(s.W + s.pl).get(L.x).op(Op.i32Sub), s.kw);
          pass();
        };
        if (s.gate) {
          f.get(L.best).op(Op.f32Const, 0, 0, 0, 0).op(Op.f32Gt).op(Op.if, 0x40);
          taps();
          f.op(Op.else);
          gatedOff();
          f.op(Op.end);
        } else taps();
      });
    });
  });
}

/** Pushes the address of the conv input at tap (i, j) of position (y, x), from `base`. */
function inputAt(f: FunctionBuilder, s: Shape, L: Sweep, i: number, j: number, base: number) {
  f.get(L.y).get(i).op(Op.i32Add).i32(s.pt).op(Op.i32Sub).i32(s.W).op(Op.i32Mul);
  f.get(L.x).op(Op.i32Add).get(j).op(Op.i32Add).i32(s.pl).op(Op.i32Sub);
  f.i32(s.cin * 4).op(Op.i32Mul).get(base).op(Op.i32Add);
}

/** The longest run (floats) of a whole tap row that is unrolled; longer rows go tap by tap. */
const MAX_ROW_RUN = 256;

/**
 * Emits the work over a run of `floats` contiguous floats at byte offset 0 of both the filter
 * and the conv input/gradient: `vector(off)` for each float32x4, `scalar(off)` for the rest.
 */
function run4(floats: number, vector: (off: number) => void, scalar: (off: number) => void) {
  const whole = Math.floor(floats / 4);
  for (let v = 0; v < whole; v++) vector(v * 16);
  for (let t = whole * 4; t < floats; t++) scalar(t * 4);
}

/**
 * For each valid tap row i ∈ [i0, i1): `kAt` ← `filterRow()` (the filter at (i, j0)) and `dAt`
 * ← the conv input at (i, j0), then the row's taps [j0, j1) — contiguous `(j1 − j0)·Cin` floats
 * in both, as the filter layouts put (j, ci) innermost: as one unrolled run when the whole row
 * is valid and short enough, else tap by tap (`Cin` floats each).
 */
function tapRows(
  f: FunctionBuilder,
  s: Shape,
  L: Sweep,
  locals: { i: number; j: number; kAt: number; dAt: number; base: number },
  filterRow: () => void,
  work: (floats: number) => void,
): void {
  const { i, j, kAt, dAt, base } = locals;
  const full = s.kw * s.cin <= MAX_ROW_RUN;
  f.get(L.i0).set(i);
  f.forLoop(i, L.i1, 1, () => {
    filterRow();
    f.set(kAt);
    inputAt(f, s, L, i, L.j0, base);
    f.set(dAt);
    const byTap = () => {
      f.get(L.j0).set(j);
      f.forLoop(j, L.j1, 1, () => {
        work(s.cin);
        f.get(kAt).i32(s.cin * 4).op(Op.i32Add).set(kAt);
        f.get(dAt).i32(s.cin * 4).op(Op.i32Add).set(dAt);
      });
    };
    if (full) {
      // the whole row: j0 = 0 and j1 = kw
      f.get(L.j0).op(Op.i32Eqz).get(L.j1).i32(s.kw).op(Op.i32Eq).op(Op.i32And).op(Op.if, 0x40);
      work(s.kw * s.cin);
      f.op(Op.else);
      byTap();
      f.op(Op.end);
    } else byTap();
  });
}

/** `run(x, g, k, b, dx, bs, n)`: byte addresses of example 0 / row 0, n examples. */
function transposeFunction(s: Shape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [xp, gp, kp, bp, dxp, bsp, n] = [0, 1, 2, 3, 4, 5, 6];
  const L = sweepLocals(f);
  const e = f.local(I32), end = f.local(I32), i = f.local(I32), j = f.local(I32);
  const gAt = f.local(I32), kAt = f.local(I32), dAt = f.local(I32);
  const gv = f.local(F32), bo = f.local(F32);
  const splat = Array.from({ length: Math.min(MAX_GROUP, s.per) }, () => f.local(V128));
  const kv = f.local(V128), kf = f.local(F32);
  const rowBytes = s.H * s.W * s.cin * 4; // one row of dx
  const gRowBytes = s.OH * s.OW * s.co * 4;

  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    // zero this example's rows of dx and their bias terms
    const zeroBytes = s.per * rowBytes, whole = zeroBytes - (zeroBytes % 16);
    f.get(dxp).set(L.p).get(dxp).i32(whole).op(Op.i32Add).set(end);
    f.forLoop(L.p, end, 16, () => {
      f.get(L.p).v128Zero().v128Store(0);
    });
    for (let b = whole; b < zeroBytes; b += 4) {
      f.get(dxp).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, b); // never past the example
    }
    for (let r = 0; r < s.per; r++) {
      f.get(bsp).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, r * 4);
    }
    sweepWindows(f, s, L, xp, () => {
      // g[row 0, oy, ox, o] and b[o]
      f.get(L.oy).i32(s.OW).op(Op.i32Mul).get(L.ox).op(Op.i32Add).i32(s.co).op(Op.i32Mul);
      f.get(L.o).op(Op.i32Add).i32(4).op(Op.i32Mul).get(gp).op(Op.i32Add).set(gAt);
      f.get(bp).get(L.o).i32(4).op(Op.i32Mul).op(Op.i32Add).mem(Op.f32Load, 2, 0).set(bo);
      for (let r0 = 0; r0 < s.per; r0 += MAX_GROUP) {
        const rows = Math.min(MAX_GROUP, s.per - r0);
        for (let r = 0; r < rows; r++) {
          f.get(gAt).mem(Op.f32Load, 2, (r0 + r) * gRowBytes).set(gv);
          f.get(gv).simd(SimdOp.f32x4Splat).set(splat[r]);
          // the bias term
          f.get(bsp).get(bsp).mem(Op.f32Load, 2, (r0 + r) * 4).get(gv).get(bo);
          f.op(Op.f32Mul).op(Op.f32Add).mem(Op.f32Store, 2, (r0 + r) * 4);
        }
        tapRows(f, s, L, { i, j, kAt, dAt, base: dxp }, () => {
          // K[i, o, j0, :] (the filter as [kh, Co, kw, Cin])
          f.get(i).i32(s.co).op(Op.i32Mul).get(L.o).op(Op.i32Add).i32(s.kw).op(Op.i32Mul);
          f.get(L.j0).op(Op.i32Add).i32(s.cin * 4).op(Op.i32Mul).get(kp).op(Op.i32Add);
        }, (floats) =>
          run4(floats, (off) => {
            f.get(kAt).v128Load(off).set(kv);
            for (let r = 0; r < rows; r++) {
              const at = (r0 + r) * rowBytes + off;
              f.get(dAt).get(dAt).v128Load(at).get(splat[r]).get(kv);
              f.simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).v128Store(at);
            }
          }, (off) => {
            f.get(kAt).mem(Op.f32Load, 2, off).set(kf);
            for (let r = 0; r < rows; r++) {
              const at = (r0 + r) * rowBytes + off;
              f.get(dAt).get(dAt).mem(Op.f32Load, 2, at);
              f.get(splat[r]).simd(SimdOp.f32x4ExtractLane, 0).get(kf).op(Op.f32Mul);
              f.op(Op.f32Add).mem(Op.f32Store, 2, at);
            }
          }));
      }
    }, () => {});
    f.get(xp).i32(s.PH * s.PW * s.co * 4).op(Op.i32Add).set(xp);
    f.get(gp).i32(s.per * gRowBytes).op(Op.i32Add).set(gp);
    f.get(dxp).i32(s.per * rowBytes).op(Op.i32Add).set(dxp);
    f.get(bsp).i32(s.per * 4).op(Op.i32Add).set(bsp);
  });
  return f;
}

/** Accumulators per row in the masked pass: 4 independent sums in all (latency). */
function gatherLayout(per: number): { group: number; accs: number } {
  const group = Math.min(per, 4);
  return { group, accs: Math.max(1, Math.floor(4 / group)) };
}

/** `run(x, v, k, b, out, n)`: byte addresses of example 0 / row 0, n examples. */
function gatherFunction(s: Shape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [xp, vp, kp, bp, outp, n] = [0, 1, 2, 3, 4, 5];
  const L = sweepLocals(f);
  const e = f.local(I32), i = f.local(I32), j = f.local(I32);
  const kAt = f.local(I32), vAt = f.local(I32), oAt = f.local(I32);
  const { group, accs } = gatherLayout(s.per);
  const acc = Array.from({ length: group * accs }, () => f.local(V128));
  const tail = Array.from({ length: group }, () => f.local(F32)); // sums of the scalar rest
  const kv = f.local(V128), kf = f.local(F32);
  const rowBytes = s.H * s.W * s.cin * 4; // one row of v
  const outRowBytes = s.OH * s.OW * s.co * 4;

  const outAddress = () => {
    f.get(L.oy).i32(s.OW).op(Op.i32Mul).get(L.ox).op(Op.i32Add).i32(s.co).op(Op.i32Mul);
    f.get(L.o).op(Op.i32Add).i32(4).op(Op.i32Mul).get(outp).op(Op.i32Add).set(oAt);
  };
  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    sweepWindows(f, s, L, xp, () => {
      outAddress();
      for (let r0 = 0; r0 < s.per; r0 += group) {
        const rows = Math.min(group, s.per - r0);
        for (let a = 0; a < rows * accs; a++) f.v128Zero().set(acc[a]);
        for (let r = 0; r < rows; r++) f.op(Op.f32Const, 0, 0, 0, 0).set(tail[r]);
        let vector = 0; // which of a row's accumulators the next float32x4 goes to
        tapRows(f, s, L, { i, j, kAt, dAt: vAt, base: vp }, () => {
          // K[o, i, j0, :] (the filter as [Co, kh, kw, Cin])
          f.get(L.o).i32(s.kh).op(Op.i32Mul).get(i).op(Op.i32Add).i32(s.kw).op(Op.i32Mul);
          f.get(L.j0).op(Op.i32Add).i32(s.cin * 4).op(Op.i32Mul).get(kp).op(Op.i32Add);
        }, (floats) =>
          run4(floats, (off) => {
            f.get(kAt).v128Load(off).set(kv);
            for (let r = 0; r < rows; r++) {
              const a = acc[r * accs + (vector % accs)];
              f.get(a).get(vAt).v128Load((r0 + r) * rowBytes + off).get(kv);
              f.simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(a);
            }
            vector++;
          }, (off) => {
            f.get(kAt).mem(Op.f32Load, 2, off).set(kf);
            for (let r = 0; r < rows; r++) {
              f.get(tail[r]).get(vAt).mem(Op.f32Load, 2, (r0 + r) * rowBytes + off).get(kf);
              f.op(Op.f32Mul).op(Op.f32Add).set(tail[r]);
            }
          }));
        for (let r = 0; r < rows; r++) {
          const first = acc[r * accs];
          for (let a = 1; a < accs; a++) {
            f.get(first).get(acc[r * accs + a]).simd(SimdOp.f32x4Add).set(first);
          }
          f.get(oAt).get(first).simd(SimdOp.f32x4ExtractLane, 0);
          for (let lane = 1; lane < 4; lane++) {
            f.get(first).simd(SimdOp.f32x4ExtractLane, lane).op(Op.f32Add);
          }
          f.get(tail[r]).op(Op.f32Add);
          if (s.bias) {
            f.get(bp).get(L.o).i32(4).op(Op.i32Mul).op(Op.i32Add).mem(Op.f32Load, 2, 0);
            f.op(Op.f32Add);
          }
          f.mem(Op.f32Store, 2, (r0 + r) * outRowBytes);
        }
      }
    }, () => {
      outAddress();
      for (let r = 0; r < s.per; r++) {
        f.get(oAt).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, r * outRowBytes);
      }
    });
    f.get(xp).i32(s.PH * s.PW * s.co * 4).op(Op.i32Add).set(xp);
    f.get(vp).i32(s.per * rowBytes).op(Op.i32Add).set(vp);
    f.get(outp).i32(s.per * outRowBytes).op(Op.i32Add).set(outp);
  });
  return f;
}

/** A window tile: rows, floats per row (kw + pw − 1 pixels × Cin), padded to whole vectors. */
function tileOf(
  [ph, pw]: readonly [number, number],
  [kh, kw]: readonly [number, number],
  cin: number,
): { rows: number; floats: number; padded: number; vectors: number } {
  const rows = ph + kh - 1, floats = (pw + kw - 1) * cin, padded = Math.ceil(floats / 4) * 4;
  return { rows, floats, padded, vectors: (rows * padded) / 4 };
}

/**
 * The conv's filter as window tiles for {@link POOL_CONV_TILES}: for each output channel o and
 * window slot p = a·pw + c, the footprint of K[:, :, :, o] placed at (a, c) in a window's tile of
 * the conv input (`[ph + kh − 1] × [pw + kw − 1] × Cin`, rows padded to whole vectors), so that
 * a slot's gradient is added as whole float32x4 vectors at fixed offsets.
 *
 * @param kernel The conv kernel `[kh, kw, cin, co]`, row-major.
 * @param kernelSize `[kh, kw]`.
 * @param cin Input channels.
 * @param co Output channels.
 * @param poolSize `[ph, pw]` of the max-pool after it.
 * @returns `[co, ph·pw, rows, padded]` floats.
 */
export function poolConvTiles(
  kernel: ArrayLike<number>,
  [kh, kw]: readonly [number, number],
  cin: number,
  co: number,
  [ph, pw]: readonly [number, number],
): Float32Array {
  const t = tileOf([ph, pw], [kh, kw], cin), P = ph * pw, size = t.rows * t.padded;
  const out = new Float32Array(co * P * size);
  for (let o = 0; o < co; o++) {
    for (let a = 0; a < ph; a++) {
      for (let c = 0; c < pw; c++) {
        const base = (o * P + a * pw + c) * size;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            for (let ch = 0; ch < cin; ch++) {
              out[base + (a + i) * t.padded + (c + j) * cin + ch] =
                kernel[((i * kw + j) * cin + ch) * co + o];
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * `run(x, g, t, b, dx, bs, n, scratch)`: per example, each (window, channel)'s tile offset and
 * gate (into `scratch`, `[OH·OW·Co]` pairs of i32 and f32), then per row the window tiles summed
 * in registers over the channels and added to dx (zeroed first), clipped at the edges.
 */
function tilesFunction(s: Shape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [xp, gp, tp, bp, dxp, bsp, n, sp] = [0, 1, 2, 3, 4, 5, 6, 7];
  const L = sweepLocals(f);
  const e = f.local(I32), r = f.local(I32), perL = f.local(I32), end = f.local(I32);
  const wy = f.local(I32), wx = f.local(I32), OHl = f.local(I32), OWl = f.local(I32);
  const o = f.local(I32), COl = f.local(I32), wAt = f.local(I32), gAt = f.local(I32);
  const tAt = f.local(I32), yy = f.local(I32), xx = f.local(I32), at = f.local(I32);
  const dRow = f.local(I32), gRow = f.local(I32);
  const sv = f.local(F32), bsum = f.local(F32);
  const T = tileOf([s.ph, s.pw], [s.kh, s.kw], s.cin), P = s.ph * s.pw;
  const tileBytes = T.rows * T.padded * 4, pix = s.pw + s.kw - 1;
  const acc = Array.from({ length: T.vectors }, () => f.local(V128));
  const spl = f.local(V128);
  const rowBytes = s.H * s.W * s.cin * 4, gRowBytes = s.OH * s.OW * s.co * 4;
  /** Pushes the float at (tile row tr, float k) of the tile. */
  const lane = (tr: number, k: number) =>
    f.get(acc[tr * (T.padded / 4) + Math.floor(k / 4)]).simd(SimdOp.f32x4ExtractLane, k % 4);

  f.i32(s.OH).set(OHl).i32(s.OW).set(OWl).i32(s.co).set(COl).i32(s.per).set(perL);
  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    // each (window, channel): the byte offset of its slot's tile, and 1 or 0 (gated off)
    sweepWindows(f, s, L, xp, () => {
      f.get(L.oy).i32(s.OW).op(Op.i32Mul).get(L.ox).op(Op.i32Add).i32(s.co).op(Op.i32Mul);
      f.get(L.o).op(Op.i32Add).i32(8).op(Op.i32Mul).get(sp).op(Op.i32Add).set(at);
      f.get(at);
      f.get(L.o).i32(P).op(Op.i32Mul);
      f.get(L.y).get(L.oy).i32(s.ph).op(Op.i32Mul).op(Op.i32Sub).i32(s.pw).op(Op.i32Mul);
      f.op(Op.i32Add).get(L.x).get(L.ox).i32(s.pw).op(Op.i32Mul).op(Op.i32Sub).op(Op.i32Add);
      f.i32(tileBytes).op(Op.i32Mul).mem(Op.i32Store, 2, 0);
      f.get(at).op(Op.f32Const, 0x00, 0x00, 0x80, 0x3f).mem(Op.f32Store, 2, 4); // 1.0
    }, () => {
      f.get(L.oy).i32(s.OW).op(Op.i32Mul).get(L.ox).op(Op.i32Add).i32(s.co).op(Op.i32Mul);
      f.get(L.o).op(Op.i32Add).i32(8).op(Op.i32Mul).get(sp).op(Op.i32Add).set(at);
      f.get(at).i32(0).mem(Op.i32Store, 2, 0);
      f.get(at).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, 4);
    });
    f.get(dxp).set(dRow).get(gp).set(gRow).i32(0).set(r);
    f.forLoop(r, perL, 1, () => {
      // zero the row (never past it), then its windows
      const whole = rowBytes - (rowBytes % 16);
      f.get(dRow).set(at).get(dRow).i32(whole).op(Op.i32Add).set(end);
      f.forLoop(at, end, 16, () => f.get(at).v128Zero().v128Store(0));
      for (let b = whole; b < rowBytes; b += 4) {
        f.get(dRow).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, b);
      }
      f.op(Op.f32Const, 0, 0, 0, 0).set(bsum);
      f.i32(0).set(wy);
      f.forLoop(wy, OHl, 1, () => {
        f.i32(0).set(wx);
        f.forLoop(wx, OWl, 1, () => {
          for (const a of acc) f.v128Zero().set(a);
          f.get(wy).get(OWl).op(Op.i32Mul).get(wx).op(Op.i32Add).get(COl).op(Op.i32Mul);
          f.set(at);
          f.get(at).i32(8).op(Op.i32Mul).get(sp).op(Op.i32Add).set(wAt);
          f.get(at).i32(4).op(Op.i32Mul).get(gRow).op(Op.i32Add).set(gAt);
          f.i32(0).set(o);
          f.forLoop(o, COl, 1, () => {
            // s = g·gate; B += s·b[o]; tile += s·T[o, slot]
            f.get(gAt).mem(Op.f32Load, 2, 0).get(wAt).mem(Op.f32Load, 2, 4).op(Op.f32Mul);
            f.set(sv);
            f.get(bsum).get(sv).get(bp).get(o).i32(4).op(Op.i32Mul).op(Op.i32Add);
            f.mem(Op.f32Load, 2, 0).op(Op.f32Mul).op(Op.f32Add).set(bsum);
            f.get(wAt).mem(Op.i32Load, 2, 0).get(tp).op(Op.i32Add).set(tAt);
            f.get(sv).simd(SimdOp.f32x4Splat).set(spl);
            acc.forEach((a, v) => {
              f.get(a).get(spl).get(tAt).v128Load(v * 16).simd(SimdOp.f32x4Mul);
              f.simd(SimdOp.f32x4Add).set(a);
            });
            f.get(gAt).i32(4).op(Op.i32Add).set(gAt);
            f.get(wAt).i32(8).op(Op.i32Add).set(wAt);
          });
          // add the tile at (wy·ph − pt, wx·pw − pl), clipped to the input
          f.get(wx).i32(s.pw).op(Op.i32Mul).i32(s.pl).op(Op.i32Sub).set(xx);
          for (let tr = 0; tr < T.rows; tr++) {
            f.get(wy).i32(s.ph).op(Op.i32Mul).i32(tr - s.pt).op(Op.i32Add).set(yy);
            // 0 ≤ yy < H (unsigned compare)
            f.get(yy).i32(s.H).op(Op.i32LtU).op(Op.if, 0x40);
            f.get(yy).i32(s.W).op(Op.i32Mul).get(xx).op(Op.i32Add).i32(s.cin * 4).op(Op.i32Mul);
            f.get(dRow).op(Op.i32Add).set(at);
            // the whole tile row inside: 0 ≤ xx and xx + pix ≤ W
            f.get(xx).i32(s.W - pix + 1).op(Op.i32LtU).op(Op.if, 0x40);
            run4(T.floats, (off) => {
              f.get(at).get(at).v128Load(off);
              f.get(acc[tr * (T.padded / 4) + off / 16]).simd(SimdOp.f32x4Add).v128Store(off);
            }, (off) => {
              f.get(at).get(at).mem(Op.f32Load, 2, off);
              lane(tr, off / 4).op(Op.f32Add).mem(Op.f32Store, 2, off);
            });
            f.op(Op.else);
            for (let q = 0; q < pix; q++) {
              // pixel q of the row, where 0 ≤ xx + q < W
              f.get(xx).i32(q).op(Op.i32Add).i32(s.W).op(Op.i32LtU).op(Op.if, 0x40);
              for (let c = 0; c < s.cin; c++) {
                const off = (q * s.cin + c) * 4;
                f.get(at).get(at).mem(Op.f32Load, 2, off);
                lane(tr, q * s.cin + c).op(Op.f32Add).mem(Op.f32Store, 2, off);
              }
              f.op(Op.end);
            }
            f.op(Op.end);
            f.op(Op.end);
          }
        });
      });
      f.get(bsp).get(bsum).mem(Op.f32Store, 2, 0);
      f.get(bsp).i32(4).op(Op.i32Add).set(bsp);
      f.get(dRow).i32(rowBytes).op(Op.i32Add).set(dRow);
      f.get(gRow).i32(gRowBytes).op(Op.i32Add).set(gRow);
    });
    f.get(xp).i32(s.PH * s.PW * s.co * 4).op(Op.i32Add).set(xp);
    f.get(gp).i32(s.per * gRowBytes).op(Op.i32Add).set(gp);
    f.get(dxp).i32(s.per * rowBytes).op(Op.i32Add).set(dxp);
  });
  return f;
}

interface Attrs {
  kernelSize?: [number, number];
  poolSize: [number, number];
  gate: boolean;
  inShape: [number, number, number];
  pad: [number, number];
  bias?: boolean;
}

/** The shapes of a call, checked: `rows` the second input's leading size. */
function shapeOf(
  kernel: string,
  x: tf.TensorInfo,
  rows: number,
  k: tf.TensorInfo,
  kShape: readonly number[],
  b: tf.TensorInfo,
  attrs: Attrs,
  others: tf.TensorInfo[],
): Shape {
  const [ph, pw] = attrs.poolSize, [H, W, cin] = attrs.inShape, [pt, pl] = attrs.pad;
  const [n, PH, PW, co] = x.shape;
  const per = rows / n;
  const s: Shape = {
    ph,
    pw,
    PH,
    PW,
    OH: Math.floor(PH / ph),
    OW: Math.floor(PW / pw),
    co,
    kh: attrs.kernelSize?.[0] ?? kShape[0],
    kw: attrs.kernelSize?.[1] ?? kShape[1],
    H,
    W,
    cin,
    pt,
    pl,
    per,
    gate: attrs.gate,
    bias: attrs.bias === true,
  };
  const tile = tileOf([ph, pw], [s.kh, s.kw], cin);
  const kWant = kernel === POOL_CONV_TRANSPOSE
    ? [s.kh, co, s.kw, cin]
    : kernel === POOL_CONV_TILES
    ? [co, ph * pw, tile.rows, tile.padded]
    : [co, s.kh, s.kw, cin];
  if (
    [x, k, b, ...others].some((t) => t.dtype !== "float32") || x.shape.length !== 4 ||
    !Number.isInteger(per) || per < 1 || k.shape.length !== 4 ||
    k.shape.some((d, i) => d !== kWant[i]) ||
    b.shape.length !== 1 || b.shape[0] !== co || !convPoolApplies(kernel, cin) || pt < 0 || pl < 0
  ) {
    throw new RangeError(
      `${kernel}: x [${x.shape}], ${rows} rows, k [${k.shape}], b [${b.shape}], inShape [${attrs.inShape}]: expected float32 x [n, PH, PW, Co], rows a multiple of n, k [${kWant}], b [Co], Cin up to ${MAX_CONV_POOL_INPUTS} (a multiple of 4 for the transpose)`,
    );
  }
  return s;
}

/** The kernel function of a transposed pass: the scatter or, for few input channels, tiles. */
function transposedPass(
  kernel: typeof POOL_CONV_TRANSPOSE | typeof POOL_CONV_TILES,
): (args: KernelArgs) => tf.TensorInfo[] {
  const tiles = kernel === POOL_CONV_TILES;
  return (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, g, k, b } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as Attrs;
    const kShape = tiles ? [0, 0] : [k.shape[0], k.shape[2]];
    const s = shapeOf(kernel, x, g.shape[0], k, kShape, b, attrs, [g]);
    if (g.shape[1] !== s.OH || g.shape[2] !== s.OW || g.shape[3] !== s.co) {
      throw new RangeError(
        `${kernel}: g [${g.shape}], expected [rows, ${s.OH}, ${s.OW}, ${s.co}]`,
      );
    }
    const rows = g.shape[0];
    const dx = backend.makeOutput([rows, s.H, s.W, s.cin], "float32");
    const bs = backend.makeOutput([rows], "float32");
    const build = () => tiles ? tilesFunction(s) : transposeFunction(s);
    run(backend, kernel, s, build, [x, g, k, b, dx, bs], [
      s.PH * s.PW * s.co,
      s.per * s.OH * s.OW * s.co,
      0,
      0,
      s.per * s.H * s.W * s.cin,
      s.per,
    ], tiles ? 2 * s.OH * s.OW * s.co : 0);
    return [dx, bs];
  };
}

function convPoolGather(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, v, k, b } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as Attrs;
  const s = shapeOf(CONV_POOL_GATHER, x, v.shape[0], k, k.shape.slice(1), b, attrs, [v]);
  if (v.shape[1] !== s.H || v.shape[2] !== s.W || v.shape[3] !== s.cin) {
    throw new RangeError(
      `${CONV_POOL_GATHER}: v [${v.shape}], expected [rows, ${attrs.inShape}]`,
    );
  }
  const rows = v.shape[0];
  const out = backend.makeOutput([rows, s.OH, s.OW, s.co], "float32");
  run(backend, CONV_POOL_GATHER, s, () => gatherFunction(s), [x, v, k, b, out], [
    s.PH * s.PW * s.co,
    s.per * s.H * s.W * s.cin,
    0,
    0,
    s.per * s.OH * s.OW * s.co,
  ]);
  return out;
}

/**
 * Runs the generated function over the examples, split between threads: `tensors` are the
 * function's address arguments, advanced by `perExample[i]` floats for each example.
 */
function run(
  backend: WasmBackendLike,
  kernel: string,
  s: Shape,
  build: () => FunctionBuilder,
  tensors: tf.TensorInfo[],
  perExample: number[],
  scratchPerPart = 0,
): void {
  if (heapMemory(backend) === null) throw new Error(`${kernel}: the wasm heap was not found`);
  const n = tensors[0].shape[0];
  const ranges = heapRanges(backend, n);
  const scratch = scratchPerPart > 0
    ? backend.makeOutput([ranges.length * scratchPerPart], "float32")
    : null;
  // views after the allocations (an allocation may move the heap)
  const at = tensors.map((t) => backend.typedArrayFromHeap(t).byteOffset);
  const scratchAt = scratch === null ? 0 : backend.typedArrayFromHeap(scratch).byteOffset;
  const parts = ranges.map(([start, count], p) => [
    ...at.map((a, i) => a + start * perExample[i] * 4),
    count,
    ...(scratch === null ? [] : [scratchAt + p * scratchPerPart * 4]),
  ]);
  try {
    const key = `${kernel} ${Object.values(s).join("x")}`;
    heapRun(backend, key, () => ({ run: build() }), "run", parts);
  } finally {
    if (scratch !== null) backend.disposeData(scratch.dataId);
  }
}

/**
 * Whether `kernel` takes a conv with `cin` input channels: the gather any, the scatter a
 * multiple of 4 (its float32x4 read-modify-writes of neighbouring positions then never overlap
 * partly — with 3 channels they did, and stalled: the first layer's transpose is faster as
 * `MasokitConvFewOutputs` after the masked pool, 940–990 against 650–670 templates/s).
 */
function convPoolApplies(kernel: string, cin: number): boolean {
  return Number.isInteger(cin) && cin >= 1 && cin <= MAX_CONV_POOL_INPUTS &&
    (kernel === CONV_POOL_GATHER || kernel === POOL_CONV_TILES || cin % 4 === 0);
}

/**
 * Registers both kernels on the active backend once when it is a tfjs-wasm one; true when
 * `kernel` is switched on and can run now for a conv with `cin` input channels.
 *
 * @param kernel {@link POOL_CONV_TRANSPOSE} or {@link CONV_POOL_GATHER}.
 * @param cin The conv's input channels.
 * @returns Whether to call the kernel.
 */
export function convPoolReady(
  kernel: typeof POOL_CONV_TRANSPOSE | typeof CONV_POOL_GATHER | typeof POOL_CONV_TILES,
  cin: number,
): boolean {
  const on = kernel === POOL_CONV_TRANSPOSE
    ? wasmConvPool.transpose
    : kernel === CONV_POOL_GATHER
    ? wasmConvPool.gather
    : wasmConvPool.tiles;
  return on && convPoolApplies(kernel, cin) &&
    registerOnActiveWasm([
      [POOL_CONV_TRANSPOSE, transposedPass(POOL_CONV_TRANSPOSE)],
      [CONV_POOL_GATHER, convPoolGather],
      [POOL_CONV_TILES, transposedPass(POOL_CONV_TILES)],
    ]);
}

/**
 * Whether {@link POOL_CONV_TILES} takes a conv with `cin` input channels and this kernel and
 * pool (few input channels, a window tile within {@link MAX_TILE_VECTORS} registers).
 *
 * @param cin The conv's input channels.
 * @param kernelSize `[kh, kw]`.
 * @param poolSize `[ph, pw]`.
 * @returns Whether the tile kernel applies (when also {@link convPoolReady}).
 */
export function tilesFit(
  cin: number,
  kernelSize: readonly [number, number],
  poolSize: readonly [number, number],
): boolean {
  return cin <= 4 && tileOf(poolSize, kernelSize, cin).vectors <= MAX_TILE_VECTORS;
}
