/**
 * WebAssembly SIMD bodies of the disjoint max-pool kernels in `_wasm_masked_max_pool.ts`,
 * generated at run time for one pool size and instantiated on tfjs-wasm's own memory (the
 * module imports it), so they read and write tensors in place. Four channels at a time,
 * branch-free: per window cell, `f32x4.gt` against the running maximum and `v128.bitselect`
 * keep the first maximum in row-major window order (strict `>`, as the JS path), which the
 * scalar JS loop decides with unpredictable branches (≈6× slower on random data).
 *
 * All work on views of tensors in that memory, `x` of shape `[n, H, W, C]` with
 * `C % 4 === 0`:
 * - `masked(x, v, out, gate)`: `out[e, oy, ox, c] = v` at the first maximum of `x` over the
 *   window — `[n, ⌊H/ph⌋, ⌊W/pw⌋, C]`;
 * - `transpose(x, g, out, per, gate)`: for every row `r` of example `e` (`per` rows each),
 *   `g[r, oy, ox, c]` at that position and zeros elsewhere — `[n·per, H, W, C]` (the
 *   max-pool gradient when `per` is 1);
 * - with `gate`, windows whose maximum is not positive give 0 (the masked / transposed pass
 *   of a ReLU whose output `x` is, folded in);
 * - `slots(x, out)`: the partition code, each first maximum's row-major window slot as an
 *   int32 — `[n, ⌊H/ph⌋, ⌊W/pw⌋, C]`.
 *
 * @module
 */
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import { heapMemory, heapRanges, heapRun, type WasmBackendLike } from "../_wasm_ops.ts";

/** The kernels, on views of tensors in the wasm memory (see the module notes). */
export interface MaxPoolSimd {
  /**
   * The masked pass: `out ← v` at each window's first maximum of `x`; with `gate`, 0 where
   * that maximum is not positive (the ReLU before the pool folded in).
   */
  masked(
    x: Float32Array,
    v: Float32Array,
    out: Float32Array,
    shape: readonly number[],
    gate: boolean,
  ): void;
  /**
   * The transposed pass: `out` (`per` rows per example) ← `g` at the first maxima, else 0;
   * with `gate`, 0 also where that maximum is not positive.
   */
  transpose(
    x: Float32Array,
    g: Float32Array,
    out: Float32Array,
    shape: readonly number[],
    per: number,
    gate: boolean,
  ): void;
  /** The codes: `out` (int32, `[n, ⌊H/ph⌋, ⌊W/pw⌋, C]`) ← each first maximum's window slot. */
  slots(x: Float32Array, out: Int32Array, shape: readonly number[]): void;
}

/** The generated functions, on byte addresses. */
type MaskedFn = (
  x: number,
  v: number,
  out: number,
  n: number,
  H: number,
  W: number,
  C: number,
) => void;
type TransposeFn = (
  x: number,
  g: number,
  out: number,
  n: number,
  per: number,
  H: number,
  W: number,
  C: number,
) => void;
interface Exports {
  masked: MaskedFn;
  maskedGated: MaskedFn;
  transpose: TransposeFn;
  transposeGated: TransposeFn;
  slots(x: number, out: number, n: number, H: number, W: number, C: number): void;
}

/** Largest window (cells) the generated kernels handle; larger ones take the JS path. */
export const MAX_SIMD_WINDOW = 16;

/** Emits `a ← a + b` for i32 locals. */
function addTo(f: FunctionBuilder, a: number, b: number): void {
  f.get(a).get(b).op(Op.i32Add).set(a);
}

