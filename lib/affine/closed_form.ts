/**
 * The per-layer factors of the paper's eq. (7), and eq. (7) evaluated literally from them.
 *
 * @module
 */
import { type BatchInput, readBatch } from "../network/batch.ts";
import type { SplineLayer, SplineNetwork } from "../network/spline_network.ts";
import { shapeSize } from "../network/spline_network.ts";
import { forwardPass, type LayerCodes } from "../backend/cpu/run.ts";
import { inactiveSlope } from "../backend/cpu/activation.ts";
import { slotPosition } from "../backend/cpu/_windows.ts";
import { layerMatrix, multiply, multiplyVector, type SparseMatrix } from "./_sparse.ts";

export type { SparseMatrix } from "./_sparse.ts";

/**
 * One factor of eq. (7):
 * - `affine`: C^(ℓ) and its bias b^(ℓ) — the composition of the consecutive affine
 *   layers (conv or dense, folded batch-norm, padding, average pooling, flatten)
 *   between two nonlinearities, as one explicit sparse matrix on flattened vectors;
 * - `slopes`: A_σ^(ℓ)[x], the diagonal of slopes each example's codes select
 *   (ReLU 1/0, leaky ReLU 1/α, abs 1/−1), `[N, units]`;
 * - `selection`: A_ρ^(ℓ)[x], max-pooling: output k of example n takes input
 *   `indices[n·units + k]` of the pooled vector;
 * - `residual`: a sum of paths, each a list of factors (the identity path is `[]`).
 */
export type ClosedFormFactor =
  | {
    readonly kind: "affine";
    readonly names: string[];
    readonly C: SparseMatrix;
    readonly b: Float64Array | null;
  }
  | {
    readonly kind: "slopes";
    readonly name: string;
    readonly layer: number;
    readonly slopes: Float64Array;
  }
  | {
    readonly kind: "selection";
    readonly name: string;
    readonly layer: number;
    readonly indices: Int32Array;
    /** Size of the pooled vector (the input of the max-pool). */
    readonly inputSize: number;
  }
  | { readonly kind: "residual"; readonly name: string; readonly paths: ClosedFormFactor[][] };

/** The factors of eq. (7) for a batch, in forward order. */
export interface ClosedFormFactors {
  /** N: number of examples. */
  readonly count: number;
  /** D: input size. */
  readonly inputSize: number;
  /** C: output size. */
  readonly outputSize: number;
  /** The per-layer factors of eq. (7), in forward order. */
  readonly factors: ClosedFormFactor[];
}

function factorsOf(
  net: SplineNetwork,
  layers: readonly SplineLayer[],
  codes: LayerCodes,
  count: number,
): ClosedFormFactor[] {
  const out: ClosedFormFactor[] = [];
  let pending: { names: string[]; C: SparseMatrix; b: Float64Array | null } | null = null;
  const flush = () => {
    if (pending) out.push({ kind: "affine", ...pending });
    pending = null;
  };
  for (const l of layers) {
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs": {
        flush();
        const code = codes.get(l) as Uint8Array, s0 = inactiveSlope(l);
        const slopes = Float64Array.from(code, (c) => (c ? 1 : s0));
        const index = net.codeLayers.findIndex((c) => c.layer === l);
        out.push({ kind: "slopes", name: l.name, layer: index, slopes });
        break;
      }
      case "max-pool": {
        flush();
        const code = codes.get(l) as Uint16Array;
        const C = l.inputShape[2];
        const units = shapeSize(l.outputShape);
        const indices = new Int32Array(count * units);
        for (let n = 0; n < count; n++) {
          for (let k = 0; k < units; k++) {
            const slot = code[n * units + k];
            indices[n * units + k] = slotPosition(l, Math.floor(k / C), slot) * C + (k % C);
          }
        }
        const index = net.codeLayers.findIndex((c) => c.layer === l);
        out.push({
          kind: "selection",
          name: l.name,
          layer: index,
          indices,
          inputSize: shapeSize(l.inputShape),
        });
        break;
      }
      case "residual":
        flush();
        out.push({
          kind: "residual",
          name: l.name,
          paths: l.paths.map((p) => factorsOf(net, p, codes, count)),
        });
        break;
      default: {
        const { C, b } = layerMatrix(l);
        if (!pending) pending = { names: [l.name], C, b };
        else {
          const p: { names: string[]; C: SparseMatrix; b: Float64Array | null } = pending;
          let bias = p.b ? multiplyVector(C, p.b) : null;
          if (b) bias = bias ? bias.map((v, i) => v + b[i]) : b;
          pending = { names: [...p.names, l.name], C: multiply(C, p.C), b: bias };
        }
      }
    }
  }
  flush();
  return out;
}

