/**
 * A line's partition as a plotly {@linkcode Figure}: the network's outputs along the line
 * (exactly piecewise linear), the breaks of one level, and the predicted class as shading.
 *
 * @module
 */
import type { LinePartition } from "../geometry/line_partition.ts";
import type { Figure, PlotlyTrace } from "./figure.ts";
import {
  checkPartitionFigure,
  checkPoints,
  type PartitionFigureOptions,
  pointsTrace,
} from "./_partition_figure.ts";
import { PALETTE, rgba } from "./_palette.ts";

/** A marked point of the line, e.g. one of the inputs it passes through. */
export interface LinePoint {
  /** Where on the line. */
  t: number;
  /** Label shown above it. */
  text: string;
}

/** Options of {@linkcode linePartitionFigure}: `level` is the level whose breaks are drawn. */
export interface LinePartitionFigureOptions extends PartitionFigureOptions {
  /** Points to mark. */
  points?: readonly LinePoint[];
}

/**
 * Draws a {@linkcode LinePartition}: each output `z_c(t)` as a line through its values at
 * the region breaks (where alone it bends), one level's breaks as a rug of ticks below, the
 * predicted class as a shaded band per decision interval, and marked points.
 *
 * @param partition The line's partition.
 * @param options Name, title, level, class names, points.
 * @returns The figure.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { linePartition } from "../geometry/line_partition.ts";
 * import { linePartitionFigure } from "./line_partition.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([1], [{ kind: "abs", name: "a", inputShape: [1], outputShape: [1] }]);
 * const p = linePartition(net, { origin: [-0.5], direction: [1] });
 * const fig = linePartitionFigure(p, { name: "abs", title: "|t − ½|" });
 * equal(fig.data[0].y[1], 0);
 * ```
 */
export function linePartitionFigure(
  partition: LinePartition,
  options: LinePartitionFigureOptions,
): Figure {
  const what = "Cannot draw the line's partition";
  const { levels, breaks, maps, outputs: C, decision } = partition;
  const { level, className: name } = checkPartitionFigure(options, levels.length, C, what);
  checkPoints(options.points, ["t"], what);
  const R = breaks.length - 1;
  // z at each break, from the region starting there (the last break: the last region)
  const z = (c: number, i: number) => {
    const r = Math.min(i, R - 1);
    return breaks[i] * maps[r * 2 * C + c] + maps[r * 2 * C + C + c];
  };
  const data: PlotlyTrace[] = [];
  let lo = Infinity, hi = -Infinity;
  for (let c = 0; c < C; c++) {
    const y = Array.from(breaks, (_, i) => z(c, i));
    for (const v of y) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    data.push({
      type: "scatter",
      mode: "lines",
      x: Array.from(breaks),
      y,
      line: { width: 1.5, color: PALETTE[c % PALETTE.length] },
      name: name(c),
    });
  }
  const cuts = levels.length > 0 ? levels[level].breaks.subarray(1, -1) : new Float64Array(0);
  // the breaks as a rug of ticks below the outputs (thousands of full-height lines would hide them)
  const span = hi - lo || 1, y0 = lo - 0.08 * span, y1 = lo - 0.02 * span;
  const x: (number | null)[] = [], y: (number | null)[] = [];
  for (const b of cuts) x.push(b, b, null), y.push(y0, y1, null);
  data.push({
    type: "scatter",
    mode: "lines",
    x,
    y,
    line: { width: 0.5, color: "rgba(0,0,0,0.6)" },
    hoverinfo: "skip",
    name: levels.length > 0 ? `${cuts.length + 1} regions (${levels[level].name})` : "one region",
  });
  if (options.points && options.points.length > 0) {
    const pts = options.points;
    data.push(
      pointsTrace(pts.map((p) => p.t), pts.map(() => hi), pts.map((p) => p.text), "triangle-down"),
    );
  }
  const shapes = Array.from(decision.labels, (label, i) => ({
    type: "rect",
    xref: "x",
    yref: "paper",
    x0: decision.breaks[i],
    x1: decision.breaks[i + 1],
    y0: 0,
    y1: 1,
    fillcolor: rgba(PALETTE[label % PALETTE.length], 0.15),
    line: { width: 0 },
    layer: "below",
  }));
  return {
    name: options.name,
    title: options.title,
    data,
    layout: {
      title: { text: options.title },
      xaxis: { title: { text: "t" }, zeroline: false },
      yaxis: { title: { text: "output z(t)" } },
      shapes,
      showlegend: true,
      width: 760,
      height: 440,
    },
  };
}