/** Locals shared by the kernels: strides, window counts and the cells' byte offsets. */
function prologue(
  f: FunctionBuilder,
  [ph, pw]: readonly [number, number],
  p: { H: number; W: number; C: number },
) {
  const cell = f.local(I32), row = f.local(I32), OH = f.local(I32), OW = f.local(I32);
  f.get(p.C).i32(4).op(Op.i32Mul).set(cell);
  f.get(p.W).get(cell).op(Op.i32Mul).set(row);
  f.get(p.H).i32(ph).op(Op.i32DivU).set(OH);
  f.get(p.W).i32(pw).op(Op.i32DivU).set(OW);
  const offsets: number[] = [];
  for (let ky = 0; ky < ph; ky++) {
    for (let kx = 0; kx < pw; kx++) {
      const o = f.local(I32);
      f.get(row).i32(ky).op(Op.i32Mul).get(cell).i32(kx).op(Op.i32Mul).op(Op.i32Add).set(o);
      offsets.push(o);
    }
  }
  // a window's step along x, and the bytes from one window row's end to the next's start
  const winStep = f.local(I32), rowSkip = f.local(I32);
  f.get(cell).i32(pw).op(Op.i32Mul).set(winStep);
  f.get(row).i32(ph).op(Op.i32Mul).get(OW).get(winStep).op(Op.i32Mul).op(Op.i32Sub).set(rowSkip);
  // bytes after the last full window row of an example (⌊H/ph⌋·ph < H)
  const exSkip = f.local(I32);
  f.get(p.H).get(OH).i32(ph).op(Op.i32Mul).op(Op.i32Sub).get(row).op(Op.i32Mul).set(exSkip);
  return { cell, row, OH, OW, offsets, winStep, rowSkip, exSkip };
}

/**
 * Loops over examples, window rows, windows and 4-channel vectors with `p` the address in
 * `x` of the vector's first cell; `body` emits the work for one vector.
 */
function windows(
  f: FunctionBuilder,
  x: number,
  n: number,
  pr: ReturnType<typeof prologue>,
  hooks: { body: (p: number) => void; afterExample?: () => void },
): void {
  const e = f.local(I32), oy = f.local(I32), ox = f.local(I32);
  const p = f.local(I32), end = f.local(I32), cLeft = f.local(I32);
  f.get(x).set(p);
  f.i32(0).set(e);
  f.forLoop(e, n, 1, () => {
    f.i32(0).set(oy);
    f.forLoop(oy, pr.OH, 1, () => {
      f.i32(0).set(ox);
      f.forLoop(ox, pr.OW, 1, () => {
        f.get(p).get(pr.cell).op(Op.i32Add).set(end);
        f.get(p).set(cLeft);
        f.forLoop(p, end, 16, () => hooks.body(p));
        // p is at the window's end of its first row: move to the next window
        f.get(cLeft).get(pr.winStep).op(Op.i32Add).set(p);
      });
      addTo(f, p, pr.rowSkip);
    });
    addTo(f, p, pr.exSkip);
    hooks.afterExample?.();
  });
}

/** Loads the f32x4 at `base + offsets[k]` (`dv` added when given). */
function load(f: FunctionBuilder, base: number, offset: number, dv?: number): void {
  f.get(base).get(offset).op(Op.i32Add);
  if (dv !== undefined) f.get(dv).op(Op.i32Add);
  f.v128Load(0);
}

function maskedKernel(pool: readonly [number, number], gate: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [x, v, out, n, H, W, C] = [0, 1, 2, 3, 4, 5, 6];
  const pr = prologue(f, pool, { H, W, C });
  const dv = f.local(I32), best = f.local(V128), sel = f.local(V128);
  const xk = f.local(V128), m = f.local(V128);
  f.get(v).get(x).op(Op.i32Sub).set(dv);
  windows(f, x, n, pr, {
    body: (p) => {
      f.get(p).v128Load(0).set(best);
      f.get(p).get(dv).op(Op.i32Add).v128Load(0).set(sel);
      for (const off of pr.offsets.slice(1)) {
        load(f, p, off);
        f.set(xk);
        f.get(xk).get(best).simd(SimdOp.f32x4Gt).set(m);
        f.get(xk).get(best).get(m).simd(SimdOp.v128Bitselect).set(best);
        load(f, p, off, dv);
        f.get(sel).get(m).simd(SimdOp.v128Bitselect).set(sel);
      }
      if (gate) {
        // a window whose maximum is not positive (a ReLU's output: all inactive) gives 0
        f.get(sel).get(best);
        f.v128Zero();
        f.simd(SimdOp.f32x4Gt).simd(SimdOp.v128And).set(sel);
      }
      f.get(out).get(sel).v128Store(0);
      f.get(out).i32(16).op(Op.i32Add).set(out);
    },
  });
  return f;
}

