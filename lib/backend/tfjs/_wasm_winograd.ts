/**
 * Stride-1 3×3 convolutions by Winograd's minimal filtering F(m × m, 3 × 3) on tfjs-wasm's heap
 * (lib/backend/winograd_math.ts): XNNPACK runs a 3×3 conv at ≈ 22 G multiply-adds/s on two
 * threads, near the peak of 128-bit WebAssembly SIMD without a fused multiply-add, so the way to
 * make it faster is fewer multiply-adds. An output tile of `m × m` pixels is
 * `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` for the `n × n` input pixels `d` under it (n = m + 2): summed
 * over input channels, the `n²` elementwise products become `n²` independent matrix products
 * `[tiles, cin] · [cin, cout]` — `n²/m²` multiply-adds per output pixel and channel pair instead
 * of 9 (F(4): 2.25, a quarter).
 *
 * Three steps: the input transform `V[ξ] = (Bᵀ d B)[ξ]` (four channels a vector, zero outside
 * the image: the padding is applied on the fly), the `n²` products `M[ξ] = V[ξ] · U[ξ]` with the
 * filters transformed in float64 by the caller (`U[ξ] = (G g Gᵀ)[ξ]`, [1, 1, cin, cout] each),
 * and the output transform `Aᵀ M A` (+ bias, then ReLU where asked), written into the output.
 * By default all three are one generated WebAssembly SIMD kernel (`wasmWinograd.fused`): the
 * tiles split between the calling thread and the heap's helper threads, each thread takes its
 * tiles in blocks whose `V` and `M` stay in its caches (`wasmWinograd.blockBytes`), and runs the
 * products itself in register blocks of 4 × 8 outputs, with relaxed SIMD's fused multiply-add
 * where the engine has it (`wasmWinograd.fma`). Otherwise the products are XNNPACK 1×1 convs
 * over chunks of tiles (`wasmWinograd.chunkBytes`), between the two transforms split over the
 * threads, every chunk's `V` and `M` through memory: largeCNN's templates take 1.3× as long
 * that way, and as long by the fused kernel without the multiply-add (`bench/affine_compare.ts
 * --ab-winograd-products`, bench/RESULTS.md).
 *
 * The engine (lib/backend/tfjs/run.ts) calls the kernel with a layer's filters transformed once;
 * training (lib/train/wasm_kernels.ts), whose filters change every step, calls
 * {@linkcode winogradWithFilter} (the filters transformed on the heap at each call) and
 * {@linkcode winogradFilterGrad} (the filter gradient `Gᵀ [Σ_tiles (A δ Aᵀ) ⊙ (Bᵀ d B)] G`, its
 * products by masokit's code too where `wasmWinograd.fused` is on).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { FunctionBuilder, I32, Op, relaxedSimd, SimdOp, V128 } from "../../util/_wasm_emitter.ts";
import {
  free,
  heapRanges,
  heapRun,
  type KernelArgs,
  registerOnActiveWasm,
  runWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";
import { type WinogradTile, winogradTransforms } from "../winograd_math.ts";

/** The kernel's name. */
export const WINOGRAD_CONV = "MasokitWinogradConv";

/**
 * Switches for benchmarks and tests: whether the engine runs its 3×3 convs by Winograd on
 * tfjs-wasm, with which tile (`"auto"`: {@linkcode winogradTileFor}, F(2) or F(4); F(6) only
 * where set: its rounding error is 10× F(4)'s, and its speed depends on the caches — on 2 threads
 * it ran largeCNN's transposed convs 1.4–1.6× slower than F(4) on one machine, a 192-channel conv
 * 1.57× faster on another with 1.25 MiB of L2 a core, `bench/wasm_winograd_bench.ts`,
 * bench/RESULTS.md), from how many input and
 * output channels on, whether the transforms and products run as one fused kernel (`fused`; the
 * filter gradient's products by masokit's code too),
 * the most bytes of `V` and `M` a thread's block of tiles holds there (`blockBytes`: within
 * half a core's 512 KiB L2 cache on the machines measured),
 * whether its products use relaxed SIMD's multiply-add where available (`fma`: results then
 * depend on whether the machine fuses it, within float32 rounding), the most bytes of
 * transforms a chunk of tiles holds where XNNPACK runs the products (`chunkBytes`; the filter
 * gradient's chunks too), and
 * the fewest multiply-adds (of the direct conv) a call with filters transformed at each call
 * ({@linkcode winogradWithFilter}: training) needs — below it, transforming the filters at every
 * call eats the gain: smallCNN's training step, whose one qualifying conv does 0.2 G
 * multiply-adds at batch 64, ran 1.20–1.25× faster by Winograd than on XNNPACK, 1.04–1.13× at
 * batch 16 (0.05 G), 0.88–0.97× at batch 4 (`bench/train_step_bench.ts --ab=winograd
 * --min-filter-macs=0 [--batch=N]`, bench/RESULTS.md; with XNNPACK's products it was 0.99× at
 * batch 64; with batch-norm's training pass fused, the twenty-second session: 1.13× at batch 10
 * (0.03 G), 1.01× at batch 4 (0.0125 G), so the default is 1e7; and these kernels take a conv
 * only inside {@linkcode withWinogradConvs}); and whether the pass
 * that records the codes of ⟨A_c, x⟩ alone may use it (`tiesFree`, default true: that value does
 * not depend on how exact ties are decided; `bench/affine_compare.ts --ab-ties-free`); and
 * whether training's filter transforms (`G g Gᵀ` and the filter gradient's `Gᵀ S G`) run as one
 * generated kernel (`filterKernel`, default true; off: a product on XNNPACK and copies,
 * `bench/train_step_bench.ts --ab=winograd-filter`).
 */
export const wasmWinograd: {
  enabled: boolean;
  tile: WinogradTile | "auto";
  minChannels: number;
  chunkBytes: number;
  fused: boolean;
  blockBytes: number;
  fma: boolean;
  minFilterMacs: number;
  tiesFree: boolean;
  filterKernel: boolean;
} = {
  enabled: true,
  tile: "auto",
  minChannels: 16,
  chunkBytes: 96 << 20,
  fused: true,
  blockBytes: 256 << 10,
  fma: true,
  minFilterMacs: 1e7,
  tiesFree: true,
  filterKernel: true,
};

/**
 * The tile for an output of `oh × ow` pixels: `wasmWinograd.tile` where set, else the one whose
 * tiles take fewer multiply-adds (`(m + 2)²` per tile; F(2) on a tie: its transforms are
 * cheaper and its rounding error smaller), or false where even those are more than 0.6 of the
 * direct conv's 9 a pixel (small outputs waste most of a tile).
 *
 * @param oh Output rows.
 * @param ow Output columns.
 * @returns The tile, or false.
 */
export function winogradTileFor(oh: number, ow: number): WinogradTile | false {
  const macs = (m: WinogradTile) => (m + 2) ** 2 * Math.ceil(oh / m) * Math.ceil(ow / m);
  const { tile } = wasmWinograd;
  const m = tile !== "auto" ? tile : macs(4) < macs(2) ? 4 : 2;
  return macs(m) <= 0.6 * 9 * oh * ow ? m : false;
}

/** Nesting depth of {@linkcode withWinogradConvs} scopes (0 inside {@linkcode withoutWinograd}). */
let allowed = 0;

