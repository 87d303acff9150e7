/**
 * The transposed pass through `conv (stride 1) → ReLU → disjoint max-pool` as one generated
 * WebAssembly SIMD kernel on tfjs-wasm's heap, scattering instead of convolving.
 *
 * Through a disjoint max-pool a row's gradient is non-zero at one position per window and
 * channel at most (the window's first maximum, and only where that maximum is positive when a
 * ReLU gates it), so the dense transposed convolution after it multiplies mostly zeros: 36 of
 * 169 positions per channel for smallCNN's second layer, fewer once the ReLU gates. This kernel
 * finds each window's maximum in the pool's recorded input (once per example, shared by the
 * example's `per` rows), and for each surviving (window, channel) adds the row's gradient times
 * the filter's slice K[i, j, :, o] to the conv input's gradient around that position: float32x4
 * over the conv's input channels, up to {@link MAX_GROUP} rows at a time sharing each loaded
 * filter vector. It also returns the rows' bias terms Σ g·b (the offsets B[x] of eq. 7), so
 * neither the upsampled gradient nor a dense convolution is ever formed. Examples are split
 * between the calling thread and the heap's helper threads.
 *
 * Inputs: `x` the pool's input `[n, PH, PW, Co]` (the ReLU's output when gated), `g` the
 * pooled gradient `[n·per, OH, OW, Co]`, `k` the conv kernel as `[kh, kw, Co, Cin]`, `b` its
 * bias `[Co]`. Attrs: `poolSize`, `gate`, `inShape` `[H, W, Cin]` (the conv's input), `pad`
 * `[top, left]`. Outputs: `[n·per, H, W, Cin]` and the bias terms `[n·per]`.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import {
  heapMemory,
  heapParallelism,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";

/** The kernel's name. */
export const POOL_CONV_TRANSPOSE = "MasokitPoolConvTranspose";

/** Rows (classes) that share each loaded filter vector. */
export const MAX_GROUP = 10;
/** The most conv input channels (unrolled in the generated code). */
export const MAX_POOL_CONV_INPUTS = 512;

/** Switch for benchmarks and tests. */
export const wasmPoolConvTranspose = { enabled: true };

const F32 = 0x7d;

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
}