function slotsKernel(pool: readonly [number, number]): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [x, out, n, H, W, C] = [0, 1, 2, 3, 4, 5];
  const pr = prologue(f, pool, { H, W, C });
  const best = f.local(V128), slot = f.local(V128), xk = f.local(V128), m = f.local(V128);
  windows(f, x, n, pr, {
    body: (p) => {
      f.get(p).v128Load(0).set(best);
      f.v128Zero();
      f.set(slot);
      pr.offsets.slice(1).forEach((off, k1) => {
        load(f, p, off);
        f.set(xk);
        f.get(xk).get(best).simd(SimdOp.f32x4Gt).set(m);
        f.get(xk).get(best).get(m).simd(SimdOp.v128Bitselect).set(best);
        // slot ← k + 1 in the lanes where cell k + 1 is the new maximum (i32x4 little-endian)
        const k = k1 + 1, lane = [k & 0xff, (k >> 8) & 0xff, 0, 0];
        f.simd(SimdOp.v128Const, ...lane, ...lane, ...lane, ...lane);
        f.get(slot).get(m).simd(SimdOp.v128Bitselect).set(slot);
      });
      f.get(out).get(slot).v128Store(0);
      f.get(out).i32(16).op(Op.i32Add).set(out);
    },
  });
  return f;
}

function transposeKernel(pool: readonly [number, number], gate: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [x, g, out, n, per, H, W, C] = [0, 1, 2, 3, 4, 5, 6, 7];
  const pr = prologue(f, pool, { H, W, C });
  const inBytes = f.local(I32), outBytes = f.local(I32);
  f.get(H).get(pr.row).op(Op.i32Mul).set(inBytes);
  f.get(pr.OH).get(pr.OW).op(Op.i32Mul).get(pr.cell).op(Op.i32Mul).set(outBytes);
  // p + dOut is a cell's address in the first output row of p's example e:
  // dOut = out − x + e·(per − 1)·inBytes; gAt is the vector's address in e's first g row
  const dOut = f.local(I32), gAt = f.local(I32), step = f.local(I32), gStep = f.local(I32);
  f.get(per).i32(1).op(Op.i32Sub).get(inBytes).op(Op.i32Mul).set(step);
  f.get(per).i32(1).op(Op.i32Sub).get(outBytes).op(Op.i32Mul).set(gStep);
  f.get(out).get(x).op(Op.i32Sub).set(dOut);
  f.get(g).set(gAt);
  const best = f.local(V128), xk = f.local(V128), m = f.local(V128), gv = f.local(V128);
  const wins = pr.offsets.map(() => f.local(V128));
  const j = f.local(I32), dst = f.local(I32), src = f.local(I32);
  windows(f, x, n, pr, {
    body: (p) => {
      // one-hot masks of each lane's first maximum over the window's cells
      f.get(p).v128Load(0).set(best);
      f.simd(SimdOp.v128Const, ...new Array(16).fill(0xff)).set(wins[0]);
      pr.offsets.slice(1).forEach((off, k1) => {
        load(f, p, off);
        f.set(xk);
        f.get(xk).get(best).simd(SimdOp.f32x4Gt).set(m);
        f.get(xk).get(best).get(m).simd(SimdOp.v128Bitselect).set(best);
        for (let k = 0; k <= k1; k++) {
          f.get(wins[k]).get(m).simd(SimdOp.v128AndNot).set(wins[k]);
        }
        f.get(m).set(wins[k1 + 1]);
      });
      if (gate) {
        f.get(best);
        f.v128Zero();
        f.simd(SimdOp.f32x4Gt).set(m);
        for (const w of wins) f.get(w).get(m).simd(SimdOp.v128And).set(w);
      }
      f.get(p).get(dOut).op(Op.i32Add).set(dst);
      f.get(gAt).set(src);
      f.i32(0).set(j);
      f.forLoop(j, per, 1, () => {
        f.get(src).v128Load(0).set(gv);
        for (const [k, off] of pr.offsets.entries()) {
          f.get(dst).get(off).op(Op.i32Add);
          f.get(gv).get(wins[k]).simd(SimdOp.v128And).v128Store(0);
        }
        addTo(f, dst, inBytes);
        addTo(f, src, outBytes);
      });
      f.get(gAt).i32(16).op(Op.i32Add).set(gAt);
    },
    afterExample: () => {
      addTo(f, dOut, step);
      addTo(f, gAt, gStep);
    },
  });
  return f;
}