/**
 * Runs `fn` letting the training kernels (`registerWasmTrainingKernels`) run stride-1 3×3 convs,
 * their input gradients and filter gradients by Winograd ({@linkcode winogradWithFilter},
 * {@linkcode winogradFilterGrad}); outside such a scope those kernels run XNNPACK's direct convs.
 * Winograd is faster on large convs, but its rounding decides exact ties differently: a direct
 * conv gives every output whose field is all zeros (MNIST's background) exactly its bias, where a
 * Winograd tile that also holds a stroke gives it the bias ± a last bit, so a max-pool window of
 * such outputs picks another winner and `tf.grad` of the model is no longer its template A[x]
 * (Sec. 5.2's check in the reproduce: relative error 0.39–0.55). A training step and an accuracy
 * do not depend on how ties are decided: masokit's `train` runs its steps and evaluations in this
 * scope.
 *
 * @param fn The computation.
 * @returns What it returns.
 */
export function withWinogradConvs<T>(fn: () => T): T {
  allowed++;
  try {
    return fn();
  } finally {
    allowed--;
  }
}

/**
 * Runs `fn` with the training kernels' convs on XNNPACK even inside a
 * {@linkcode withWinogradConvs} scope: for the engine's passes that record codes, whose exact
 * ties Winograd's rounding would break.
 *
 * @param fn The computation.
 * @returns What it returns.
 */
export function withoutWinograd<T>(fn: () => T): T {
  const outer = allowed;
  allowed = 0;
  try {
    return fn();
  } finally {
    allowed = outer;
  }
}

/** How many convs the kernel has run (tests check that a path took it). */
export const winogradRuns = { count: 0 };

/** Tiles below which the transforms run on the calling thread alone. */
const MIN_SPLIT_TILES = 64;

const F32X4_NEG = 0xe1, F32X4_MAX = 0xe9;

interface Shape {
  m: WinogradTile;
  h: number;
  w: number;
  cin: number;
  cout: number;
  pt: number;
  pl: number;
  oh: number;
  ow: number;
}

/** Tiles per row and along each axis. */
function tilesOf(s: Shape): { ty: number; tx: number; n: number } {
  const ty = Math.ceil(s.oh / s.m), tx = Math.ceil(s.ow / s.m);
  return { ty, tx, n: ty * tx };
}

/** `f32.const v; f32x4.splat`. */
function splat(f: FunctionBuilder, v: number): void {
  const bytes = new Uint8Array(new Float32Array([v]).buffer);
  f.op(Op.f32Const, ...bytes).simd(SimdOp.f32x4Splat);
}

/**
 * Emits `Σ_k coef[k] · term(k)` (a v128 on the stack), skipping zero coefficients; `scale(c)`
 * pushes the splat of `c` (a local set up front).
 */
function combination(
  f: FunctionBuilder,
  coef: readonly number[],
  term: (k: number) => void,
  scale: (c: number) => void,
): void {
  let first = true;
  coef.forEach((c, k) => {
    if (c === 0) return;
    term(k);
    if (Math.abs(c) !== 1) {
      scale(Math.abs(c));
      f.simd(SimdOp.f32x4Mul);
    }
    if (first) {
      if (c < 0) f.simd(F32X4_NEG);
      first = false;
    } else f.simd(c < 0 ? SimdOp.f32x4Sub : SimdOp.f32x4Add);
  });
  if (first) f.v128Zero();
}

/**
 * `out[i][j] = (L D Lᵀ)[i][j]`, `D` a column at a time: `column(j)` emits whatever column `j`
 * needs first (its loads into locals) and returns `d(k)`, which pushes `D[k][j]`. First `t = L D`
 * column by column, then each `out[i][j]` of `t Lᵀ` row by row, handed to `emit(i, j, push)`
 * (`push` computes it onto the stack) as soon as it is made: few values live at once (a
 * column of `D`, `t`, one output), where holding all of `D` and all of `out` spilled them.
 */
function sandwich(
  f: FunctionBuilder,
  l: readonly (readonly number[])[],
  column: (j: number) => (k: number) => void,
  scale: (c: number) => void,
  emit: (i: number, j: number, push: () => void) => void,
): void {
  const rows = l.length, cols = l[0].length;
  const t = Array.from({ length: rows }, () => Array.from({ length: cols }, () => f.local(V128)));
  for (let j = 0; j < cols; j++) {
    const d = column(j);
    for (let i = 0; i < rows; i++) {
      combination(f, l[i], d, scale);
      f.set(t[i][j]);
    }
  }
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      emit(i, j, () => combination(f, l[j], (k) => f.get(t[i][k]), scale));
    }
  }
}

/** The splat constants of a matrix's coefficients, as locals set at the function's start. */
function scales(
  f: FunctionBuilder,
  matrices: readonly (readonly (readonly number[])[])[],
): (c: number) => void {
  const values = new Set(
    matrices.flat(2).map(Math.abs).filter((c) => c !== 0 && c !== 1),
  );
  const locals = new Map<number, number>();
  for (const c of values) {
    const local = f.local(V128);
    splat(f, c);
    f.set(local);
    locals.set(c, local);
  }
  return (c) => f.get(locals.get(c)!);
}

/**
 * Locals holding the `count` addresses of an i32 table at the address in local `table` (the
 * transform arrays `V[ξ]`, `M[ξ]` or `W[ξ]`: a table keeps a function's arguments within what
 * the heap's helper threads take).
 */
function addressTable(f: FunctionBuilder, table: number, count: number): number[] {
  return Array.from({ length: count }, (_, xi) => {
    const local = f.local(I32);
    f.get(table).mem(Op.i32Load, 2, xi * 4).set(local);
    return local;
  });
}

/** A transform's tile: its first pixel's address, its offset in the transform, its flags. */
interface TileAt {
  /** The tile's first pixel's byte address in the tensor read (wrapping: read through in-range pixels only). */
  readonly pix: number;
  /** `(t − base) · bytes`: the tile's byte offset in each transform array. */
  readonly off: number;
  /** Whether each of the tile's rows and columns is inside the tensor. */
  readonly rowOk: readonly number[];
  readonly colOk: readonly number[];
}

/**
 * The loop over tiles `t0 ≤ t < t1` (counted over the rows' tiles, row-major) of a transform
 * function: each tile's `span × span` pixels start at `(ty·m − padY, tx·m − padX)` of a
 * `height × width` grid of `bytes`-byte pixels in the tensor at address `tensor`; `channels` is
 * emitted twice, for tiles wholly inside the grid (`checked` false) and for the others.
 */