/** `run(x, g, k, b, dx, bs, n)`: byte addresses of example 0 / row 0, n examples. */
function runFunction(s: Shape): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [xp, gp, kp, bp, dxp, bsp, n] = [0, 1, 2, 3, 4, 5, 6];
  const [e, oy, ox, o, p, end, y, x, i, j, i0, i1, j0, j1, t] = Array.from(
    { length: 15 },
    () => f.local(I32),
  );
  const [winX, gAt, dRow, kAt, dAt, OHl, OWl, COl] = Array.from({ length: 8 }, () => f.local(I32));
  const best = f.local(F32), val = f.local(F32), gv = f.local(F32), bo = f.local(F32);
  const splat = Array.from({ length: Math.min(MAX_GROUP, s.per) }, () => f.local(V128));
  const kv = f.local(V128);
  const vecs = s.cin / 4;
  const rowBytes = s.H * s.W * s.cin * 4; // one row of dx
  const gRowBytes = s.OH * s.OW * s.co * 4;
  const xExBytes = s.PH * s.PW * s.co * 4;

  const clamp = (dst: number, value: () => void, limit: number) => {
    value(); // dst ← min(limit, max(0, value))
    f.set(t).get(t).i32(0).get(t).i32(0).op(Op.i32GtS).op(Op.select).set(dst);
    f.get(dst).i32(limit).get(dst).i32(limit).op(Op.i32LtS).op(Op.select).set(dst);
  };

  f.i32(s.OH).set(OHl).i32(s.OW).set(OWl).i32(s.co).set(COl);
  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    // zero this example's per rows of dx and its bias terms
    f.get(dxp).set(p).get(dxp).i32(s.per * rowBytes).op(Op.i32Add).set(end);
    f.forLoop(p, end, 16, () => {
      f.get(p).v128Zero().v128Store(0);
    });
    for (let r = 0; r < s.per; r++) {
      f.get(bsp).op(Op.f32Const, 0, 0, 0, 0).mem(Op.f32Store, 2, r * 4);
    }
    f.i32(0).set(oy);
    f.forLoop(oy, OHl, 1, () => {
      f.i32(0).set(ox);
      f.forLoop(ox, OWl, 1, () => {
        // x address of the window's top-left element, channel 0
        f.get(oy).i32(s.ph * s.PW).op(Op.i32Mul).get(ox).i32(s.pw).op(Op.i32Mul).op(Op.i32Add);
        f.i32(s.co * 4).op(Op.i32Mul).get(xp).op(Op.i32Add).set(winX);
        f.i32(0).set(o);
        f.forLoop(o, COl, 1, () => {
          // the window's first maximum: best, at (y, x) in the pool's input
          f.get(winX).get(o).i32(4).op(Op.i32Mul).op(Op.i32Add).set(p);
          f.get(p).mem(Op.f32Load, 2, 0).set(best).i32(0).set(y).i32(0).set(x);
          for (let a = 0; a < s.ph; a++) {
            for (let c = 0; c < s.pw; c++) {
              if (a === 0 && c === 0) continue;
              // strictly greater: the first maximum in row-major window order wins ties
              f.get(p).mem(Op.f32Load, 2, ((a * s.PW + c) * s.co) * 4).set(val);
              f.get(val).get(best).op(Op.f32Gt).set(t);
              f.get(val).get(best).get(t).op(Op.select).set(best);
              f.i32(a).get(y).get(t).op(Op.select).set(y);
              f.i32(c).get(x).get(t).op(Op.select).set(x);
            }
          }
          const body = () => {
            // conv output position
            f.get(oy).i32(s.ph).op(Op.i32Mul).get(y).op(Op.i32Add).set(y);
            f.get(ox).i32(s.pw).op(Op.i32Mul).get(x).op(Op.i32Add).set(x);
            clamp(i0, () => f.i32(s.pt).get(y).op(Op.i32Sub), s.kh);
            clamp(i1, () => f.i32(s.H + s.pt).get(y).op(Op.i32Sub), s.kh);
            clamp(j0, () => f.i32(s.pl).get(x).op(Op.i32Sub), s.kw);
            clamp(j1, () => f.i32(s.W + s.pl).get(x).op(Op.i32Sub), s.kw);
            // g[row 0, oy, ox, o]
            f.get(oy).get(OWl).op(Op.i32Mul).get(ox).op(Op.i32Add).get(COl).op(Op.i32Mul);
            f.get(o).op(Op.i32Add).i32(4).op(Op.i32Mul).get(gp).op(Op.i32Add).set(gAt);
            f.get(bp).get(o).i32(4).op(Op.i32Mul).op(Op.i32Add).mem(Op.f32Load, 2, 0).set(bo);
            for (let r0 = 0; r0 < s.per; r0 += MAX_GROUP) {
              const rows = Math.min(MAX_GROUP, s.per - r0);
              for (let r = 0; r < rows; r++) {
                f.get(gAt).mem(Op.f32Load, 2, (r0 + r) * gRowBytes).set(gv);
                f.get(gv).simd(SimdOp.f32x4Splat).set(splat[r]);
                // bias term
                f.get(bsp).get(bsp).mem(Op.f32Load, 2, (r0 + r) * 4).get(gv).get(bo);
                f.op(Op.f32Mul).op(Op.f32Add).mem(Op.f32Store, 2, (r0 + r) * 4);
              }
              f.get(i0).set(i);
              f.forLoop(i, i1, 1, () => {
                // dx row (y − pt + i), column (x − pl), for row r0
                f.get(y).get(i).op(Op.i32Add).i32(s.pt).op(Op.i32Sub).i32(s.W).op(Op.i32Mul);
                f.get(x).op(Op.i32Add).i32(s.pl).op(Op.i32Sub).i32(s.cin * 4).op(Op.i32Mul);
                f.get(dxp).op(Op.i32Add).set(dRow);
                f.get(j0).set(j);
                f.forLoop(j, j1, 1, () => {
                  f.get(i).i32(s.kw).op(Op.i32Mul).get(j).op(Op.i32Add).get(COl).op(Op.i32Mul);
                  f.get(o).op(Op.i32Add).i32(s.cin * 4).op(Op.i32Mul).get(kp).op(Op.i32Add);
                  f.set(kAt);
                  f.get(j).i32(s.cin * 4).op(Op.i32Mul).get(dRow).op(Op.i32Add).set(dAt);
                  for (let v = 0; v < vecs; v++) {
                    f.get(kAt).v128Load(v * 16).set(kv);
                    for (let r = 0; r < rows; r++) {
                      const off = (r0 + r) * rowBytes + v * 16;
                      f.get(dAt).get(dAt).v128Load(off).get(splat[r]).get(kv);
                      f.simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).v128Store(off);
                    }
                  }
                });
              });
            }
          };
          if (s.gate) {
            // only windows whose maximum is positive pass the ReLU
            f.get(best).op(Op.f32Const, 0, 0, 0, 0).op(Op.f32Gt).op(Op.if, 0x40);
            body();
            f.op(Op.end);
          } else body();
        });
      });
    });
    f.get(xp).i32(xExBytes).op(Op.i32Add).set(xp);
    f.get(gp).i32(s.per * gRowBytes).op(Op.i32Add).set(gp);
    f.get(dxp).i32(s.per * rowBytes).op(Op.i32Add).set(dxp);
    f.get(bsp).i32(s.per * 4).op(Op.i32Add).set(bsp);
  });
  return f;
}

