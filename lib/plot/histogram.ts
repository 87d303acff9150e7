/**
 * Overlaid histograms of several labelled series on shared bins, as a plotly
 * {@linkcode Figure}.
 *
 * @module
 */
import { checkFigureName, type Figure, type PlotlyTrace } from "./figure.ts";

/** One series of {@linkcode histogramFigure}. */
export interface HistogramSeries {
  /** Legend label. */
  label: string;
  /** The values to bin (finite numbers). */
  values: ArrayLike<number>;
  /** CSS colour; default plotly's colour cycle. */
  color?: string;
}

/** Options of {@linkcode histogramFigure}. */
export interface HistogramFigureOptions {
  /** File-name-safe figure name. */
  name: string;
  /** Figure title. */
  title: string;
  /** The series, drawn overlaid (semi-transparent) in this order. */
  series: HistogramSeries[];
  /** x-axis title. */
  xTitle: string;
  /** y-axis title; default from `histnorm` (`"count"`). */
  yTitle?: string;
  /** Number of bins spanning all values of all series; default 40. */
  bins?: number;
  /** plotly `histnorm`: `""` counts (default), `"probability"`, `"probability density"`, … */
  histnorm?: "" | "percent" | "probability" | "density" | "probability density";
}

/** Shared bins of {@linkcode histogramFigure}: `[start + k·size, start + (k+1)·size)`. */
interface HistogramBins {
  /** Left edge of the first bin (the smallest value). */
  start: number;
  /** Right edge of the last bin (just past the largest value). */
  end: number;
  /** Bin width. */
  size: number;
}

/**
 * Bins covering `[min, max]` of the values with exactly `bins` half-open bins (the last
 * edge is nudged just past the maximum so it falls in the last bin).
 */
function sharedBins(min: number, max: number, bins: number): HistogramBins {
  if (min === max) {
    const size = Math.max(Math.abs(min) * 1e-3, 1e-3) * 2;
    return { start: min - size / 2, end: min + size * (bins - 0.5), size };
  }
  const size = ((max - min) / bins) * (1 + 1e-9);
  return { start: min, end: min + bins * size, size };
}

/**
 * Builds overlaid histograms of labelled series on shared bins (so the bars line up):
 * one plotly `histogram` trace per series with `xbins = { start, end, size }` computed from
 * the minimum and maximum over all series, `barmode: "overlay"` and opacity 0.6.
 *
 * @param options Name, title, series, axis titles, bin count, normalisation.
 * @returns The figure.
 *
 * @example
 * ```ts
 * import { histogramFigure } from "./histogram.ts";
 * import { equal } from "node:assert/strict";
 * const fig = histogramFigure({
 *   name: "demo",
 *   title: "Two series",
 *   series: [{ label: "a", values: [0, 1, 1, 2] }, { label: "b", values: [2, 3, 4] }],
 *   xTitle: "value",
 *   bins: 4,
 * });
 * equal(fig.data.length, 2);
 * equal(fig.data[0].xbins.start, 0);
 * equal(Math.round((fig.data[0].xbins.end - fig.data[0].xbins.start) / fig.data[0].xbins.size), 4);
 * ```
 */
export function histogramFigure(options: HistogramFigureOptions): Figure {
  const { name, title, series, xTitle } = options;
  checkFigureName(name, `build histogram ${JSON.stringify(name)}`);
  const bins = options.bins ?? 40;
  if (!Number.isInteger(bins) || bins < 1 || bins > 10000) {
    throw new RangeError(`Cannot build histogram "${name}": bins ${bins} is not in [1, 10000]`);
  }
  if (!Array.isArray(series) || series.length === 0) {
    throw new RangeError(`Cannot build histogram "${name}": series is empty`);
  }
  let min = Infinity, max = -Infinity, total = 0;
  const values: number[][] = series.map((s, i) => {
    if (typeof s?.label !== "string") {
      throw new TypeError(`Cannot build histogram "${name}": series ${i} has no string label`);
    }
    const v = Array.from(s.values ?? [], Number);
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j])) {
        throw new RangeError(
          `Cannot build histogram "${name}": series "${s.label}" has value ${v[j]} at ` +
            `index ${j}, expected finite numbers`,
        );
      }
      if (v[j] < min) min = v[j];
      if (v[j] > max) max = v[j];
    }
    total += v.length;
    return v;
  });
  if (total === 0) {
    throw new RangeError(`Cannot build histogram "${name}": all series are empty`);
  }
  const xbins = sharedBins(min, max, bins);
  const histnorm = options.histnorm ?? "";
  const data: PlotlyTrace[] = series.map((s, i) => ({
    type: "histogram",
    name: s.label,
    x: values[i],
    xbins: { ...xbins },
    autobinx: false,
    histnorm,
    opacity: 0.6,
    ...(s.color ? { marker: { color: s.color } } : {}),
  }));
  return {
    name,
    title,
    data,
    layout: {
      title: { text: title },
      barmode: "overlay",
      xaxis: { title: { text: xTitle } },
      yaxis: { title: { text: options.yTitle ?? (histnorm === "" ? "count" : histnorm) } },
    },
  };
}