function tileLoop(
  f: FunctionBuilder,
  s: Shape,
  params: { tensor: number; t0: number; t1: number; base: number },
  grid: { span: number; height: number; width: number; padY: number; padX: number; bytes: number },
  channels: (checked: boolean, at: TileAt) => void,
): void {
  const T = tilesOf(s), { span, height, width, padY, padX, bytes } = grid;
  const [t, r, tile, y0, x0, pix, off, inside] = Array.from({ length: 8 }, () => f.local(I32));
  const rowOk = Array.from({ length: span }, () => f.local(I32));
  const colOk = Array.from({ length: span }, () => f.local(I32));
  const at: TileAt = { pix, off, rowOk, colOk };
  f.get(params.t0).set(t);
  f.forLoop(t, params.t1, 1, () => {
    f.get(t).i32(T.n).op(Op.i32DivU).set(r);
    f.get(t).get(r).i32(T.n).op(Op.i32Mul).op(Op.i32Sub).set(tile);
    f.get(tile).i32(T.tx).op(Op.i32DivU).i32(s.m).op(Op.i32Mul).i32(padY).op(Op.i32Sub).set(y0);
    f.get(tile).get(tile).i32(T.tx).op(Op.i32DivU).i32(T.tx).op(Op.i32Mul).op(Op.i32Sub);
    f.i32(s.m).op(Op.i32Mul).i32(padX).op(Op.i32Sub).set(x0);
    // pix = tensor + ((r·height + y0)·width + x0)·bytes
    f.get(r).i32(height).op(Op.i32Mul).get(y0).op(Op.i32Add).i32(width).op(Op.i32Mul).get(x0);
    f.op(Op.i32Add).i32(bytes).op(Op.i32Mul).get(params.tensor).op(Op.i32Add).set(pix);
    f.get(t).get(params.base).op(Op.i32Sub).i32(bytes).op(Op.i32Mul).set(off);
    f.i32(1).set(inside);
    const ok = (flags: number[], o: number, size: number) => {
      flags.forEach((flag, a) => {
        // 0 ≤ o + a < size, as one unsigned comparison
        f.get(o).i32(a).op(Op.i32Add).i32(size).op(Op.i32LtU).set(flag);
        f.get(inside).get(flag).op(Op.i32And).set(inside);
      });
    };
    ok(rowOk, y0, height);
    ok(colOk, x0, width);
    f.get(inside).op(Op.if, 0x40);
    channels(false, at);
    f.op(Op.else);
    channels(true, at);
    f.op(Op.end);
  });
}

/**
 * A function `(tensor, t0, t1, base, table)` that, for tiles `t0 ≤ t < t1` (counted over the rows'
 * tiles, row-major), writes `(L D Lᵀ)[ξ]` for every channel into the array `ξ` of the i32 table at
 * `table` (at `(t − base)·channels`), `D` the tile's `span × span` pixels of the tensor (`grid`;
 * zero outside it): the input transform (`L = Bᵀ`) and the gradient's (`L = A`).
 */
function transformFunction(
  s: Shape,
  l: readonly (readonly number[])[],
  grid: { span: number; height: number; width: number; padY: number; padX: number; bytes: number },
): FunctionBuilder {
  const n = l.length, N = n * n, span = grid.span;
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [tensor, t0, t1, base] = [0, 1, 2, 3], arrays = addressTable(f, 4, N);
  const [c4, q, c4End] = Array.from({ length: 3 }, () => f.local(I32));
  const d = Array.from({ length: span }, () => f.local(V128));
  const scale = scales(f, [l]);
  f.i32(grid.bytes).set(c4End);
  tileLoop(f, s, { tensor, t0, t1, base }, grid, (checked, { pix, off, rowOk, colOk }) => {
    f.i32(0).set(c4);
    f.forLoop(c4, c4End, 16, () => {
      f.get(off).get(c4).op(Op.i32Add).set(q); // the quad's byte offset in each array
      const column = (b: number) => {
        for (let a = 0; a < span; a++) {
          const at = (a * grid.width + b) * grid.bytes;
          if (!checked) {
            f.get(pix).get(c4).op(Op.i32Add).v128Load(at).set(d[a]);
            continue;
          }
          // pix may lie before the tensor: the address in full, read where in range only
          f.get(rowOk[a]).get(colOk[b]).op(Op.i32And);
          f.op(Op.if, V128);
          f.get(pix).i32(at).op(Op.i32Add).get(c4).op(Op.i32Add).v128Load(0);
          f.op(Op.else).v128Zero().op(Op.end).set(d[a]);
        }
        return (k: number) => f.get(d[k]);
      };
      sandwich(f, l, column, scale, (i, j, push) => {
        f.get(arrays[i * n + j]).get(q).op(Op.i32Add);
        push();
        f.v128Store(0);
      });
    });
  });
  return f;
}

/**
 * `input(x, t0, t1, base, v)`, `v` the address of an i32 table of the arrays `v_0 … v_{n²−1}`:
 * for tiles `t0 ≤ t < t1` (counted over the rows' tiles, row-major), `v_ξ[(t − base)·cin + c] =
 * (Bᵀ d B)[ξ]` for every channel `c`, `d` the `n × n` input pixels of the tile (zero outside the
 * image).
 */
function inputFunction(s: Shape): FunctionBuilder {
  const grid = { span: s.m + 2, height: s.h, width: s.w, padY: s.pt, padX: s.pl, bytes: s.cin * 4 };
  return transformFunction(s, winogradTransforms(s.m).bt, grid);
}

/**
 * `filter(from, to, e0, e1)`, `from` and `to` the addresses of i32 tables of `k²` and `rows²`
 * arrays of floats (`l` is `rows × k`): for the quads at byte offsets `e0 ≤ e < e1` of every
 * array, `out = L D Lᵀ`, `D[p][q]` the quad of array `p·k + q`, `out[i][j]` written to array
 * `i·rows + j`: the filters' transform (`L = G`: `U = G g Gᵀ`) and the filter gradient's last
 * step (`L = Gᵀ`: `dW = Gᵀ S G`), separably (`n²·3 + n·9` terms a quad for F(m), not `9·n²`).
 */
function filterFunction(l: readonly (readonly number[])[]): FunctionBuilder {
  const rows = l.length, k = l[0].length;
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const from = addressTable(f, 0, k * k), to = addressTable(f, 1, rows * rows);
  const [e, e1] = [2, 3];
  const d = Array.from({ length: k }, () => f.local(V128));
  const scale = scales(f, [l]);
  f.forLoop(e, e1, 16, () => {
    const column = (q: number) => {
      for (let p = 0; p < k; p++) f.get(from[p * k + q]).get(e).op(Op.i32Add).v128Load(0).set(d[p]);
      return (p: number) => f.get(d[p]);
    };
    sandwich(f, l, column, scale, (i, j, push) => {
      f.get(to[i * rows + j]).get(e).op(Op.i32Add);
      push();
      f.v128Store(0);
    });
  });
  return f;
}

/** Floats below which {@linkcode filterTransform} runs on the calling thread alone. */
const MIN_SPLIT_FILTER = 1 << 15;

/**
 * `filterFunction(l)` on the heap for F(m) (`inverse`: `L = Gᵀ`, else `L = G`): `from` the
 * tensor of its `k²` arrays of `per` floats (a multiple of 4) one after another, `to` the byte
 * addresses of its `rows²` outputs, the quads split between the heap's threads where there are
 * enough. With `wasmWinograd.filterKernel` off, as before it: one product `(L ⊗ L) · from` on
 * XNNPACK, copied out.
 */
