/**
 * Batch-norm's training passes over `[rows, C]` float32 data on tfjs-wasm's heap as generated
 * WebAssembly SIMD (4 channels at a time, C a multiple of 4), for the kernels of
 * `wasm_kernels.ts`:
 *
 * - `colsum`: per-channel sums of each block of rows (the moments' Mean, Sum over leading axes);
 * - `gradsums`: S₁ = Σ dy and S₂ = Σ dy·(x − μ) of each block of rows (the batch-norm
 *   gradient's two reductions);
 * - `devsums`: Σ (x − μ)² of each block of rows (the training pass's variance);
 * - `scale`: dy·k per channel (its input gradient);
 * - `affine`: β + (x − μ)·k per channel (the forward pass);
 * - `combine`: dy·k + (x − μ)·q + r per channel (the training pass's input gradient, through the
 *   batch's moments).
 *
 * Sums run in float32 registers over blocks of at most {@link SUM_BLOCK_ROWS} rows, one output
 * row per block, and the caller adds the blocks up in float64, so one sum over 57,600 rows (a
 * smallCNN batch) keeps the accuracy of the float64 loops these replace to within float32
 * rounding of the block sums. Callers split rows (whole blocks, for the sums) between threads.
 *
 * @module
 */
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../util/_wasm_emitter.ts";
import { heapMemory, heapRanges, heapRun, type WasmBackendLike } from "../backend/_wasm_ops.ts";

/** Rows summed in float32 registers before the caller adds the block's sums in float64. */
export const SUM_BLOCK_ROWS = 256;

/**
 * Switches for benchmarks and tests: the SIMD passes at all (the JS loops otherwise), and the
 * fewest values a pass splits between threads (a helper's hand-off costs ≈40 µs).
 */
export const wasmBatchNormSimd = { enabled: true, minSplitValues: 1 << 16 };

/** The generated functions; addresses are bytes on the heap, `rows` a count. */
export interface BatchNormSimd {
  /** dst[b, j] = Σ src[r, j] over the rows r of block b ({@link SUM_BLOCK_ROWS} rows a block). */
  colsum(src: number, rows: number, dst: number): void;
  /**
   * s1[b, j] = Σ dy[r, j], s2[b, j] = Σ dy[r, j]·(x[r, j] − mean[j]) over the rows r of block b.
   */
  gradsums(x: number, dy: number, mean: number, rows: number, s1: number, s2: number): void;
  /** s[b, j] = Σ (x[r, j] − mean[j])² over the rows r of block b. */
  devsums(x: number, mean: number, rows: number, s: number): void;
  /** out[r, j] = dy[r, j]·k[j]. */
  scale(dy: number, k: number, rows: number, out: number): void;
  /** out[r, j] = b[j] + (x[r, j] − m[j])·k[j]. */
  affine(x: number, m: number, k: number, b: number, rows: number, out: number): void;
  /**
   * out[r, j] = dy[r, j]·k[j] + (x[r, j] − m[j])·q[j] + c[j]; `kqc` holds k, q, c as three
   * rows of C, `m` the mean.
   */
  combine(dy: number, x: number, m: number, kqc: number, rows: number, out: number): void;
}

/**
 * Emits `body(vectors)` for every block of up to `block` 4-channel vectors of a row of `vecs`,
 * with the block's byte offset in local `vOff`: full blocks in a loop, the rest once.
 */
function channelBlocks(
  f: FunctionBuilder,
  vecs: number,
  block: number,
  vOff: number,
  vEnd: number,
  body: (vectors: number) => void,
): void {
  const full = vecs - (vecs % block);
  if (full > 0) {
    f.i32(0).set(vOff).i32(full * 16).set(vEnd);
    f.forLoop(vOff, vEnd, block * 16, () => body(block));
  }
  if (full < vecs) {
    f.i32(full * 16).set(vOff);
    body(vecs - full);
  }
}

