/**
 * Line charts of several labelled series over a shared x, each with an optional shaded
 * band (e.g. mean ± std over seeds), as a plotly {@linkcode Figure}.
 *
 * @module
 */
import { checkFigureName, type Figure, type PlotlyTrace } from "./figure.ts";
import { PALETTE, rgba } from "./_palette.ts";

/** One series of {@linkcode lineFigure}. */
export interface LineSeries {
  /** Legend label. */
  label: string;
  /** y values, one per x (NaN draws a gap). */
  y: ArrayLike<number>;
  /** Shaded band from `lower` to `upper` (one value per x each), e.g. mean ± std. */
  band?: { lower: ArrayLike<number>; upper: ArrayLike<number> };
  /** CSS hex colour `#rrggbb`; default the next colour of plotly's cycle. */
  color?: string;
}

/** Options of {@linkcode lineFigure}. */
export interface LineFigureOptions {
  /** File-name-safe figure name. */
  name: string;
  /** Figure title. */
  title: string;
  /** Shared x values (numbers, or strings for a categorical axis). */
  x: ArrayLike<number> | readonly string[];
  /** The series. */
  series: LineSeries[];
  /** x-axis title. */
  xTitle: string;
  /** y-axis title. */
  yTitle: string;
  /** Draw markers on the points too; default `true`. */
  markers?: boolean;
  /** x-axis type, e.g. `"log"` for a λ sweep; default plotly's guess from the values. */
  xType?: "linear" | "log" | "category";
  /** y-axis type; default plotly's guess (linear for numbers). */
  yType?: "linear" | "log";
}

/**
 * Plain array of numbers (NaN kept, becomes a gap); RangeError on a length mismatch, TypeError on
 * a value that is not a number.
 */
function column(
  values: ArrayLike<number> | undefined,
  n: number,
  what: string,
  figName: string,
): number[] {
  if (values === undefined || values === null || typeof values.length !== "number") {
    throw new TypeError(`Cannot build line chart "${figName}": ${what} is not an array`);
  }
  if (values.length !== n) {
    throw new RangeError(
      `Cannot build line chart "${figName}": ${what} has ${values.length} values, ` +
        `expected ${n} (one per x)`,
    );
  }
  const out = Array.from(values);
  const bad = out.findIndex((v) => typeof v !== "number");
  if (bad >= 0) {
    throw new TypeError(
      `Cannot build line chart "${figName}": ${what}[${bad}] is ${
        JSON.stringify(out[bad])
      }, expected a number (NaN for a gap)`,
    );
  }
  return out;
}

/**
 * Builds a line chart: one `scatter` trace per series over the shared `x`, and for a
 * series with a `band` a filled polygon (`fill: "toself"`, x forward then backward, upper
 * then reversed lower) in the series' colour, drawn under its line and grouped with it in
 * the legend.
 *
 * @param options Name, title, x, series (with optional bands), axis titles.
 * @returns The figure.
 *
 * @example
 * ```ts
 * import { lineFigure } from "./lines.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const fig = lineFigure({
 *   name: "demo",
 *   title: "Accuracy",
 *   x: [1, 2, 3],
 *   series: [{ label: "λ=0", y: [0.5, 0.7, 0.8], band: { lower: [0.4, 0.6, 0.7], upper: [0.6, 0.8, 0.9] } }],
 *   xTitle: "epoch",
 *   yTitle: "accuracy",
 * });
 * equal(fig.data.length, 2); // band + line
 * deepEqual(fig.data[0].x, [1, 2, 3, 3, 2, 1]);
 * deepEqual(fig.data[1].y, [0.5, 0.7, 0.8]);
 * ```
 */
export function lineFigure(options: LineFigureOptions): Figure {
  const { name, title, series } = options;
  checkFigureName(name, `build line chart ${JSON.stringify(name)}`);
  const xs = options.x;
  if (xs === undefined || xs === null || typeof xs.length !== "number") {
    throw new TypeError(`Cannot build line chart "${name}": x is not an array`);
  }
  const x: (number | string)[] = Array.from(xs as ArrayLike<number | string>);
  const n = x.length;
  if (!Array.isArray(series) || series.length === 0) {
    throw new RangeError(`Cannot build line chart "${name}": series is empty`);
  }
  const mode = options.markers === false ? "lines" : "lines+markers";
  const data: PlotlyTrace[] = [];
  series.forEach((s, i) => {
    if (typeof s?.label !== "string") {
      throw new TypeError(`Cannot build line chart "${name}": series ${i} has no string label`);
    }
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const y = column(s.y, n, `series "${s.label}" y`, name);
    if (s.band) {
      const lower = column(s.band.lower, n, `series "${s.label}" band.lower`, name);
      const upper = column(s.band.upper, n, `series "${s.label}" band.upper`, name);
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${s.label} band`,
        x: [...x, ...x.slice().reverse()],
        y: [...upper, ...lower.slice().reverse()],
        fill: "toself",
        fillcolor: rgba(color, 0.2),
        line: { width: 0, color },
        hoverinfo: "skip",
        showlegend: false,
        legendgroup: s.label,
      });
    }
    data.push({
      type: "scatter",
      mode,
      name: s.label,
      x,
      y,
      line: { color },
      marker: { color },
      legendgroup: s.label,
    });
  });
  return {
    name,
    title,
    data,
    layout: {
      title: { text: title },
      xaxis: { title: { text: options.xTitle }, ...(options.xType ? { type: options.xType } : {}) },
      yaxis: { title: { text: options.yTitle }, ...(options.yType ? { type: options.yType } : {}) },
      hovermode: "x unified",
    },
  };
}