function filterTransform(
  backend: WasmBackendLike,
  m: WinogradTile,
  inverse: boolean,
  from: tf.TensorInfo,
  to: readonly number[],
): void {
  const { g } = winogradTransforms(m);
  const l = inverse ? g[0].map((_, p) => g.map((row) => row[p])) : g;
  const k = l[0].length, rows = l.length, per = from.shape.reduce((a, b) => a * b) / (k * k);
  const { hold, giveAll, run, address } = heapWork(
    backend,
    `winograd filter ${m} ${inverse}`,
    () => ({ filter: filterFunction(l) }),
  );
  try {
    if (!wasmWinograd.filterKernel) {
      const [kron] = hold(backend.makeOutput([1, rows * rows, k * k], "float32"));
      (backend.typedArrayFromHeap(kron) as Float32Array).set(
        l.flatMap((li) => l.flatMap((lj) => li.flatMap((a) => lj.map((b) => a * b)))),
      );
      const [b] = hold(runWasm(backend, "Reshape", { x: from }, { shape: [1, k * k, per] }));
      const [product] = hold(
        runWasm(backend, "BatchMatMul", { a: kron, b }, { transposeA: false, transposeB: false }),
      );
      const values = backend.typedArrayFromHeap(product) as Float32Array;
      const heap = new Float32Array(values.buffer);
      to.forEach((at, r) => heap.set(values.subarray(r * per, (r + 1) * per), at / 4));
      return;
    }
    const [table] = hold(backend.makeOutput([k * k + to.length], "int32"));
    const addresses = Array.from({ length: k * k }, (_, a) => address(from) + a * per * 4);
    (backend.typedArrayFromHeap(table) as Int32Array).set([...addresses, ...to]);
    const at = address(table), quads = per / 4;
    run(
      "filter",
      heapRanges(backend, quads, per >= MIN_SPLIT_FILTER)
        .map(([q0, c]) => [at, at + k * k * 4, q0 * 16, (q0 + c) * 16]),
    );
  } finally {
    giveAll();
  }
}

/**
 * `output(out, bias, t0, t1, base, m)`, `m` the address of an i32 table of the arrays `m_0 …
 * m_{n²−1}`: for tiles `t0 ≤ t < t1`, the `m × m`
 * output pixels `Aᵀ M A` (+ bias; ReLU where asked) of every channel, `M[ξ]` at
 * `m_ξ[(t − base)·cout + c]`; pixels past the output's edge are not written.
 */
function outputFunction(s: Shape, bias: boolean, relu: boolean): FunctionBuilder {
  const n = s.m + 2, N = n * n, { at } = winogradTransforms(s.m);
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [out, b, t0, t1, base] = [0, 1, 2, 3, 4], ms = addressTable(f, 5, N);
  const mt = (xi: number) => ms[xi];
  const [c4, q, c4End] = Array.from({ length: 3 }, () => f.local(I32));
  const sv = Array.from({ length: n }, () => f.local(V128));
  const bv = f.local(V128), zero = f.local(V128);
  const scale = scales(f, [at]);
  const coutBytes = s.cout * 4;
  f.v128Zero().set(zero);
  f.i32(coutBytes).set(c4End);
  const grid = { span: s.m, height: s.oh, width: s.ow, padY: 0, padX: 0, bytes: coutBytes };
  tileLoop(f, s, { tensor: out, t0, t1, base }, grid, (checked, { pix, off, rowOk, colOk }) => {
    f.i32(0).set(c4);
    f.forLoop(c4, c4End, 16, () => {
      f.get(off).get(c4).op(Op.i32Add).set(q);
      if (bias) f.get(b).get(c4).op(Op.i32Add).v128Load(0).set(bv);
      const column = (j: number) => {
        for (let k = 0; k < n; k++) {
          f.get(mt(k * n + j)).get(q).op(Op.i32Add).v128Load(0).set(sv[k]);
        }
        return (k: number) => f.get(sv[k]);
      };
      sandwich(f, at, column, scale, (i, j, push) => {
        if (checked) f.get(rowOk[i]).get(colOk[j]).op(Op.i32And).op(Op.if, 0x40);
        f.get(pix).get(c4).op(Op.i32Add);
        push();
        if (bias) f.get(bv).simd(SimdOp.f32x4Add);
        if (relu) f.get(zero).simd(F32X4_MAX);
        f.v128Store((i * s.ow + j) * coutBytes);
        if (checked) f.op(Op.end);
      });
    });
  });
  return f;
}

/**
 * `grad(dy, t0, t1, base, w)`, `w` the address of an i32 table of the arrays `w_0 … w_{n²−1}`:
 * for tiles `t0 ≤ t < t1`, `w_ξ[(t − base)·cout + c] = (A δ Aᵀ)[ξ]` for every channel `c`, `δ`
 * the tile's `m × m` pixels of `dy` `[rows, oh, ow, cout]` (zero past its edge): the gradient's
 * side of the filter gradient `dW = Gᵀ [Σ_tiles (A δ Aᵀ) ⊙ (Bᵀ d B)] G`.
 */
function gradFunction(s: Shape): FunctionBuilder {
  const a = winogradTransforms(s.m).at,
    l = Array.from({ length: s.m + 2 }, (_, i) => a.map((r) => r[i]));
  const grid = { span: s.m, height: s.oh, width: s.ow, padY: 0, padX: 0, bytes: s.cout * 4 };
  return transformFunction(s, l, grid);
}

/** A register block of the products: rows of A by vec4 columns of B (4 × 8 outputs). */
const GEMM_ROWS = 4, GEMM_QUADS = 2;

/** The products' code: the defaults are the fused kernel's; a benchmark compares others. */
export interface WasmGemmOptions {
  /** Relaxed SIMD's multiply-add (where the engine validates it), or a multiply and an add. */
  readonly fma: boolean;
  /** Rows of a register block (default {@linkcode GEMM_ROWS}). */
  readonly rows?: number;
  /** Column quads of a register block (default {@linkcode GEMM_QUADS}). */
  readonly quads?: number;
  /** A's values splatted by shuffles of one load a row (default), or each by a load-splat. */
  readonly shuffle?: boolean;
}

/**
 * `gemm(a, b, c, rows)`: `C[rows, cout] = A[rows, cin] · B[cin, cout]`, row-major float32
 * (`rows` rounded up to a multiple of the register block's rows: the caller's A and C have room;
 * `cin` and `cout` multiples of 4), in register blocks of {@linkcode GEMM_ROWS} ×
 * 4·{@linkcode GEMM_QUADS} outputs (a narrower last column block where `cout` asks), four depths
 * an iteration: one vec4 load of A a row, then each depth one vec4 load a column quad of B, one
 * shuffle splatting A's value a row (fewer loads than a load-splat each, and faster:
 * `bench/wasm_gemm_bench.ts`), and a multiply-add an accumulator (or a multiply and an add). B's
 * column block stays in the L1 cache across the row blocks.
 *
 * @param cin A's columns, B's rows.
 * @param cout B's columns.
 * @param options The code's choices.
 * @returns The function.
 */