/**
 * Emits a sweep over the rows in blocks of {@link SUM_BLOCK_ROWS}: `start(b)` before each
 * block (b: the block's index as a local), `row(p)` for each row (p: the row's address in the
 * first input), `finish(b)` after it. `src` and `rows` are the first input and the row count.
 */
function blockSweep(
  f: FunctionBuilder,
  cols: number,
  src: number,
  rows: number,
  start: (block: number) => void,
  row: (p: number) => void,
  finish: (block: number) => void,
): void {
  const p = f.local(I32), end = f.local(I32), blockEnd = f.local(I32), block = f.local(I32);
  const rowBytes = cols * 4;
  f.get(rows).i32(rowBytes).op(Op.i32Mul).get(src).op(Op.i32Add).set(end);
  f.get(src).set(p).i32(0).set(block);
  f.forLoop(p, end, 0, () => {
    // blockEnd = min(p + SUM_BLOCK_ROWS rows, end)
    f.get(p).i32(SUM_BLOCK_ROWS * rowBytes).op(Op.i32Add).get(end);
    f.get(p).i32(SUM_BLOCK_ROWS * rowBytes).op(Op.i32Add).get(end).op(Op.i32LtU);
    f.op(Op.select).set(blockEnd);
    start(block);
    f.forLoop(p, blockEnd, rowBytes, () => row(p));
    finish(block);
    f.get(block).i32(1).op(Op.i32Add).set(block);
  });
}

/**
 * `colsum(src, rows, dst)`: each block of up to {@link SUM_BLOCK_ROWS} rows summed into one
 * row of dst ([blocks, cols]); 8 vectors (32 channels) of accumulators per sweep.
 */
function colsumFunction(cols: number): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32]);
  const [src, rows, dst] = [0, 1, 2];
  const vOff = f.local(I32), vEnd = f.local(I32), base = f.local(I32);
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  channelBlocks(f, cols / 4, 8, vOff, vEnd, (vectors) => {
    f.get(src).get(vOff).op(Op.i32Add).set(base);
    blockSweep(f, cols, base, rows, () => {
      for (let v = 0; v < vectors; v++) f.v128Zero().set(acc[v]);
    }, (p) => {
      for (let v = 0; v < vectors; v++) {
        f.get(acc[v]).get(p).v128Load(v * 16).simd(SimdOp.f32x4Add).set(acc[v]);
      }
    }, (block) => {
      for (let v = 0; v < vectors; v++) {
        f.get(block).i32(cols * 4).op(Op.i32Mul).get(dst).op(Op.i32Add).get(vOff).op(Op.i32Add);
        f.get(acc[v]).v128Store(v * 16);
      }
    });
  });
  return f;
}

/**
 * `gradsums(x, dy, mean, rows, s1, s2)`: per block of rows as in `colsum`, into s1 and s2
 * ([blocks, cols] each); 4 vectors (16 channels) per sweep. With `squares`,
 * `devsums(x, mean, rows, s)`: Σ (x − mean)² into s (every term ≥ 0: no cancellation, unlike
 * Σ x² − n·mean²).
 */