function poolConvTranspose(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { x, g, k, b } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = (args.attrs ?? {}) as {
    poolSize: [number, number];
    gate: boolean;
    inShape: [number, number, number];
    pad: [number, number];
  };
  const [ph, pw] = attrs.poolSize, [H, W, cin] = attrs.inShape, [pt, pl] = attrs.pad;
  const [n, PH, PW, co] = x.shape;
  const [rows, OH, OW] = g.shape;
  const [kh, kw] = k.shape;
  const per = rows / n;
  const s: Shape = { ph, pw, PH, PW, OH, OW, co, kh, kw, H, W, cin, pt, pl, per, gate: attrs.gate };
  if (
    [x, g, k, b].some((t) => t.dtype !== "float32") || !Number.isInteger(per) || per < 1 ||
    g.shape[3] !== co || OH !== Math.floor(PH / ph) || OW !== Math.floor(PW / pw) ||
    k.shape[2] !== co || k.shape[3] !== cin || b.shape[0] !== co ||
    !poolConvTransposeApplies(cin) || pt < 0 || pl < 0
  ) {
    throw new RangeError(
      `${POOL_CONV_TRANSPOSE}: x [${x.shape}], g [${g.shape}], k [${k.shape}], b [${b.shape}], inShape [${attrs.inShape}]: expected float32 x [n, PH, PW, Co], g [n·per, ⌊PH/ph⌋, ⌊PW/pw⌋, Co], k [kh, kw, Co, Cin], b [Co] with Cin a multiple of 4 up to ${MAX_POOL_CONV_INPUTS}`,
    );
  }
  const dx = backend.makeOutput([rows, H, W, cin], "float32");
  const bs = backend.makeOutput([rows], "float32");
  if (heapMemory(backend) === null) throw new Error(`${POOL_CONV_TRANSPOSE}: no wasm heap`);
  // views after the allocations (an allocation may move the heap)
  const [xv, gv, kv, bv, dv, sv] = [x, g, k, b, dx, bs].map((t) => backend.typedArrayFromHeap(t));
  const parts = Math.max(1, Math.min(n, heapParallelism(backend)));
  const list: number[][] = [];
  for (let q = 0, start = 0; q < parts; q++) {
    const count = Math.floor((n * (q + 1)) / parts) - start;
    list.push([
      xv.byteOffset + start * PH * PW * co * 4,
      gv.byteOffset + start * per * OH * OW * co * 4,
      kv.byteOffset,
      bv.byteOffset,
      dv.byteOffset + start * per * H * W * cin * 4,
      sv.byteOffset + start * per * 4,
      count,
    ]);
    start += count;
  }
  const key = `pool conv transpose ${Object.values(s).join("x")}`;
  heapRun(backend, key, () => ({ run: runFunction(s) }), "run", list);
  return [dx, bs];
}

/** Whether the kernel takes a conv with `cin` input channels (and is switched on). */
export function poolConvTransposeApplies(cin: number): boolean {
  return wasmPoolConvTranspose.enabled && cin % 4 === 0 && cin >= 4 &&
    cin <= MAX_POOL_CONV_INPUTS;
}

/**
 * Registers {@linkcode POOL_CONV_TRANSPOSE} on the active backend once when it is a tfjs-wasm
 * one; true when the kernel can run now for a conv with `cin` input channels.
 *
 * @param cin The conv's input channels.
 * @returns Whether to call the kernel.
 */
export function poolConvTransposeReady(cin: number): boolean {
  return poolConvTransposeApplies(cin) &&
    registerOnActiveWasm([[POOL_CONV_TRANSPOSE, poolConvTranspose]]);
}
