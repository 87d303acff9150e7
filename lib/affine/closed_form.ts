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

/** `M·F` for the row block M (`C × width`) through factors from the last to the first. */
function sweep(
  factors: readonly ClosedFormFactor[],
  M0: Float64Array,
  C: number,
  n: number,
): { M: Float64Array; B: Float64Array } {
  let M = M0;
  const B = new Float64Array(C);
  for (let f = factors.length - 1; f >= 0; f--) {
    const fac = factors[f];
    const width = M.length / C;
    switch (fac.kind) {
      case "affine": {
        const { C: Cm, b } = fac;
        if (b) {
          for (let c = 0; c < C; c++) {
            let s = 0;
            for (let i = 0; i < width; i++) s += M[c * width + i] * b[i];
            B[c] += s;
          }
        }
        const next = new Float64Array(C * Cm.cols);
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < Cm.rows; i++) {
            const mi = M[c * width + i];
            if (mi === 0) continue;
            for (let j = Cm.rowPtr[i]; j < Cm.rowPtr[i + 1]; j++) {
              next[c * Cm.cols + Cm.col[j]] += mi * Cm.val[j];
            }
          }
        }
        M = next;
        break;
      }
      case "slopes": {
        const next = new Float64Array(M.length);
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < width; i++) {
            next[c * width + i] = M[c * width + i] * fac.slopes[n * width + i];
          }
        }
        M = next;
        break;
      }
      case "selection": {
        const units = width;
        const inWidth = fac.inputSize;
        const next = new Float64Array(C * inWidth);
        for (let c = 0; c < C; c++) {
          for (let k = 0; k < units; k++) {
            next[c * inWidth + fac.indices[n * units + k]] += M[c * width + k];
          }
        }
        M = next;
        break;
      }
      case "residual": {
        let sum: Float64Array | null = null;
        for (const p of fac.paths) {
          const r = sweep(p, M, C, n);
          for (let c = 0; c < C; c++) B[c] += r.B[c];
          if (!sum) sum = Float64Array.from(r.M);
          else for (let i = 0; i < sum.length; i++) sum[i] += r.M[i];
        }
        M = sum!;
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
  const eye = new Float64Array(C * C);
  for (let c = 0; c < C; c++) eye[c * C + c] = 1;
  const { M, B } = sweep(factors.factors, eye, C, n);
  return { A: M, B };
}