/**
 * The factors of eq. (7) at each input: per layer, the affine operator C^(ℓ) with its
 * bias b^(ℓ) (explicit sparse matrices, consecutive affine layers composed), the
 * activation slopes A_σ^(ℓ)[x] (diagonals) and the max-pooling selections A_ρ^(ℓ)[x]
 * (index vectors); residual blocks as sums of paths.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @returns The factors, in forward order.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { closedFormFactors, evaluateClosedForm } from "./closed_form.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: new Float64Array([1, -1]), bias: new Float64Array([0.5]) },
 *   { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
 * ]);
 * const f = closedFormFactors(net, { data: new Float64Array([3, 1]), shape: [1, 2] });
 * deepEqual(f.factors.map((x) => x.kind), ["affine", "slopes"]);
 * const { A, B } = evaluateClosedForm(f, { example: 0 });
 * deepEqual([...A, ...B], [1, -1, 0.5]);
 * ```
 */
export function closedFormFactors(net: SplineNetwork, x: BatchInput): ClosedFormFactors {
  const { data, count } = readBatch(x, {
    exampleShape: net.inputShape,
    what: "Cannot compute the closed-form factors",
  });
  const { codes } = forwardPass(net, data, count);
  return {
    count,
    inputSize: net.inputSize,
    outputSize: net.outputSize,
    factors: factorsOf(net, net.layers, codes, count),
  };
}

/** A block of rows, each sparse: its nonzero columns in ascending order and their values. */
interface SparseRows {
  /** Columns of the block. */
  readonly width: number;
  /** Each row's nonzero columns, ascending. */
  readonly idx: Int32Array[];
  /** Each row's values at those columns. */
  readonly val: Float64Array[];
}

/**
 * An accumulator of one row (Gustavson's): `add` sums into columns in the order called; `take`
 * gives the nonzero columns in ascending order with their sums, and resets. A row begun
 * `dense` (its input row holds many nonzeros) is summed without marking the columns touched,
 * and read off by a pass over all columns.
 */
class RowAccumulator {
  /** The sums, by column (a row begun dense may add to it directly). */
  readonly sum: Float64Array;
  private seen: Uint8Array;
  private touched: Int32Array;
  private count = 0;
  private marking = true;
  constructor(width: number) {
    this.sum = new Float64Array(width);
    this.seen = new Uint8Array(width);
    this.touched = new Int32Array(width);
  }
  begin(dense: boolean): void {
    this.marking = !dense;
  }
  add(col: number, v: number): void {
    if (this.marking && !this.seen[col]) {
      this.seen[col] = 1;
      this.touched[this.count++] = col;
    }
    this.sum[col] += v;
  }
  take(): { idx: Int32Array; val: Float64Array } {
    const { sum, seen } = this;
    let idx: Int32Array;
    if (!this.marking) {
      // every nonzero sum, in one pass (a column summed to exactly 0 adds nothing later)
      let k = 0;
      for (let col = 0; col < sum.length; col++) if (sum[col] !== 0) this.touched[k++] = col;
      idx = this.touched.slice(0, k);
    } else if (this.count * 16 < seen.length) idx = this.touched.slice(0, this.count).sort();
    else {
      idx = new Int32Array(this.count);
      for (let col = 0, k = 0; k < this.count; col++) if (seen[col]) idx[k++] = col;
    }
    const val = new Float64Array(idx.length);
    for (let e = 0; e < idx.length; e++) {
      const col = idx[e];
      val[e] = sum[col];
      sum[col] = 0;
      seen[col] = 0;
    }
    this.count = 0;
    return { idx, val };
  }
}

/**
 * `M·F` for the row block M (`C` sparse rows) through factors from the last to the first, with
 * the offsets `B` the biases add on the way. Each row keeps only its nonzero columns, and each
 * sum is taken over ascending columns, as a dense `C × width` block would (the same bits): a
 * template is nonzero on few units of each layer (the active ReLUs, the max-pools' winners in
 * its receptive field), which a dense block would visit all of, row by row.
 */
