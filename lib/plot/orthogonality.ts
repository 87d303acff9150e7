/**
 * Figure builders of the orthogonal-templates experiment (Section 6, Figure 3): test
 * accuracy against the penalty weight λ, training curves for λ = 0 and λ ≈ 1, and the
 * measured orthogonality of the final layer's rows and of the templates. Pure: plain data
 * in, plotly JSON out.
 *
 * @module
 */
import type { Figure, PlotlyTrace } from "./figure.ts";

/** Test accuracy over runs at one λ (a row of the sweep summary). */
export interface LambdaAccuracy {
  /** Penalty weight λ. */
  readonly lambda: number;
  /** Mean over runs of the per-run test accuracy (each averaged over its last epochs). */
  readonly mean: number;
  /** Sample standard deviation over runs. */
  readonly std: number;
  /** Maximum over runs. */
  readonly max: number;
}

/** Mean training curves of the runs at one λ. */
export interface LambdaCurves {
  /** Penalty weight λ. */
  readonly lambda: number;
  /** Epoch numbers, from 1. */
  readonly epochs: readonly number[];
  /** Mean over runs of the training error (1 − training accuracy) per epoch. */
  readonly trainError: readonly number[];
  /** Mean over runs of the test accuracy per epoch. */
  readonly testAccuracy: readonly number[];
}

/** Measured orthogonality at one λ (means over runs). */
export interface LambdaCosines {
  /** Penalty weight λ. */
  readonly lambda: number;
  /** Mean |cos| between distinct class rows of W^(L). */
  readonly weightCosine: number;
  /** Mean |cos| between distinct templates A[x]_c1, A[x]_c2 over test images. */
  readonly templateCosine: number;
}

/** What names the figures: architecture and dataset. */
export interface OrthogonalityFigureOptions {
  /** Architecture name, e.g. `smallCNN`. */
  readonly arch: string;
  /** Dataset name, e.g. `cifar10`. */
  readonly dataset: string;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "_");
}

function checkRows(rows: readonly unknown[], what: string): void {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new RangeError(`Cannot build the ${what} figure: no rows (${JSON.stringify(rows)})`);
  }
}

/**
 * Figure 3(a): test accuracy against λ — the mean over runs (black dots), mean ± one
 * standard deviation (gray band) and the maximum over runs (blue dots).
 *
 * @param rows One row per λ (any order; sorted by λ here).
 * @param options Architecture and dataset (for the name and title).
 * @returns The figure `fig3a_accuracy_vs_lambda_<arch>_<dataset>`.
 * @example
 * ```ts
 * import { accuracyVsLambdaFigure } from "./orthogonality.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const fig = accuracyVsLambdaFigure(
 *   [{ lambda: 1, mean: 0.6, std: 0.02, max: 0.63 }, { lambda: 0, mean: 0.5, std: 0.01, max: 0.52 }],
 *   { arch: "smallCNN", dataset: "cifar10" },
 * );
 * equal(fig.name, "fig3a_accuracy_vs_lambda_smallCNN_cifar10");
 * deepEqual(fig.data.find((t) => t.name === "mean")!.y, [0.5, 0.6]);
 * ```
 */
export function accuracyVsLambdaFigure(
  rows: readonly LambdaAccuracy[],
  options: OrthogonalityFigureOptions,
): Figure {
  checkRows(rows, "accuracy-vs-λ");
  const r = [...rows].sort((a, b) => a.lambda - b.lambda);
  const x = r.map((v) => v.lambda);
  const data: PlotlyTrace[] = [
    {
      type: "scatter",
      mode: "lines",
      name: "mean + std",
      x,
      y: r.map((v) => v.mean + v.std),
      line: { width: 0 },
      showlegend: false,
      hoverinfo: "skip",
    },
    {
      type: "scatter",
      mode: "lines",
      name: "± std",
      x,
      y: r.map((v) => v.mean - v.std),
      line: { width: 0 },
      fill: "tonexty",
      fillcolor: "rgba(128,128,128,0.3)",
    },
    {
      type: "scatter",
      mode: "lines+markers",
      name: "mean",
      x,
      y: r.map((v) => v.mean),
      line: { color: "black" },
      marker: { color: "black", size: 8 },
    },
    {
      type: "scatter",
      mode: "markers",
      name: "max",
      x,
      y: r.map((v) => v.max),
      marker: { color: "#1f5fd6", size: 8 },
    },
  ];
  return {
    name: `fig3a_accuracy_vs_lambda_${safe(options.arch)}_${safe(options.dataset)}`,
    title: `Test accuracy vs orthogonality penalty λ (${options.arch}, ${options.dataset})`,
    data,
    layout: {
      title: { text: `Fig. 3a: test accuracy vs λ — ${options.arch}, ${options.dataset}` },
      xaxis: { title: { text: "orthogonality penalty λ (eq. 13)" } },
      yaxis: { title: { text: "test accuracy (last 3 epochs)" } },
      height: 420,
    },
  };
}