export function gemmFunction(
  cin: number,
  cout: number,
  { fma, rows: R = GEMM_ROWS, quads: Q = GEMM_QUADS, shuffle = true }: WasmGemmOptions,
): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [a, b, c, rowEnd] = [0, 1, 2, 3];
  const [col, colEnd, row, pa, pb, pc, kEnd] = Array.from({ length: 7 }, () => f.local(I32));
  const acc = Array.from({ length: R }, () => Array.from({ length: Q }, () => f.local(V128)));
  const bv = Array.from({ length: Q }, () => f.local(V128));
  const av = f.local(V128), ar = Array.from({ length: R }, () => f.local(V128));
  // i8x16.shuffle's lanes that splat a vector's float u
  const splat = (u: number) => Array.from({ length: 16 }, (_, e) => 4 * u + (e % 4));
  const cinBytes = cin * 4, coutBytes = cout * 4;
  const block = (quads: number) => {
    f.i32(0).set(row);
    f.forLoop(row, rowEnd, R, () => {
      for (const r of acc) for (let j = 0; j < quads; j++) f.v128Zero().set(r[j]);
      f.get(a).get(row).i32(cinBytes).op(Op.i32Mul).op(Op.i32Add).set(pa);
      f.get(pa).i32(cinBytes).op(Op.i32Add).set(kEnd);
      f.get(b).get(col).op(Op.i32Add).set(pb);
      f.forLoop(pa, kEnd, 16, () => {
        if (shuffle) { for (let i = 0; i < R; i++) f.get(pa).v128Load(i * cinBytes).set(ar[i]); }
        for (let u = 0; u < 4; u++) {
          for (let j = 0; j < quads; j++) f.get(pb).v128Load(u * coutBytes + j * 16).set(bv[j]);
          for (let i = 0; i < R; i++) {
            if (shuffle) f.get(ar[i]).get(ar[i]).simd(SimdOp.i8x16Shuffle, ...splat(u));
            else f.get(pa).v128Load32Splat(i * cinBytes + u * 4);
            f.set(av);
            for (let j = 0; j < quads; j++) {
              if (fma) f.get(av).get(bv[j]).get(acc[i][j]).simd(SimdOp.f32x4RelaxedMadd);
              else f.get(acc[i][j]).get(av).get(bv[j]).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add);
              f.set(acc[i][j]);
            }
          }
        }
        f.get(pb).i32(4 * coutBytes).op(Op.i32Add).set(pb);
      });
      f.get(c).get(row).i32(coutBytes).op(Op.i32Mul).op(Op.i32Add).get(col).op(Op.i32Add).set(pc);
      for (let i = 0; i < R; i++) {
        for (let j = 0; j < quads; j++) f.get(pc).get(acc[i][j]).v128Store(i * coutBytes + j * 16);
      }
    });
  };
  const full = Math.floor(cout / 4 / Q) * Q * 16, rest = (cout / 4) % Q;
  f.i32(0).set(col).i32(full).set(colEnd);
  f.forLoop(col, colEnd, Q * 16, () => block(Q));
  if (rest > 0) {
    f.i32(full).set(col);
    block(rest);
  }
  return f;
}

/** Depths (tiles) of the filter gradient's products between reloads of the sums. */
const GRAD_DEPTH = 128;

/**
 * `products(v, w, sums, xi0, xi1, count)`: for `xi0 ≤ ξ < xi1`, `sums[ξ] += V[ξ]ᵀ · W[ξ]`
 * (`[cin, cout]` row-major at `sums + ξ·cin·cout·4`), `V[ξ]` `[count, cin]` and `W[ξ]`
 * `[count, cout]` at the addresses of the i32 tables `v` and `w`: the filter gradient's `(m + 2)²`
 * products, each summed by one thread in a fixed order. Register blocks of 4 input × 8 output
 * channels: each depth one vec4 load of `V`'s four channels, four shuffles splatting them, two
 * vec4 loads of `W`, eight multiply-adds (or multiplies and adds); the sums reloaded every
 * {@linkcode GRAD_DEPTH} tiles so that `V[ξ]` and `W[ξ]`'s rows stay in the caches. A 1×1
 * conv's filter gradient `xᵀ · dy` runs on it too (lib/train/_wasm_pointwise_filter_grad.ts).
 * `cin` and `cout` must be multiples of 4.
 *
 * @param cin `V`'s columns.
 * @param cout `W`'s columns.
 * @param fma Whether to use relaxed SIMD's multiply-add.
 * @returns The function.
 */
export function gradProductsFunction(cin: number, cout: number, fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [vTable, wTable, sums, xi0, xi1, count] = [0, 1, 2, 3, 4, 5];
  const [xi, va, wa, ca, kb, kbEnd, i, iEnd, o, oEnd, pv, pw, pc, kEnd] = Array.from(
    { length: 14 },
    () => f.local(I32),
  );
  const acc = Array.from({ length: 4 }, () => Array.from({ length: 2 }, () => f.local(V128)));
  const vv = f.local(V128), av = f.local(V128), wv = [f.local(V128), f.local(V128)];
  const cinBytes = cin * 4, coutBytes = cout * 4;
  const splat = (u: number) => Array.from({ length: 16 }, (_, e) => 4 * u + (e % 4));
  // one register block (i, o: byte offsets of the channels in a row of V, of W and of the sums):
  // sums[i..i+3, o..o+4q−1] += Σ_k V[k, i..i+3]ᵀ W[k, o..]
  const block = (quads: number) => {
    f.get(ca).get(i).i32(cout).op(Op.i32Mul).op(Op.i32Add).get(o).op(Op.i32Add).set(pc);
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < quads; j++) f.get(pc).v128Load(r * coutBytes + j * 16).set(acc[r][j]);
    }
    f.get(va).get(kb).i32(cinBytes).op(Op.i32Mul).op(Op.i32Add).get(i).op(Op.i32Add).set(pv);
    f.get(va).get(kbEnd).i32(cinBytes).op(Op.i32Mul).op(Op.i32Add).get(i).op(Op.i32Add).set(kEnd);
    f.get(wa).get(kb).i32(coutBytes).op(Op.i32Mul).op(Op.i32Add).get(o).op(Op.i32Add).set(pw);
    f.forLoop(pv, kEnd, cinBytes, () => {
      f.get(pv).v128Load(0).set(vv);
      for (let j = 0; j < quads; j++) f.get(pw).v128Load(j * 16).set(wv[j]);
      for (let r = 0; r < 4; r++) {
        f.get(vv).get(vv).simd(SimdOp.i8x16Shuffle, ...splat(r)).set(av);
        for (let j = 0; j < quads; j++) {
          if (fma) f.get(av).get(wv[j]).get(acc[r][j]).simd(SimdOp.f32x4RelaxedMadd);
          else f.get(acc[r][j]).get(av).get(wv[j]).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add);
          f.set(acc[r][j]);
        }
      }
      f.get(pw).i32(coutBytes).op(Op.i32Add).set(pw);
    });
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < quads; j++) f.get(pc).get(acc[r][j]).v128Store(r * coutBytes + j * 16);
    }
  };
  const full = Math.floor(cout / 8) * 32, rest = (cout / 4) % 2;
  f.get(xi0).set(xi);
  f.forLoop(xi, xi1, 1, () => {
    f.get(vTable).get(xi).i32(4).op(Op.i32Mul).op(Op.i32Add).mem(Op.i32Load, 2, 0).set(va);
    f.get(wTable).get(xi).i32(4).op(Op.i32Mul).op(Op.i32Add).mem(Op.i32Load, 2, 0).set(wa);
    f.get(sums).get(xi).i32(cin * coutBytes).op(Op.i32Mul).op(Op.i32Add).set(ca);
    f.i32(0).set(kb);
    f.forLoop(kb, count, GRAD_DEPTH, () => {
      f.setBlockEnd(kbEnd, kb, GRAD_DEPTH, count);
      f.i32(0).set(i).i32(cinBytes).set(iEnd);
      f.forLoop(i, iEnd, 16, () => {
        f.i32(0).set(o).i32(full).set(oEnd);
        f.forLoop(o, oEnd, 32, () => block(2));
        if (rest > 0) {
          f.i32(full).set(o);
          block(1);
        }
      });
    });
  });
  return f;
}

