/**
 * A slice's partition as a plotly {@linkcode Figure}: the regions of one level as outlines,
 * filled by the class the network predicts there, with the decision boundary.
 *
 * @module
 */
import type { SlicePartition } from "../geometry/slice_partition.ts";
import type { Figure, PlotlyTrace } from "./figure.ts";
import {
  checkPartitionFigure,
  checkPoints,
  type PartitionFigureOptions,
  pointsTrace,
} from "./_partition_figure.ts";
import { PALETTE, rgba } from "./_palette.ts";

/** A marked point of the slice, e.g. one of the inputs it passes through. */
export interface SlicePoint {
  /** Coordinates in the slice. */
  u: number;
  /** Coordinates in the slice. */
  v: number;
  /** Label shown beside it. */
  text: string;
}

/** Options of {@linkcode slicePartitionFigure}: `level` is the level whose regions are outlined. */
export interface SlicePartitionFigureOptions extends PartitionFigureOptions {
  /** Points to mark. */
  points?: readonly SlicePoint[];
}

/** Polygons as one trace's coordinates, each closed and followed by a gap. */
function outlines(polys: Iterable<Float64Array>): { x: (number | null)[]; y: (number | null)[] } {
  const x: (number | null)[] = [], y: (number | null)[] = [];
  for (const p of polys) {
    for (let i = 0; i <= p.length / 2; i++) {
      const k = i % (p.length / 2);
      x.push(p[2 * k]);
      y.push(p[2 * k + 1]);
    }
    x.push(null);
    y.push(null);
  }
  return { x, y };
}

/**
 * The edges of the decision pieces along which the largest output ties with another (the
 * decision boundary), as line segments with gaps: an edge is on it when, at its midpoint,
 * another output is within 1e-9 of the piece's own (relative to the outputs' size).
 */
function decisionBoundary(p: SlicePartition): { x: (number | null)[]; y: (number | null)[] } {
  const C = p.outputs, x: (number | null)[] = [], y: (number | null)[] = [];
  for (const d of p.decision) {
    const m = p.maps.subarray(d.region * 3 * C, (d.region + 1) * 3 * C);
    const n = d.polygon.length / 2, q = d.polygon;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const u = (q[2 * i] + q[2 * j]) / 2, v = (q[2 * i + 1] + q[2 * j + 1]) / 2;
      const z = (c: number) => u * m[c] + v * m[C + c] + m[2 * C + c];
      const own = z(d.label);
      let scale = Math.abs(own), gap = Infinity;
      for (let c = 0; c < C; c++) {
        if (c === d.label) continue;
        scale = Math.max(scale, Math.abs(z(c)));
        gap = Math.min(gap, own - z(c));
      }
      if (gap <= 1e-9 * Math.max(scale, 1e-300)) {
        x.push(q[2 * i], q[2 * j], null);
        y.push(q[2 * i + 1], q[2 * j + 1], null);
      }
    }
  }
  return { x, y };
}

/**
 * Draws a {@linkcode SlicePartition}: the decision pieces filled by predicted class (one
 * `fill: "toself"` trace per class), the outlines of one level's regions (one line trace),
 * the decision boundary as a thick line (where two outputs tie), and marked points; `(u, v)` axes at equal scale.
 *
 * @param partition The slice's partition.
 * @param options Name, title, level, class names, points.
 * @returns The figure.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { slicePartition } from "../geometry/slice_partition.ts";
 * import { slicePartitionFigure } from "./slice_partition.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "abs", name: "a", inputShape: [2], outputShape: [2] }]);
 * const p = slicePartition(net, { origin: [-0.5, -0.5], directions: [[1, 0], [0, 1]] });
 * const fig = slicePartitionFigure(p, { name: "abs", title: "|x|" });
 * equal(fig.data.filter((t) => t.name === "regions (a)").length, 1);
 * ```
 */
export function slicePartitionFigure(
  partition: SlicePartition,
  options: SlicePartitionFigureOptions,
): Figure {
  const what = "Cannot draw the slice's partition";
  const levels = partition.levels;
  const { level, className } = checkPartitionFigure(
    options,
    levels.length,
    partition.outputs,
    what,
  );
  checkPoints(options.points, ["u", "v"], what);
  const data: PlotlyTrace[] = [];
  const byLabel = new Map<number, Float64Array[]>();
  for (const d of partition.decision) {
    const list = byLabel.get(d.label) ?? [];
    list.push(d.polygon);
    byLabel.set(d.label, list);
  }
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    data.push({
      type: "scatter",
      mode: "lines",
      ...outlines(byLabel.get(label)!),
      fill: "toself",
      fillcolor: rgba(PALETTE[label % PALETTE.length], 0.35),
      line: { width: 0 },
      hoverinfo: "name",
      name: className(label),
    });
  }
  const boundary = decisionBoundary(partition);
  const regions = levels.length > 0 ? levels[level].regions : partition.regions;
  data.push({
    type: "scatter",
    mode: "lines",
    ...outlines(regions.map((r) => r.polygon)),
    line: { width: 0.6, color: "rgba(0,0,0,0.55)" },
    hoverinfo: "skip",
    name: levels.length > 0 ? `regions (${levels[level].name})` : "domain",
  });
  if (boundary.x.length > 0) {
    data.push({
      type: "scatter",
      mode: "lines",
      ...boundary,
      line: { width: 2, color: "black" },
      hoverinfo: "skip",
      name: "decision boundary",
    });
  }
  if (options.points && options.points.length > 0) {
    const pts = options.points;
    data.push(pointsTrace(pts.map((p) => p.u), pts.map((p) => p.v), pts.map((p) => p.text), "x"));
  }
  return {
    name: options.name,
    title: options.title,
    data,
    layout: {
      title: { text: options.title },
      xaxis: { title: { text: "u" }, zeroline: false },
      yaxis: { title: { text: "v" }, zeroline: false, scaleanchor: "x", scaleratio: 1 },
      showlegend: true,
      width: 640,
      height: 560,
    },
  };
}