/**
 * Figure 3(b): training error (top) and test accuracy (bottom) over the epochs, mean over
 * runs, for λ = 0 (blue) and λ ≈ 1 (black), as in the paper.
 *
 * @param curves The curves to draw (usually two: λ = 0 and the λ nearest 1).
 * @param options Architecture and dataset.
 * @returns The figure `fig3b_training_curves_<arch>_<dataset>`.
 * @example
 * ```ts
 * import { trainingCurvesFigure } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * const fig = trainingCurvesFigure([
 *   { lambda: 0, epochs: [1, 2], trainError: [0.8, 0.6], testAccuracy: [0.2, 0.3] },
 *   { lambda: 1, epochs: [1, 2], trainError: [0.85, 0.7], testAccuracy: [0.2, 0.35] },
 * ], { arch: "smallCNN", dataset: "cifar10" });
 * equal(fig.data.length, 4);
 * equal(fig.data[2].yaxis, "y2");
 * ```
 */
export function trainingCurvesFigure(
  curves: readonly LambdaCurves[],
  options: OrthogonalityFigureOptions,
): Figure {
  checkRows(curves, "training-curves");
  const color = (lambda: number, i: number) =>
    lambda === 0 ? "#1f5fd6" : i === 1 ? "black" : ["#d62728", "#2ca02c", "#9467bd"][i % 3];
  const data: PlotlyTrace[] = [];
  curves.forEach((c, i) =>
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: `λ = ${+c.lambda.toFixed(3)}`,
      legendgroup: `l${i}`,
      x: [...c.epochs],
      y: [...c.trainError],
      xaxis: "x",
      yaxis: "y",
      line: { color: color(c.lambda, i) },
    })
  );
  curves.forEach((c, i) =>
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: `λ = ${+c.lambda.toFixed(3)}`,
      legendgroup: `l${i}`,
      showlegend: false,
      x: [...c.epochs],
      y: [...c.testAccuracy],
      xaxis: "x2",
      yaxis: "y2",
      line: { color: color(c.lambda, i) },
    })
  );
  return {
    name: `fig3b_training_curves_${safe(options.arch)}_${safe(options.dataset)}`,
    title: `Training error and test accuracy over epochs (${options.arch}, ${options.dataset})`,
    data,
    layout: {
      title: { text: `Fig. 3b: learning curves — ${options.arch}, ${options.dataset}` },
      xaxis: { anchor: "y", domain: [0, 1], showticklabels: false },
      yaxis: { domain: [0.55, 1], title: { text: "training error" } },
      xaxis2: { anchor: "y2", domain: [0, 1], title: { text: "epoch" }, matches: "x" },
      yaxis2: { domain: [0, 0.45], anchor: "x2", title: { text: "test accuracy" } },
      height: 560,
    },
  };
}

/**
 * The orthogonality actually obtained: mean |cos| between distinct class rows of the
 * final layer W^(L) and between distinct templates A[x]_c (over test images), against λ.
 *
 * @param rows One row per λ.
 * @param options Architecture and dataset.
 * @returns The figure `orthogonality_cosines_<arch>_<dataset>`.
 * @example
 * ```ts
 * import { orthogonalityCosineFigure } from "./orthogonality.ts";
 * import { deepEqual } from "node:assert/strict";
 * const fig = orthogonalityCosineFigure(
 *   [{ lambda: 0, weightCosine: 0.3, templateCosine: 0.5 }, { lambda: 1, weightCosine: 0.01, templateCosine: 0.4 }],
 *   { arch: "smallCNN", dataset: "mnist" },
 * );
 * deepEqual(fig.data[0].y, [0.3, 0.01]);
 * ```
 */
export function orthogonalityCosineFigure(
  rows: readonly LambdaCosines[],
  options: OrthogonalityFigureOptions,
): Figure {
  checkRows(rows, "orthogonality-cosine");
  const r = [...rows].sort((a, b) => a.lambda - b.lambda);
  const x = r.map((v) => v.lambda);
  return {
    name: `orthogonality_cosines_${safe(options.arch)}_${safe(options.dataset)}`,
    title:
      `Mean |cosine| between class rows of W^(L) and between templates vs λ (${options.arch}, ${options.dataset})`,
    data: [
      {
        type: "scatter",
        mode: "lines+markers",
        name: "rows of W^(L)",
        x,
        y: r.map((v) => v.weightCosine),
      },
      {
        type: "scatter",
        mode: "lines+markers",
        name: "templates A[x]_c",
        x,
        y: r.map((v) => v.templateCosine),
      },
    ],
    layout: {
      title: { text: `Orthogonality obtained — ${options.arch}, ${options.dataset}` },
      xaxis: { title: { text: "orthogonality penalty λ (eq. 13)" } },
      yaxis: { title: { text: "mean |cos| between distinct classes" }, rangemode: "tozero" },
      height: 400,
    },
  };
}