/** Function indices of a fused kernel's module (the order of {@linkcode fusedModule}'s keys). */
const INPUT = 0, OUTPUT = 1, GEMM = 2;

/**
 * The fused kernel's module: `fused(x, out, bias, t0, t1, scratch, filters)` runs tiles
 * `t0 ≤ t < t1` in blocks of `block` tiles, each block wholly in the thread's own `scratch`
 * (`V` then `M`, small enough to stay in its caches): the input transform into `V`, the
 * `(m + 2)²` products `M[ξ] = V[ξ] · U[ξ]` (`filters`: an i32 table of the `U[ξ]` addresses),
 * the output transform. The products run over the block's tiles rounded up to a multiple of
 * {@linkcode GEMM_ROWS} (the rows past them never read).
 */
function fusedModule(
  s: Shape,
  block: number,
  bias: boolean,
  relu: boolean,
  fma: boolean,
): Record<string, FunctionBuilder> {
  const N = (s.m + 2) ** 2, vBytes = block * s.cin * 4, mBytes = block * s.cout * 4;
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32]);
  const [x, out, b, t0, t1, scratch, filters] = [0, 1, 2, 3, 4, 5, 6];
  const [t, end] = [f.local(I32), f.local(I32)];
  const vAt = (xi: number) => f.get(scratch).i32(xi * vBytes).op(Op.i32Add);
  const mAt = (xi: number) => f.get(scratch).i32(N * vBytes + xi * mBytes).op(Op.i32Add);
  // the transforms' tables of V[ξ] and M[ξ], after them in the scratch
  const tables = N * (vBytes + mBytes);
  for (let xi = 0; xi < N; xi++) {
    f.get(scratch);
    vAt(xi);
    f.mem(Op.i32Store, 2, tables + xi * 4);
    f.get(scratch);
    mAt(xi);
    f.mem(Op.i32Store, 2, tables + (N + xi) * 4);
  }
  const table = (at: number) => f.get(scratch).i32(at).op(Op.i32Add);
  f.get(t0).set(t);
  f.forLoop(t, t1, block, () => {
    f.setBlockEnd(end, t, block, t1);
    f.get(x).get(t).get(end).get(t);
    table(tables);
    f.op(Op.call, INPUT);
    for (let xi = 0; xi < N; xi++) {
      vAt(xi);
      f.get(filters).mem(Op.i32Load, 2, xi * 4);
      mAt(xi);
      // the block's rows, rounded up to a multiple of GEMM_ROWS
      f.get(end).get(t).op(Op.i32Sub).i32(GEMM_ROWS - 1).op(Op.i32Add);
      f.i32(GEMM_ROWS).op(Op.i32DivU).i32(GEMM_ROWS).op(Op.i32Mul);
      f.op(Op.call, GEMM);
    }
    f.get(out).get(b).get(t).get(end).get(t);
    table(tables + N * 4);
    f.op(Op.call, OUTPUT);
  });
  return {
    input: inputFunction(s),
    output: outputFunction(s, bias, relu),
    gemm: gemmFunction(s.cin, s.cout, { fma }),
    fused: f,
  };
}

/**
 * A kernel's temporaries on the heap and its generated functions: `hold` records a temporary,
 * `give` frees some (as they are read), `giveAll` frees the rest (on a failure); `run` runs a
 * function of the module built by `build` (once per `key`) on `parts`; `address` is a tensor's
 * byte address.
 */
function heapWork(
  backend: WasmBackendLike,
  key: string,
  build: () => Record<string, FunctionBuilder>,
) {
  const held = new Set<tf.TensorInfo>();
  const give = (...infos: tf.TensorInfo[]) => {
    infos.forEach((t) => held.delete(t));
    free(backend, ...infos);
  };
  const hold = <T extends tf.TensorInfo>(...infos: T[]): T[] => {
    infos.forEach((t) => held.add(t));
    return infos;
  };
  const address = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
  return {
    hold,
    give,
    giveAll: () => give(...held),
    run: (name: string, parts: number[][]) => {
      if (!heapRun(backend, key, build, name, parts)) {
        throw new Error(`${WINOGRAD_CONV}: the wasm heap was not found`);
      }
    },
    address,
    /** Runs `fn` with the address of an i32 table of the tensors' addresses on the heap. */
    withTable: (infos: readonly tf.TensorInfo[], fn: (at: number) => void): void => {
      const [t] = hold(backend.makeOutput([infos.length], "int32"));
      (backend.typedArrayFromHeap(t) as Int32Array).set(infos.map(address));
      try {
        fn(address(t));
      } finally {
        give(t);
      }
    },
  };
}

/**
 * The kernel: inputs `x` `[rows, h, w, cin]`, `u0` … `u{n²−1}` the transformed filters
 * `[1, 1, cin, cout]`, `bias` `[cout]` (optional); attrs `pad` `[top, bottom, left, right]`
 * (≥ 0), `tile` (2, 4 or 6), `relu`. Output `[rows, oh, ow, cout]`.
 */
function winogradConv(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, bias } = args.inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
  const m = args.attrs?.tile as WinogradTile;
  const relu = args.attrs?.relu === true;
  const [pt, pb, pl, pr] = (args.attrs?.pad ?? [0, 0, 0, 0]) as number[];
  const n = m + 2, N = n * n;
  const u = Array.from({ length: N }, (_, xi) => args.inputs[`u${xi}`] as tf.TensorInfo);
  const [, h, w, cin] = x.shape;
  const cout = u[0]?.shape[3] ?? 0;
  const oh = h + pt + pb - 2, ow = w + pl + pr - 2;
  if (
    ![2, 4, 6].includes(m) || x.dtype !== "float32" || x.shape.length !== 4 || cin % 4 !== 0 ||
    cout % 4 !== 0 || cout === 0 || oh < 1 || ow < 1 ||
    u.some((k) => k?.dtype !== "float32" || `${k.shape}` !== `1,1,${cin},${cout}`) ||
    (bias !== undefined && `${bias.shape}` !== `${cout}`) ||
    [pt, pb, pl, pr].some((p) => !Number.isInteger(p) || p < 0)
  ) {
    throw new RangeError(
      `${WINOGRAD_CONV}: x [${x.shape}] (${x.dtype}), tile ${m}, filters [${u[0]?.shape}], pad [${[
        pt,
        pb,
        pl,
        pr,
      ]}]: expected float32 x [rows, h, w, cin] with cin a multiple of 4, tile 2, 4 or 6, ${N} filters [1, 1, cin, cout] with cout a multiple of 4, padding ≥ 0 leaving an output`,
    );
  }
  return winogradOnHeap(backend, x, u, bias, [pt, pb, pl, pr], m, relu);
}

