/**
 * Sparse matrices (CSR, float64) and the explicit matrix of every affine layer, for the
 * literal evaluation of eq. (7).
 *
 * @module
 */
import type { AffineLayer } from "../network/spline_network.ts";
import { shapeSize } from "../network/spline_network.ts";

/** A sparse matrix in compressed sparse row form. */
export interface SparseMatrix {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** Row `r`'s entries are `rowPtr[r]..rowPtr[r+1]`. */
  readonly rowPtr: Int32Array;
  /** Column of each entry. */
  readonly col: Int32Array;
  /** Value of each entry. */
  readonly val: Float64Array;
}

class Builder {
  rowPtr: number[] = [0];
  col: number[] = [];
  val: number[] = [];
  constructor(readonly cols: number) {}
  push(c: number, v: number) {
    this.col.push(c);
    this.val.push(v);
  }
  endRow() {
    this.rowPtr.push(this.col.length);
  }
  build(): SparseMatrix {
    return {
      rows: this.rowPtr.length - 1,
      cols: this.cols,
      rowPtr: Int32Array.from(this.rowPtr),
      col: Int32Array.from(this.col),
      val: Float64Array.from(this.val),
    };
  }
}

/** The identity matrix of size `n`. */
export function identity(n: number): SparseMatrix {
  const b = new Builder(n);
  for (let i = 0; i < n; i++) {
    b.push(i, 1);
    b.endRow();
  }
  return b.build();
}

/**
 * The explicit matrix C and bias b of an affine layer on the flattened per-example
 * vectors: `y = C·x + b`.
 *
 * @param l The layer.
 * @returns `{ C, b }`, `b` null when the layer has no bias.
 */
export function layerMatrix(l: AffineLayer): { C: SparseMatrix; b: Float64Array | null } {
  const inSize = shapeSize(l.inputShape), outSize = shapeSize(l.outputShape);
  const m = new Builder(inSize);
  let b: Float64Array | null = null;
  switch (l.kind) {
    case "dense": {
      const inner = l.inputShape[l.inputShape.length - 1], prefix = inSize / inner;
      for (let p = 0; p < prefix; p++) {
        for (let o = 0; o < l.units; o++) {
          for (let i = 0; i < inner; i++) m.push(p * inner + i, l.kernel[i * l.units + o]);
          m.endRow();
        }
      }
      if (l.bias) {
        const bias = l.bias;
        b = Float64Array.from({ length: outSize }, (_, r) => bias[r % l.units]);
      }
      break;
    }
    case "conv2d": {
      const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
      const [KH, KW] = l.kernelSize;
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          for (let co = 0; co < CO; co++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * l.strides[0] + ky - l.padding[0];
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * l.strides[1] + kx - l.padding[2];
                if (ix < 0 || ix >= W) continue;
                for (let ci = 0; ci < CI; ci++) {
                  m.push((iy * W + ix) * CI + ci, l.kernel[((ky * KW + kx) * CI + ci) * CO + co]);
                }
              }
            }
            m.endRow();
          }
        }
      }
      if (l.bias) {
        const bias = l.bias;
        b = Float64Array.from({ length: outSize }, (_, r) => bias[r % CO]);
      }
      break;
    }
    case "channel-affine": {
      const c = l.scale.length;
      for (let r = 0; r < outSize; r++) {
        m.push(r, l.scale[r % c]);
        m.endRow();
      }
      b = Float64Array.from({ length: outSize }, (_, r) => l.shift[r % c]);
      break;
    }
    case "zero-pad": {
      const [H, W, C] = l.inputShape, [, OW] = l.outputShape;
      const [T, , L] = l.padding;
      for (let r = 0; r < outSize; r++) {
        const c = r % C, px = Math.floor(r / C) % OW, py = Math.floor(r / C / OW);
        const y = py - T, x = px - L;
        if (y >= 0 && y < H && x >= 0 && x < W) m.push((y * W + x) * C + c, 1);
        m.endRow();
      }
      break;
    }
    case "avg-pool": {
      const [H, W, C] = l.inputShape, [OH, OW] = l.outputShape;
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const cells: number[] = [];
          for (let ky = 0; ky < l.poolSize[0]; ky++) {
            for (let kx = 0; kx < l.poolSize[1]; kx++) {
              const iy = oy * l.strides[0] + ky - l.padding[0];
              const ix = ox * l.strides[1] + kx - l.padding[2];
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) cells.push(iy * W + ix);
            }
          }
          for (let c = 0; c < C; c++) {
            for (const p of cells) m.push(p * C + c, 1 / cells.length);
            m.endRow();
          }
        }
      }
      break;
    }
    case "global-avg-pool": {
      const [H, W, C] = l.inputShape;
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < H * W; p++) m.push(p * C + c, 1 / (H * W));
        m.endRow();
      }
      break;
    }
    case "flatten":
      return { C: identity(inSize), b: null };
  }
  return { C: m.build(), b };
}

/**
 * The product `B·A` of two sparse matrices.
 *
 * @param B Left factor.
 * @param A Right factor.
 * @returns `B·A`.
 */
export function multiply(B: SparseMatrix, A: SparseMatrix): SparseMatrix {
  if (B.cols !== A.rows) {
    throw new RangeError(`Cannot multiply ${B.rows}×${B.cols} by ${A.rows}×${A.cols}`);
  }
  const out = new Builder(A.cols);
  const acc = new Float64Array(A.cols), used = new Uint8Array(A.cols);
  const touched: number[] = [];
  for (let r = 0; r < B.rows; r++) {
    for (let j = B.rowPtr[r]; j < B.rowPtr[r + 1]; j++) {
      const k = B.col[j], v = B.val[j];
      for (let i = A.rowPtr[k]; i < A.rowPtr[k + 1]; i++) {
        const c = A.col[i];
        if (!used[c]) {
          used[c] = 1;
          touched.push(c);
        }
        acc[c] += v * A.val[i];
      }
    }
    touched.sort((a, b) => a - b);
    for (const c of touched) {
      out.push(c, acc[c]);
      acc[c] = 0;
      used[c] = 0;
    }
    touched.length = 0;
    out.endRow();
  }
  return out.build();
}

/**
 * `M·v` for a sparse matrix and a dense vector.
 *
 * @param M The matrix.
 * @param v The vector.
 * @returns The product.
 */
export function multiplyVector(M: SparseMatrix, v: Float64Array): Float64Array {
  const out = new Float64Array(M.rows);
  for (let r = 0; r < M.rows; r++) {
    let s = 0;
    for (let j = M.rowPtr[r]; j < M.rowPtr[r + 1]; j++) s += M.val[j] * v[M.col[j]];
    out[r] = s;
  }
  return out;
}