function gradsumsFunction(cols: number, squares = false): FunctionBuilder {
  const f = new FunctionBuilder(new Array(squares ? 4 : 6).fill(I32));
  const [x, dy, mean, rows, s1, s2] = squares ? [0, 0, 1, 2, -1, 3] : [0, 1, 2, 3, 4, 5];
  const vOff = f.local(I32), vEnd = f.local(I32), base = f.local(I32), dx = f.local(I32);
  const o = f.local(I32);
  const a1 = Array.from({ length: 4 }, () => f.local(V128));
  const a2 = Array.from({ length: 4 }, () => f.local(V128));
  const mu = Array.from({ length: 4 }, () => f.local(V128));
  const d = f.local(V128);
  f.get(x).get(dy).op(Op.i32Sub).set(dx); // x and dy share their layout
  channelBlocks(f, cols / 4, 4, vOff, vEnd, (vectors) => {
    for (let v = 0; v < vectors; v++) {
      f.get(mean).get(vOff).op(Op.i32Add).v128Load(v * 16).set(mu[v]);
    }
    f.get(dy).get(vOff).op(Op.i32Add).set(base);
    blockSweep(f, cols, base, rows, () => {
      for (let v = 0; v < vectors; v++) {
        if (!squares) f.v128Zero().set(a1[v]);
        f.v128Zero().set(a2[v]);
      }
    }, (p) => {
      for (let v = 0; v < vectors; v++) {
        if (squares) {
          f.get(p).v128Load(v * 16).get(mu[v]).simd(SimdOp.f32x4Sub).set(d);
          f.get(a2[v]).get(d).get(d).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(a2[v]);
          continue;
        }
        f.get(p).v128Load(v * 16).set(d);
        f.get(a1[v]).get(d).simd(SimdOp.f32x4Add).set(a1[v]);
        f.get(a2[v]).get(d);
        f.get(p).get(dx).op(Op.i32Add).v128Load(v * 16).get(mu[v]).simd(SimdOp.f32x4Sub);
        f.simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(a2[v]);
      }
    }, (block) => {
      f.get(block).i32(cols * 4).op(Op.i32Mul).get(vOff).op(Op.i32Add).set(o);
      for (let v = 0; v < vectors; v++) {
        if (!squares) f.get(s1).get(o).op(Op.i32Add).get(a1[v]).v128Store(v * 16);
        f.get(s2).get(o).op(Op.i32Add).get(a2[v]).v128Store(v * 16);
      }
    });
  });
  return f;
}

/**
 * A row-major elementwise pass with per-channel vectors re-read from L1 each row:
 * `emit(p, c)` pushes the value to store for the input at `p` and channel offset `c` (bytes).
 */
function rowwise(
  params: number,
  cols: number,
  input: number,
  rowsParam: number,
  outParam: number,
  emit: (f: FunctionBuilder, p: number, c: number) => void,
): FunctionBuilder {
  const f = new FunctionBuilder(new Array(params).fill(I32));
  const p = f.local(I32), end = f.local(I32), c = f.local(I32), o = f.local(I32);
  const rowEnd = f.local(I32), dOut = f.local(I32);
  const rowBytes = cols * 4;
  f.get(input).set(p).get(outParam).get(input).op(Op.i32Sub).set(dOut);
  f.get(rowsParam).i32(rowBytes).op(Op.i32Mul).get(p).op(Op.i32Add).set(end);
  f.forLoop(p, end, rowBytes, () => {
    f.get(p).i32(rowBytes).op(Op.i32Add).set(rowEnd).get(p).set(o).i32(0).set(c);
    f.forLoop(o, rowEnd, 16, () => {
      f.get(o).get(dOut).op(Op.i32Add);
      emit(f, o, c);
      f.v128Store(0);
      f.get(c).i32(16).op(Op.i32Add).set(c);
    });
  });
  return f;
}

function scaleFunction(cols: number): FunctionBuilder {
  const [dy, k] = [0, 1];
  return rowwise(4, cols, dy, 2, 3, (f, p, c) => {
    f.get(p).v128Load(0).get(k).get(c).op(Op.i32Add).v128Load(0).simd(SimdOp.f32x4Mul);
  });
}

function affineFunction(cols: number): FunctionBuilder {
  const [x, m, k, b] = [0, 1, 2, 3];
  const at = (f: FunctionBuilder, base: number, c: number) =>
    f.get(base).get(c).op(Op.i32Add).v128Load(0);
  return rowwise(6, cols, x, 4, 5, (f, p, c) => {
    at(f, b, c);
    f.get(p).v128Load(0);
    at(f, m, c).simd(SimdOp.f32x4Sub);
    at(f, k, c).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add);
  });
}