function sweep(
  factors: readonly ClosedFormFactor[],
  M0: SparseRows,
  n: number,
): { M: SparseRows; B: Float64Array } {
  let M = M0;
  const C = M.idx.length;
  const B = new Float64Array(C);
  for (let f = factors.length - 1; f >= 0; f--) {
    const fac = factors[f];
    const width = M.width;
    switch (fac.kind) {
      case "affine": {
        const { C: Cm, b } = fac;
        const acc = new RowAccumulator(Cm.cols);
        const idx: Int32Array[] = [], val: Float64Array[] = [];
        for (let c = 0; c < C; c++) {
          const [ri, rv] = [M.idx[c], M.val[c]];
          if (b) {
            let s = 0;
            for (let e = 0; e < ri.length; e++) s += rv[e] * b[ri[e]];
            B[c] += s;
          }
          const dense = ri.length * 8 > width, { sum } = acc;
          acc.begin(dense);
          for (let e = 0; e < ri.length; e++) {
            const i = ri[e], mi = rv[e];
            if (mi === 0) continue;
            const [j0, j1] = [Cm.rowPtr[i], Cm.rowPtr[i + 1]];
            if (dense) { for (let j = j0; j < j1; j++) sum[Cm.col[j]] += mi * Cm.val[j]; }
            else for (let j = j0; j < j1; j++) acc.add(Cm.col[j], mi * Cm.val[j]);
          }
          const row = acc.take();
          idx.push(row.idx);
          val.push(row.val);
        }
        M = { width: Cm.cols, idx, val };
        break;
      }
      case "slopes": {
        const idx: Int32Array[] = [], val: Float64Array[] = [];
        const at = n * width;
        for (let c = 0; c < C; c++) {
          const [ri, rv] = [M.idx[c], M.val[c]];
          // entries a zero slope (an inactive ReLU) sends to 0 are dropped: they add nothing
          let kept = 0;
          const oi = new Int32Array(ri.length), ov = new Float64Array(ri.length);
          for (let e = 0; e < ri.length; e++) {
            const v = rv[e] * fac.slopes[at + ri[e]];
            if (v === 0) continue;
            oi[kept] = ri[e];
            ov[kept++] = v;
          }
          idx.push(oi.slice(0, kept));
          val.push(ov.slice(0, kept));
        }
        M = { width, idx, val };
        break;
      }
      case "selection": {
        const acc = new RowAccumulator(fac.inputSize);
        const idx: Int32Array[] = [], val: Float64Array[] = [];
        const at = n * width;
        for (let c = 0; c < C; c++) {
          const [ri, rv] = [M.idx[c], M.val[c]];
          acc.begin(ri.length * 8 > width);
          for (let e = 0; e < ri.length; e++) acc.add(fac.indices[at + ri[e]], rv[e]);
          const row = acc.take();
          idx.push(row.idx);
          val.push(row.val);
        }
        M = { width: fac.inputSize, idx, val };
        break;
      }
      case "residual": {
        const results = fac.paths.map((p) => sweep(p, M, n));
        for (const r of results) for (let c = 0; c < C; c++) B[c] += r.B[c];
        const out = results[0].M.width;
        const acc = new RowAccumulator(out);
        const idx: Int32Array[] = [], val: Float64Array[] = [];
        for (let c = 0; c < C; c++) {
          // the paths' sums in path order, as dense blocks added one after the other
          acc.begin(results.some((r) => r.M.idx[c].length * 8 > out));
          for (const r of results) {
            const [ri, rv] = [r.M.idx[c], r.M.val[c]];
            for (let e = 0; e < ri.length; e++) acc.add(ri[e], rv[e]);
          }
          const row = acc.take();
          idx.push(row.idx);
          val.push(row.val);
        }
        M = { width: out, idx, val };
        break;
      }
    }
  }
  return { M, B };
}

/**
 * Evaluates eq. (7) literally from its factors for one example:
 * `A[x] = Π_ℓ A_ρ^(ℓ)[x] A_σ^(ℓ)[x] C^(ℓ)` (the product taken from the last layer to the
 * first) and `B[x] = Σ_ℓ (Π_{j>ℓ} A_ρ^(j) A_σ^(j) C^(j)) A_ρ^(ℓ) A_σ^(ℓ) b^(ℓ)`, with a
 * residual block contributing the sum of its paths' products.
 *
 * @param factors The factors from {@linkcode closedFormFactors}.
 * @param options `example`: which example of the batch.
 * @returns `A` `[C, D]` and `B` `[C]`, float64.
 */
export function evaluateClosedForm(
  factors: ClosedFormFactors,
  options: { example: number },
): { A: Float64Array; B: Float64Array } {
  const n = options?.example;
  if (!Number.isInteger(n) || n < 0 || n >= factors.count) {
    throw new RangeError(`Cannot evaluate eq. (7): example ${n} is not in [0, ${factors.count})`);
  }
  const C = factors.outputSize;
  const eye: SparseRows = {
    width: C,
    idx: Array.from({ length: C }, (_, c) => Int32Array.of(c)),
    val: Array.from({ length: C }, () => Float64Array.of(1)),
  };
  const { M, B } = sweep(factors.factors, eye, n);
  const D = M.width, A = new Float64Array(C * D);
  for (let c = 0; c < C; c++) {
    const [ri, rv] = [M.idx[c], M.val[c]];
    for (let e = 0; e < ri.length; e++) A[c * D + ri[e]] = rv[e];
  }
  return { A, B };
}