/**
 * Zeroes the positions of `rows` rows `[H, W, C]` that no window covers (the last
 * `H − ch` rows and `W − cw` columns), which the transposed kernel does not write.
 */
function zeroUncovered(
  os: Float32Array,
  rows: number,
  [H, W, C]: readonly number[],
  [ch, cw]: readonly [number, number],
): void {
  if (ch === H && cw === W) return;
  const row = W * C;
  for (let r = 0; r < rows; r++) {
    const at = r * H * row;
    if (cw < W) {
      for (let y = 0; y < ch; y++) os.fill(0, at + y * row + cw * C, at + (y + 1) * row);
    }
    os.fill(0, at + ch * row, at + H * row);
  }
}

/** Below this many input values a pass runs on the calling thread alone. */
const MIN_SPLIT_VALUES = 1 << 16;

/**
 * The kernels on views, from the generated functions on byte addresses, the examples split
 * between the calling thread and the heap's helper threads (`heapRun`).
 */
function wrap(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
  pool: readonly [number, number],
): MaxPoolSimd {
  /** Runs `name` over n examples: `args(first, count)` gives a part's arguments. */
  const run = (
    name: keyof Exports,
    [n, H, W, C]: readonly number[],
    args: (first: number, count: number) => number[],
  ) => {
    const ranges = heapRanges(backend, n, n * H * W * C >= MIN_SPLIT_VALUES);
    heapRun(backend, key, build, name, ranges.map(([s, c]) => args(s, c)));
  };
  return {
    masked: (x, v, out, shape, gate) => {
      const [, H, W, C] = shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
      run(gate ? "maskedGated" : "masked", shape, (s, c) => [
        x.byteOffset + s * H * W * C * 4,
        v.byteOffset + s * H * W * C * 4,
        out.byteOffset + s * OH * OW * C * 4,
        c,
        H,
        W,
        C,
      ]);
    },
    transpose: (x, g, out, shape, per, gate) => {
      const [n, H, W, C] = shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
      run(gate ? "transposeGated" : "transpose", shape, (s, c) => [
        x.byteOffset + s * H * W * C * 4,
        g.byteOffset + s * per * OH * OW * C * 4,
        out.byteOffset + s * per * H * W * C * 4,
        c,
        per,
        H,
        W,
        C,
      ]);
      zeroUncovered(out, n * per, [H, W, C], [OH * pool[0], OW * pool[1]]);
    },
    slots: (x, out, shape) => {
      const [, H, W, C] = shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
      run("slots", shape, (s, c) => [
        x.byteOffset + s * H * W * C * 4,
        out.byteOffset + s * OH * OW * C * 4,
        c,
        H,
        W,
        C,
      ]);
    },
  };
}

/**
 * The kernels for a disjoint `pool` over `C` channels on a tfjs-wasm backend's heap, when
 * they apply: `C % 4 === 0`, at most {@linkcode MAX_SIMD_WINDOW} cells, and the backend's
 * memory found (stock or threaded build). Compiled once per memory and pool size.
 *
 * @param backend The tfjs-wasm backend the tensors live on.
 * @param pool `[ph, pw]`.
 * @param C The channel count.
 * @returns The kernels, or `null` (use a scalar path).
 */
export function maxPoolSimdFor(
  backend: WasmBackendLike,
  pool: readonly [number, number],
  C: number,
): MaxPoolSimd | null {
  if (C % 4 !== 0 || pool[0] * pool[1] > MAX_SIMD_WINDOW || pool[0] < 1 || pool[1] < 1) {
    return null;
  }
  if (heapMemory(backend) === null) return null;
  return wrap(backend, `max-pool ${pool[0]}x${pool[1]}`, () => ({
    masked: maskedKernel(pool, false),
    maskedGated: maskedKernel(pool, true),
    transpose: transposeKernel(pool, false),
    transposeGated: transposeKernel(pool, true),
    slots: slotsKernel(pool),
  }), pool);
}