/** The kernel's work, on checked inputs (see {@linkcode winogradConv}). */
function winogradOnHeap(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  u: readonly tf.TensorInfo[],
  bias: tf.TensorInfo | undefined,
  [pt, pb, pl, pr]: readonly number[],
  m: WinogradTile,
  relu: boolean,
): tf.TensorInfo {
  const [rows, h, w, cin] = x.shape, cout = u[0].shape[3], N = u.length;
  const oh = h + pt + pb - 2, ow = w + pl + pr - 2;
  const s: Shape = { m, h, w, cin, cout, pt, pl, oh, ow };
  winogradRuns.count++;
  const out = backend.makeOutput([rows, oh, ow, cout], "float32");
  if (wasmWinograd.fused) return fusedOnHeap(backend, x, u, bias, s, relu, out);
  const total = rows * tilesOf(s).n;
  const perChunk = Math.max(1, Math.floor(wasmWinograd.chunkBytes / (N * (cin + cout) * 4)));
  const key = `winograd ${relu} ${bias !== undefined} ${Object.values(s).join("x")}`;
  const build = () => ({
    input: inputFunction(s),
    output: outputFunction(s, bias !== undefined, relu),
  });
  const { hold, give, giveAll, run, address, withTable } = heapWork(backend, key, build);
  try {
    for (let base = 0; base < total; base += perChunk) {
      const count = Math.min(perChunk, total - base);
      const v = hold(...u.map(() => backend.makeOutput([1, 1, count, cin], "float32")));
      const ranges = heapRanges(backend, count, count >= MIN_SPLIT_TILES);
      const xAt = address(x);
      withTable(
        v,
        (vAt) => run("input", ranges.map(([s0, c]) => [xAt, base + s0, base + s0 + c, base, vAt])),
      );
      const mt = v.map((vi, xi) => {
        const [product] = hold(
          runWasm(backend, "Conv2D", { x: vi, filter: u[xi] }, {
            strides: 1,
            dilations: 1,
            pad: "valid",
            dataFormat: "NHWC",
          }),
        );
        give(vi);
        return product;
      });
      const outAt = address(out), bAt = bias === undefined ? 0 : address(bias);
      withTable(
        mt,
        (mAt) =>
          run("output", ranges.map(([s0, c]) => [outAt, bAt, base + s0, base + s0 + c, base, mAt])),
      );
      give(...mt);
    }
  } catch (e) {
    giveAll();
    free(backend, out);
    throw e;
  }
  return out;
}

/**
 * {@linkcode winogradOnHeap}'s work by the fused kernel ({@linkcode fusedModule}): the tiles split
 * between the heap's threads, each with its own scratch of one block.
 */
function fusedOnHeap(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  u: readonly tf.TensorInfo[],
  bias: tf.TensorInfo | undefined,
  s: Shape,
  relu: boolean,
  out: tf.TensorInfo,
): tf.TensorInfo {
  const N = u.length, total = x.shape[0] * tilesOf(s).n;
  const perTile = N * (s.cin + s.cout) * 4;
  const ranges = heapRanges(backend, total, total >= MIN_SPLIT_TILES);
  // the most tiles a block (a multiple of GEMM_ROWS), then as even blocks as a part allows
  const most = Math.max(1, Math.floor(wasmWinograd.blockBytes / perTile / GEMM_ROWS)) * GEMM_ROWS;
  const part = Math.max(...ranges.map(([, c]) => c));
  const even = Math.ceil(part / Math.ceil(part / most));
  const block = Math.ceil(even / GEMM_ROWS) * GEMM_ROWS;
  const fma = wasmWinograd.fma && relaxedSimd();
  const key = `winograd fused ${block} ${fma} ${relu} ${bias !== undefined} ${
    Object.values(s).join("x")
  }`;
  const { hold, giveAll, run, address, withTable } = heapWork(
    backend,
    key,
    () => fusedModule(s, block, bias !== undefined, relu, fma),
  );
  // a part's scratch: V and M of a block, then the transforms' tables (2 N addresses)
  const scratchBytes = block * perTile + 8 * N;
  try {
    const [scratch] = hold(backend.makeOutput([ranges.length * scratchBytes / 4], "float32"));
    const at = [address(x), address(out), bias === undefined ? 0 : address(bias)];
    const sAt = address(scratch);
    withTable(
      u,
      (fAt) =>
        run("fused", ranges.map(([t0, c], p) => [...at, t0, t0 + c, sAt + p * scratchBytes, fAt])),
    );
  } catch (e) {
    free(backend, out);
    throw e;
  } finally {
    giveAll();
  }
  return out;
}

/**
 * Whether the engine runs a conv by {@linkcode WINOGRAD_CONV} (switched on; a 3×3 stride-1 conv
 * of at least `minChannels` input and output channels, multiples of 4), registering the kernel
 * on the active backend once when it is a tfjs-wasm one.
 *
 * @param kernelSize The conv's kernel size.
 * @param strides Its strides.
 * @param cin Input channels (of the correlation run: the layer's outputs for a transpose).
 * @param cout Output channels.
 * @returns Whether to call the kernel.
 */
export function winogradConvReady(
  kernelSize: readonly number[],
  strides: readonly number[],
  cin: number,
  cout: number,
): boolean {
  const { enabled, minChannels } = wasmWinograd;
  return enabled && kernelSize[0] === 3 && kernelSize[1] === 3 && strides[0] === 1 &&
    strides[1] === 1 && cin % 4 === 0 && cout % 4 === 0 && cin >= minChannels &&
    cout >= minChannels && registerOnActiveWasm([[WINOGRAD_CONV, winogradConv]]);
}

/**
 * The transformed filters `U[ξ][i, o] = (G g_io Gᵀ)[ξ]`, computed in float64, of a 3×3 kernel
 * `[3, 3, cin, cout]` (HWIO), or of its transpose's correlation (`transposed`: the kernel
 * flipped, its channels swapped: `[3, 3, cout, cin]`): one `[cin', cout']` array per ξ.
 *
 * @param kernel The kernel's values, HWIO.
 * @param cin Its input channels.
 * @param cout Its output channels.
 * @param transposed Whether for the transpose.
 * @param m The tile.
 * @returns `(m + 2)²` arrays, row-major `[cin', cout']`.
 */
export function winogradFilterValues(
  kernel: Float64Array,
  cin: number,
  cout: number,
  transposed: boolean,
  m: WinogradTile,
): Float64Array[] {
  const n = m + 2, { g } = winogradTransforms(m), per = cin * cout;
  const taps = Array.from({ length: 9 }, (_, tap) => {
    const [p, q] = [Math.floor(tap / 3), tap % 3];
    if (!transposed) return kernel.subarray(tap * per, (tap + 1) * per);
    // the correlation's tap (p, q) is the kernel's (2 − p, 2 − q), channels swapped
    const src = kernel.subarray(((2 - p) * 3 + 2 - q) * per), out = new Float64Array(per);
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) out[o * cin + i] = src[i * cout + o];
    }
    return out;
  });
  return Array.from({ length: n * n }, (_, xi) => {
    const [a, b] = [Math.floor(xi / n), xi % n], u = new Float64Array(per);
    for (let tap = 0; tap < 9; tap++) {
      const c = g[a][Math.floor(tap / 3)] * g[b][tap % 3];
      if (c === 0) continue;
      const k = taps[tap];
      for (let e = 0; e < per; e++) u[e] += c * k[e];
    }
    return u;
  });
}

/**
 * A stride-1 3×3 correlation of `x` `[rows, h, w, cin]` with `filter` `[3, 3, cin, cout]`
 * (HWIO, float32, on the heap: a training step's, which changes every step) by Winograd, where
 * the engine's rules take it ({@linkcode winogradConvReady}, {@linkcode winogradTileFor}) and
 * the conv is large enough (`wasmWinograd.minFilterMacs`), inside {@linkcode withWinogradConvs}: the
 * transformed filters made on the heap in float32 (`G g Gᵀ` by one generated kernel,
 * `filterFunction`, then given back), with padding `pad` (top, bottom, left, right, ≥ 0), `bias`
 * `[cout]` and a ReLU where given. Null where the rules do not take it (the caller runs its own conv).
 *
 * @param backend The tfjs-wasm backend.
 * @param x The input.
 * @param filter The filter.
 * @param pad The padding.
 * @param bias The bias, or undefined.
 * @param relu Whether to apply a ReLU.
 * @returns The output `[rows, oh, ow, cout]`, or null.
 */