function combineFunction(cols: number): FunctionBuilder {
  const [dy, x, m, kqc] = [0, 1, 2, 3];
  const rowBytes = cols * 4;
  return rowwise(6, cols, dy, 4, 5, (f, p, c) => {
    const param = (base: number, offset: number) =>
      f.get(base).get(c).op(Op.i32Add).v128Load(offset);
    f.get(p).v128Load(0);
    param(kqc, 0).simd(SimdOp.f32x4Mul);
    // x at p − dy + x: both share their layout
    f.get(p).get(dy).op(Op.i32Sub).get(x).op(Op.i32Add).v128Load(0);
    param(m, 0).simd(SimdOp.f32x4Sub);
    param(kqc, rowBytes).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add);
    param(kqc, 2 * rowBytes).simd(SimdOp.f32x4Add);
  });
}

/**
 * The passes for `cols` channels on the backend's heap, or `null` when they do not apply
 * (switched off, `cols` not a multiple of 4, the heap not found). Each call splits its rows
 * (whole blocks, for the sums) between the calling thread and the heap's helper threads.
 *
 * @param backend The tfjs-wasm backend.
 * @param cols Channels (the last axis).
 * @returns The passes, or null.
 */
export function batchNormSimdFor(backend: WasmBackendLike, cols: number): BatchNormSimd | null {
  if (!wasmBatchNormSimd.enabled || cols % 4 !== 0 || cols === 0) return null;
  if (heapMemory(backend) === null) return null;
  const key = `batch norm ${cols}`;
  const build = () => ({
    colsum: colsumFunction(cols),
    gradsums: gradsumsFunction(cols),
    devsums: gradsumsFunction(cols, true),
    scale: scaleFunction(cols),
    affine: affineFunction(cols),
    combine: combineFunction(cols),
  });
  const rowBytes = cols * 4;
  /** Runs `name` over `rows` in parts of whole `unit`s of rows: `args(first row, rows)`. */
  const run = (
    name: keyof BatchNormSimd,
    rows: number,
    unit: number,
    args: (first: number, count: number) => number[],
  ) => {
    const units = Math.ceil(rows / unit);
    const split = rows * cols >= wasmBatchNormSimd.minSplitValues;
    const list = heapRanges(backend, units, split).map(([first, count]) => {
      const end = Math.min(rows, (first + count) * unit);
      return args(first * unit, end - first * unit);
    });
    heapRun(backend, key, build, name, list);
  };
  return {
    colsum: (src, rows, dst) =>
      run("colsum", rows, SUM_BLOCK_ROWS, (r, n) => [
        src + r * rowBytes,
        n,
        dst + (r / SUM_BLOCK_ROWS) * rowBytes,
      ]),
    gradsums: (x, dy, mean, rows, s1, s2) =>
      run("gradsums", rows, SUM_BLOCK_ROWS, (r, n) => [
        x + r * rowBytes,
        dy + r * rowBytes,
        mean,
        n,
        s1 + (r / SUM_BLOCK_ROWS) * rowBytes,
        s2 + (r / SUM_BLOCK_ROWS) * rowBytes,
      ]),
    devsums: (x, mean, rows, s) =>
      run("devsums", rows, SUM_BLOCK_ROWS, (r, n) => [
        x + r * rowBytes,
        mean,
        n,
        s + (r / SUM_BLOCK_ROWS) * rowBytes,
      ]),
    scale: (dy, k, rows, out) =>
      run("scale", rows, 1, (r, n) => [dy + r * rowBytes, k, n, out + r * rowBytes]),
    affine: (x, m, k, b, rows, out) =>
      run("affine", rows, 1, (r, n) => [x + r * rowBytes, m, k, b, n, out + r * rowBytes]),
    combine: (dy, x, m, kqc, rows, out) =>
      run("combine", rows, 1, (r, n) => [
        dy + r * rowBytes,
        x + r * rowBytes,
        m,
        kqc,
        n,
        out + r * rowBytes,
      ]),
  };
}
