/**
 * Figure 2 of the paper: histograms of ⟨A[x_n]_c, x_n⟩ for the true class and the others.
 *
 * @module
 */
import type { Figure } from "./figure.ts";

/** A histogram of the two groups of inner products on shared bins. */
export interface MemorizationHistogram {
  /** Bin edges, length bins + 1, increasing. */
  readonly edges: readonly number[];
  /** Counts of the true-class values ⟨A[x_n]_{y_n}, x_n⟩ per bin. */
  readonly trueCounts: readonly number[];
  /** Counts of the other-class values ⟨A[x_n]_c, x_n⟩, c ≠ y_n, per bin. */
  readonly otherCounts: readonly number[];
}

/** What the memorization figure needs. */
export interface MemorizationFigureData {
  /** The dataset's name, e.g. `"mnist"` (used in the figure's name). */
  readonly dataset: string;
  /** The histogram. */
  readonly histogram: MemorizationHistogram;
  /** The bimodality statistic (mean_true − mean_other) / pooled std, for the title. */
  readonly bimodality: number;
  /** Which images the values are of, e.g. `"training images"` (in the title when given). */
  readonly split?: string;
}

/**
 * The paper's Figure 2 for one dataset: histograms (as densities, so the N true-class values
 * and the N·(C−1) others compare) of ⟨A[x_n]_c, x_n⟩ for the true class (green) and the
 * other classes (red), on shared bins.
 *
 * @param data The dataset name, histogram and bimodality statistic.
 * @returns The figure `fig2_memorization_<dataset>`.
 *
 * @example
 * ```ts
 * import { memorizationFigure } from "./memorization.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const fig = memorizationFigure({
 *   dataset: "toy", bimodality: 2,
 *   histogram: { edges: [0, 1, 2], trueCounts: [0, 2], otherCounts: [4, 0] },
 * });
 * equal(fig.name, "fig2_memorization_toy");
 * deepEqual(fig.data[0].y, [0, 1]); // density: counts / (total · bin width)
 * deepEqual(fig.data[0].customdata, [0, 2]);
 * ```
 */
export function memorizationFigure(data: MemorizationFigureData): Figure {
  const { edges, trueCounts, otherCounts } = data.histogram;
  const centers = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
  const widths = edges.slice(0, -1).map((e, i) => edges[i + 1] - e);
  const density = (counts: readonly number[]) => {
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    return counts.map((c, i) => c / (total * widths[i]));
  };
  const trace = (name: string, counts: readonly number[], color: string) => ({
    type: "bar",
    name,
    x: centers,
    y: density(counts),
    width: widths,
    customdata: [...counts],
    marker: { color, opacity: 0.6, line: { width: 0 } },
    hovertemplate: "%{x:.3g}: %{customdata} values<extra>" + name + "</extra>",
  });
  const on = data.split ? ` on ${data.split}` : "";
  return {
    name: `fig2_memorization_${data.dataset.replace(/[^A-Za-z0-9_-]/g, "_")}`,
    title: `Figure 2 (${data.dataset}): ⟨A[x_n]_c, x_n⟩${on} for the true class vs the others ` +
      `(bimodality ${data.bimodality.toFixed(2)} pooled std)`,
    data: [
      trace("true class c = y_n", trueCounts, "#2ca02c"),
      trace("other classes c ≠ y_n", otherCounts, "#d62728"),
    ],
    layout: {
      title: {
        text: `${data.dataset}: ⟨A[x_n]_c, x_n⟩${on} (gap ${
          data.bimodality.toFixed(2)
        } pooled std)`,
      },
      barmode: "overlay",
      bargap: 0,
      xaxis: { title: { text: "⟨A[x_n]_c, x_n⟩" } },
      yaxis: { title: { text: "density" } },
      legend: { orientation: "h", y: -0.2 },
    },
  };
}