export function winogradWithFilter(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pad: readonly number[],
  bias?: tf.TensorInfo,
  relu = false,
): tf.TensorInfo | null {
  const [kh, kw, cin, cout] = filter.shape;
  const [, h, w, xc] = x.shape;
  const oh = h + pad[0] + pad[1] - 2, ow = w + pad[2] + pad[3] - 2;
  if (
    x.dtype !== "float32" || filter.dtype !== "float32" || x.shape.length !== 4 ||
    xc !== cin || kh !== 3 || kw !== 3 || oh < 1 || ow < 1 || pad.some((p) => p < 0) ||
    (bias !== undefined && (bias.dtype !== "float32" || `${bias.shape}` !== `${cout}`))
  ) return null;
  const m = allowed > 0 ? winogradTileFor(oh, ow) : false;
  if (
    m === false || x.shape[0] * oh * ow * 9 * cin * cout < wasmWinograd.minFilterMacs ||
    !winogradConvReady([kh, kw], [1, 1], cin, cout)
  ) return null;
  const N = (m + 2) ** 2;
  const u = Array.from({ length: N }, () => backend.makeOutput([1, 1, cin, cout], "float32"));
  try {
    filterTransform(
      backend,
      m,
      false,
      filter,
      u.map((t) => backend.typedArrayFromHeap(t).byteOffset),
    );
    return winogradOnHeap(backend, x, u, bias, pad, m, relu);
  } finally {
    free(backend, ...u);
  }
}

/**
 * The filter gradient of a stride-1 3×3 conv, `dW[p, q, i, o] = Σ x_pad[r, y + p, x + q, i] ·
 * dy[r, y, x, o]`, by Winograd, where the rules take it ({@linkcode winogradWithFilter}'s): for
 * each chunk of `dy`'s tiles the input transform of `x` (`V`, padding `pad` applied on the fly)
 * and the gradient's (`A δ Aᵀ`), split between the threads by tiles, then the `(m + 2)²` products
 * `V[ξ]ᵀ · W[ξ]` (`[cin, cout]`, summed over chunks; split between the threads by `ξ`, each
 * summed by one, with the fused kernel's multiply-add: `gradProductsFunction`; on XNNPACK where
 * `wasmWinograd.fused` is off), then `dW = Gᵀ S G` of their sums `S` (`filterFunction`). Null
 * where the rules do not take it.
 *
 * @param backend The tfjs-wasm backend.
 * @param x The conv's input `[rows, h, w, cin]`.
 * @param dy The gradient of its output `[rows, oh, ow, cout]`.
 * @param pad The conv's padding (top, bottom, left, right).
 * @returns `dW` `[3, 3, cin, cout]`, or null.
 */
export function winogradFilterGrad(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  pad: readonly number[],
): tf.TensorInfo | null {
  const [rows, h, w, cin] = x.shape, [dr, oh, ow, cout] = dy.shape;
  const [pt, , pl] = pad;
  if (
    x.dtype !== "float32" || dy.dtype !== "float32" || x.shape.length !== 4 ||
    dy.shape.length !== 4 || dr !== rows || rows === 0 || oh < 1 || ow < 1 ||
    pad.some((p) => p < 0)
  ) return null;
  const m = allowed > 0 ? winogradTileFor(oh, ow) : false;
  if (
    m === false || rows * oh * ow * 9 * cin * cout < wasmWinograd.minFilterMacs ||
    !winogradConvReady([3, 3], [1, 1], cin, cout)
  ) return null;
  const n = m + 2, N = n * n, per = cin * cout;
  const s: Shape = { m, h, w, cin, cout, pt, pl, oh, ow };
  winogradRuns.count++;
  const total = rows * tilesOf(s).n;
  const perChunk = Math.max(1, Math.floor(wasmWinograd.chunkBytes / (N * (cin + cout) * 4)));
  // the products by masokit's code where the fused kernel runs the convs, else on XNNPACK
  const own = wasmWinograd.fused, fma = wasmWinograd.fma && relaxedSimd();
  const key = `winograd grad ${own} ${fma} ${Object.values(s).join("x")}`;
  const build = () => ({
    input: inputFunction(s),
    grad: gradFunction(s),
    ...(own ? { products: gradProductsFunction(cin, cout, fma) } : {}),
  });
  const { hold, give, giveAll, run, address, withTable } = heapWork(backend, key, build);
  // Σ over chunks of V[ξ]ᵀ · W[ξ]
  const [sums] = hold(backend.makeOutput([1, N, per], "float32"));
  if (own) (backend.typedArrayFromHeap(sums) as Float32Array).fill(0);
  try {
    for (let base = 0; base < total; base += perChunk) {
      const count = Math.min(perChunk, total - base);
      const v = hold(
        ...Array.from({ length: N }, () => backend.makeOutput([count, cin], "float32")),
      );
      const wt = hold(
        ...Array.from({ length: N }, () => backend.makeOutput([1, count, cout], "float32")),
      );
      const ranges = heapRanges(backend, count, count >= MIN_SPLIT_TILES);
      const xAt = address(x), dyAt = address(dy);
      withTable(
        v,
        (vAt) => run("input", ranges.map(([s0, c]) => [xAt, base + s0, base + s0 + c, base, vAt])),
      );
      withTable(
        wt,
        (wAt) => run("grad", ranges.map(([s0, c]) => [dyAt, base + s0, base + s0 + c, base, wAt])),
      );
      if (own) {
        // the (m + 2)² products split between the threads, each summed by one
        const sAt = address(sums);
        withTable(v, (vAt) =>
          withTable(wt, (wAt) =>
            run(
              "products",
              heapRanges(backend, N).map(([x0, c]) => [vAt, wAt, sAt, x0, x0 + c, count]),
            )));
        give(...v, ...wt);
        continue;
      }
      for (let xi = 0; xi < N; xi++) {
        const [vT] = hold(runWasm(backend, "Transpose", { x: v[xi] }, { perm: [1, 0] }));
        give(v[xi]);
        const [a] = hold(runWasm(backend, "Reshape", { x: vT }, { shape: [1, cin, count] }));
        const [product] = hold(
          runWasm(backend, "BatchMatMul", { a, b: wt[xi] }, {
            transposeA: false,
            transposeB: false,
          }),
        );
        give(vT, a, wt[xi]);
        const into = (backend.typedArrayFromHeap(sums) as Float32Array).subarray(xi * per);
        const from = backend.typedArrayFromHeap(product) as Float32Array;
        if (base === 0) into.set(from);
        else for (let e = 0; e < per; e++) into[e] += from[e];
        give(product);
      }
    }
    // dW = Gᵀ S G (a failure frees dW with the rest)
    const [dw] = hold(backend.makeOutput([3, 3, cin, cout], "float32"));
    const to = Array.from({ length: 9 }, (_, tap) => address(dw) + tap * per * 4);
    filterTransform(backend, m, true, sums, to);
    give(sums);
    return dw;
  } catch (e) {
    giveAll();
    throw e;
  }
}
