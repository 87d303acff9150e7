/**
 * Figures of the affine-formula experiment (the paper's eq. 7–9): the per-layer factors
 * and the network's output against A[x]·x + B[x].
 *
 * @module
 */
import type { Figure, PlotlyTrace } from "./figure.ts";

/** What the affine-formula figures need (a subset of the experiment's data). */
export interface AffineFormulaFigureData {
  /** Per nonlinear layer: its name, kind and, for ReLU-type layers, the fraction of active units per example. */
  readonly codeLayers: readonly {
    readonly name: string;
    readonly kind: string;
    readonly activeFraction: readonly number[] | null;
  }[];
  /** Per affine factor C^(ℓ) of eq. (7): the layers composed, its size and non-zeros. */
  readonly affineFactors: readonly {
    readonly names: readonly string[];
    readonly rows: number;
    readonly cols: number;
    readonly nonzeros: number;
  }[];
  /** The network's own output z(x) (tfjs, float32), `[N][C]`. */
  readonly logits: readonly (readonly number[])[];
  /** A[x]·x + B[x] from eq. (7) (float64), `[N][C]`. */
  readonly closedForm: readonly (readonly number[])[];
}

function meanStd(v: readonly number[]): [number, number] {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const s = Math.sqrt(v.reduce((a, b) => a + (b - m) * (b - m), 0) / Math.max(1, v.length - 1));
  return [m, s];
}

/**
 * The factors of eq. (7) at a batch of inputs: left, the fraction of active ReLUs per ReLU
 * layer (mean ± std over the examples: the diagonal A_σ^(ℓ)[x]); right, the size of each
 * affine factor C^(ℓ) (rows, columns, non-zeros, log scale).
 *
 * @param data Per-layer summaries (see {@linkcode AffineFormulaFigureData}).
 * @returns The figure `affine_formula_factors`.
 *
 * @example
 * ```ts
 * import { affineFormulaFactorsFigure } from "./affine_formula.ts";
 * import { equal } from "node:assert/strict";
 * const fig = affineFormulaFactorsFigure({
 *   codeLayers: [{ name: "relu1", kind: "relu", activeFraction: [0.5, 0.7] }],
 *   affineFactors: [{ names: ["conv1"], rows: 8, cols: 4, nonzeros: 12 }],
 *   logits: [[1]], closedForm: [[1]],
 * });
 * equal(fig.name, "affine_formula_factors");
 * equal(fig.data[0].y[0], 0.6);
 * ```
 */
export function affineFormulaFactorsFigure(data: AffineFormulaFigureData): Figure {
  const relu = data.codeLayers.filter((l) => l.activeFraction !== null && l.activeFraction.length);
  const stats = relu.map((l) => meanStd(l.activeFraction!));
  const labels = data.affineFactors.map((f) => f.names.join("+"));
  const bar = (name: string, y: number[], color: string): PlotlyTrace => ({
    type: "bar",
    name,
    x: labels,
    y,
    xaxis: "x2",
    yaxis: "y2",
    marker: { color },
  });
  return {
    name: "affine_formula_factors",
    title: "Eq. (7) factors: active ReLUs per layer (A_σ[x]) and sizes of the affine factors C^(ℓ)",
    data: [
      {
        type: "bar",
        name: "active ReLUs",
        x: relu.map((l) => l.name),
        y: stats.map((s) => s[0]),
        error_y: { type: "data", array: stats.map((s) => s[1]), visible: true },
        marker: { color: "#4c78a8" },
      },
      bar("rows (outputs)", data.affineFactors.map((f) => f.rows), "#f58518"),
      bar("columns (inputs)", data.affineFactors.map((f) => f.cols), "#54a24b"),
      bar("non-zeros", data.affineFactors.map((f) => f.nonzeros), "#b279a2"),
    ],
    layout: {
      title: { text: "Factors of eq. (7) at the test inputs" },
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "ReLU layer" }, domain: [0, 0.4] },
      yaxis: { title: { text: "fraction of active units (mean ± std)" }, range: [0, 1] },
      xaxis2: { title: { text: "affine factor C^(ℓ)" }, domain: [0.5, 1] },
      yaxis2: { title: { text: "size" }, type: "log" },
      barmode: "group",
      legend: { orientation: "h", y: -0.25 },
    },
  };
}

/**
 * The network's own output z(x) (tfjs) against A[x]·x + B[x] evaluated from eq. (7), one
 * point per (example, class), with the identity line.
 *
 * @param data The two outputs, `[N][C]` each.
 * @returns The figure `affine_formula_scatter`.
 *
 * @example
 * ```ts
 * import { affineFormulaScatterFigure } from "./affine_formula.ts";
 * import { deepEqual } from "node:assert/strict";
 * const fig = affineFormulaScatterFigure({
 *   codeLayers: [], affineFactors: [], logits: [[1, 2]], closedForm: [[1, 2.5]],
 * });
 * deepEqual(fig.data[0].x, [1, 2]);
 * deepEqual(fig.data[0].y, [1, 2.5]);
 * ```
 */
export function affineFormulaScatterFigure(data: AffineFormulaFigureData): Figure {
  const x = data.logits.flat(), y = data.closedForm.flat();
  let lo = Math.min(...x, ...y), hi = Math.max(...x, ...y);
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  return {
    name: "affine_formula_scatter",
    title: "The network's output z(x) against A[x]·x + B[x] from eq. (7)",
    data: [
      {
        type: "scatter",
        mode: "markers",
        name: "(example, class)",
        x,
        y,
        marker: { size: 5, color: "#4c78a8", opacity: 0.7 },
      },
      {
        type: "scatter",
        mode: "lines",
        name: "identity",
        x: [lo, hi],
        y: [lo, hi],
        line: { color: "#999", dash: "dash" },
      },
    ],
    layout: {
      title: { text: "z(x) (tfjs forward) vs A[x]·x + B[x] (eq. 7, float64)" },
      xaxis: { title: { text: "z(x): the tfjs model's output" } },
      yaxis: { title: { text: "A[x]·x + B[x]" }, scaleanchor: "x" },
    },
  };
}
