/**
 * Figure 1 of the paper: an input image and its signal-dependent class templates A[x]_c.
 *
 * @module
 */
import type { Figure, PlotlyTrace } from "./figure.ts";

/** What the templates figure needs: one input and some of its templates. */
export interface TemplatesFigureData {
  /** The dataset's name, e.g. `"mnist"` (used in the figure's name). */
  readonly dataset: string;
  /** Per-example shape `[H, W, C]` with C = 1 (gray) or 3 (RGB). */
  readonly shape: readonly number[];
  /** The input x, row-major HWC, length H·W·C. */
  readonly input: readonly number[];
  /** The input's true class name. */
  readonly labelName: string;
  /** The shown classes' names (the first is the true class). */
  readonly classNames: readonly string[];
  /** The templates A[x]_c of the shown classes, each row-major HWC. */
  readonly templates: readonly (readonly number[])[];
  /** ⟨A[x]_c, x⟩ of the shown classes. */
  readonly innerProducts: readonly number[];
}

/** Blue (negative) – white (0) – red (positive). */
const DIVERGING = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [
  1,
  "#b2182b",
]];

/** Rows `[H][W]` of one channel, or `[H][W][3]` RGB scaled to 0…255 per image (min–max). */
function imageTrace(
  values: readonly number[],
  shape: readonly number[],
  axis: number,
  gray: "input" | "template",
): PlotlyTrace {
  const [H, W, C] = shape;
  const ax = axis === 1 ? "" : `${axis}`;
  if (C === 1) {
    const z = Array.from({ length: H }, (_, i) => values.slice(i * W, (i + 1) * W));
    const m = Math.max(1e-12, ...values.map(Math.abs));
    return {
      type: "heatmap",
      z,
      xaxis: `x${ax}`,
      yaxis: `y${ax}`,
      colorscale: gray === "input" ? "Greys" : DIVERGING,
      zmin: -m,
      zmax: m,
      showscale: false,
      hovertemplate: "(%{y}, %{x}): %{z:.3g}<extra></extra>",
    };
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const span = hi > lo ? hi - lo : 1;
  const z = Array.from(
    { length: H },
    (_, i) =>
      Array.from({ length: W }, (_, j) =>
        Array.from(
          { length: 3 },
          (_, c) => Math.round((255 * (values[(i * W + j) * C + c] - lo)) / span),
        )),
  );
  return { type: "image", z, xaxis: `x${ax}`, yaxis: `y${ax}`, hoverinfo: "skip" };
}

/**
 * The paper's Figure 1 for one input: the image x and the signal-dependent templates
 * A[x]_c of a few classes (the true class first), each titled with ⟨A[x]_c, x⟩. Gray
 * inputs are drawn in grey levels, gray templates on a diverging scale centred at 0 (blue
 * negative, red positive); RGB images are min–max scaled per panel.
 *
 * @param data The input, its templates and inner products.
 * @returns The figure `fig1_templates_<dataset>`.
 *
 * @example
 * ```ts
 * import { templatesFigure } from "./templates.ts";
 * import { equal } from "node:assert/strict";
 * const fig = templatesFigure({
 *   dataset: "toy", shape: [2, 2, 1], input: [0, 1, 1, 0], labelName: "a",
 *   classNames: ["a", "b"], templates: [[0, 1, 1, 0], [1, 0, 0, 1]], innerProducts: [2, 0],
 * });
 * equal(fig.name, "fig1_templates_toy");
 * equal(fig.data.length, 3);
 * ```
 */
export function templatesFigure(data: TemplatesFigureData): Figure {
  const panels = 1 + data.templates.length;
  const gap = 0.02, width = (1 - gap * (panels - 1)) / panels;
  const layout: Record<string, unknown> = {
    title: { text: `Signal-dependent templates A[x]_c (${data.dataset})` },
    showlegend: false,
    height: 320,
    margin: { t: 80, b: 20, l: 20, r: 20 },
    annotations: [] as unknown[],
  };
  const traces: PlotlyTrace[] = [];
  const titles = [
    `input x (${data.labelName})`,
    ...data.classNames.map((name, k) =>
      `A[x]_${name}${k === 0 ? " (true)" : ""}<br>⟨A_c, x⟩ = ${data.innerProducts[k].toFixed(1)}`
    ),
  ];
  for (let p = 0; p < panels; p++) {
    const axis = p + 1, ax = axis === 1 ? "" : `${axis}`;
    const values = p === 0 ? data.input : data.templates[p - 1];
    traces.push(imageTrace(values, data.shape, axis, p === 0 ? "input" : "template"));
    const x0 = p * (width + gap);
    layout[`xaxis${ax}`] = {
      domain: [x0, x0 + width],
      showticklabels: false,
      ticks: "",
      showgrid: false,
      zeroline: false,
      constrain: "domain",
    };
    layout[`yaxis${ax}`] = {
      autorange: "reversed",
      showticklabels: false,
      ticks: "",
      showgrid: false,
      zeroline: false,
      scaleanchor: `x${ax}`,
      constrain: "domain",
    };
    (layout.annotations as unknown[]).push({
      text: titles[p],
      x: x0 + width / 2,
      y: 1.0,
      xref: "paper",
      yref: "paper",
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
    });
  }
  return {
    name: `fig1_templates_${data.dataset.replace(/[^A-Za-z0-9_-]/g, "_")}`,
    title: `Figure 1 (${data.dataset}): input and templates A[x]_c with ⟨A[x]_c, x⟩ = ${
      data.innerProducts.map((v) => v.toFixed(1)).join(", ")
    } for ${data.classNames.join(", ")}`,
    data: traces,
    layout,
  };
}
