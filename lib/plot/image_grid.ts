/**
 * A grid of small images with titles (e.g. class templates `A[x]_c`), as a plotly
 * {@linkcode Figure}: RGB images as `image` traces, single-channel ones as heatmaps on a
 * diverging colour scale centred at 0 (templates have signs).
 *
 * @module
 */
import { checkFigureName, type Figure, type PlotlyTrace } from "./figure.ts";

/** One image of {@linkcode imageGridFigure}: `height × width × channels` values, HWC order. */
export interface GridImage {
  /** Title drawn above the image. */
  title: string;
  /** Pixel values, row-major with channels last (`data[(r·width + c)·channels + k]`). */
  data: ArrayLike<number>;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** 1 (heatmap) or 3 (RGB image). */
  channels: number;
}

/** Options of {@linkcode imageGridFigure}. */
export interface ImageGridFigureOptions {
  /** File-name-safe figure name. */
  name: string;
  /** Figure title. */
  title: string;
  /** The images, laid out left to right, top to bottom. */
  images: GridImage[];
  /** Images per row. */
  columns: number;
  /** Colour scale of single-channel images; default blue (negative) – white (0) – red. */
  colorscale?: string | [number, string][];
  /** Size of one cell in px (the figure's width is `columns · cellSize`); default 160. */
  cellSize?: number;
}

/** Blue for negative, white at 0, red for positive (ColorBrewer RdBu, reversed). */
export const DIVERGING_COLORSCALE: [number, string][] = [
  [0, "#2166ac"],
  [0.25, "#92c5de"],
  [0.5, "#f7f7f7"],
  [0.75, "#f4a582"],
  [1, "#b2182b"],
];

/** Fraction of a cell's height kept for its title. */
const TITLE_SPACE = 0.16;
/** Fraction of a cell's width/height left as a gap. */
const GAP = 0.06;

function checkImage(img: GridImage, i: number, name: string): void {
  const what = `Cannot build image grid "${name}": image ${i}`;
  if (img === null || typeof img !== "object") throw new TypeError(`${what} is not an object`);
  for (const key of ["height", "width"] as const) {
    if (!Number.isInteger(img[key]) || img[key] < 1) {
      throw new RangeError(`${what} has ${key} ${img[key]}, expected a positive integer`);
    }
  }
  if (img.channels !== 1 && img.channels !== 3) {
    throw new RangeError(`${what} has ${img.channels} channels, expected 1 or 3`);
  }
  const expected = img.height * img.width * img.channels;
  if (img.data?.length !== expected) {
    throw new RangeError(
      `${what} has ${img.data?.length} values, expected ${expected} ` +
        `(${img.height}×${img.width}×${img.channels})`,
    );
  }
  for (let j = 0; j < expected; j++) {
    if (!Number.isFinite(img.data[j])) {
      throw new RangeError(`${what} has value ${img.data[j]} at index ${j}, expected finite`);
    }
  }
}

/** RGB image as `z[row][col] = [r, g, b]` in 0..255, min-max rescaled over all channels. */
function rgbRows(img: GridImage): number[][][] {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < img.data.length; j++) {
    if (img.data[j] < min) min = img.data[j];
    if (img.data[j] > max) max = img.data[j];
  }
  const range = max - min;
  const scale = (v: number) => (range > 0 ? ((v - min) / range) * 255 : 127.5);
  const rows: number[][][] = [];
  for (let r = 0; r < img.height; r++) {
    const row: number[][] = [];
    for (let c = 0; c < img.width; c++) {
      const o = (r * img.width + c) * 3;
      row.push([scale(img.data[o]), scale(img.data[o + 1]), scale(img.data[o + 2])]);
    }
    rows.push(row);
  }
  return rows;
}

/** Single-channel image as `z[row][col]` plus its largest magnitude. */
function grayRows(img: GridImage): { z: number[][]; absMax: number } {
  const z: number[][] = [];
  let absMax = 0;
  for (let r = 0; r < img.height; r++) {
    const row = Array.from(
      { length: img.width },
      (_, c) => Number(img.data[r * img.width + c]),
    );
    for (const v of row) absMax = Math.max(absMax, Math.abs(v));
    z.push(row);
  }
  return { z, absMax };
}

/**
 * Builds a grid of titled images, `columns` per row: an RGB image becomes an `image`
 * trace with `z[row][col] = [r, g, b]` rescaled per image from its min..max to 0..255; a
 * single-channel image becomes a `heatmap` with `zmid: 0` and `zmin = −zmax = −max|z|`, so
 * white means 0 and the sign shows as blue/red. Each image has its own axes (hidden, pixels
 * square, row 0 at the top) and its title as an annotation above it.
 *
 * @param options Name, title, images (HWC data), columns, colour scale, cell size.
 * @returns The figure.
 *
 * @example
 * ```ts
 * import { imageGridFigure } from "./image_grid.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const fig = imageGridFigure({
 *   name: "demo",
 *   title: "Templates",
 *   images: [
 *     { title: "gray", data: [-1, 0, 0, 2], height: 2, width: 2, channels: 1 },
 *     { title: "rgb", data: [0, 0, 0, 1, 1, 1], height: 1, width: 2, channels: 3 },
 *   ],
 *   columns: 2,
 * });
 * equal(fig.data[0].type, "heatmap");
 * deepEqual(fig.data[0].z, [[-1, 0], [0, 2]]);
 * equal(fig.data[1].type, "image");
 * deepEqual(fig.data[1].z, [[[0, 0, 0], [255, 255, 255]]]);
 * ```
 */
export function imageGridFigure(options: ImageGridFigureOptions): Figure {
  const { name, title, images, columns } = options;
  checkFigureName(name, `build image grid ${JSON.stringify(name)}`);
  if (!Array.isArray(images) || images.length === 0) {
    throw new RangeError(`Cannot build image grid "${name}": images is empty`);
  }
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(
      `Cannot build image grid "${name}": columns ${columns} is not a positive integer`,
    );
  }
  const cellSize = options.cellSize ?? 160;
  if (!(Number.isFinite(cellSize) && cellSize >= 16)) {
    throw new RangeError(`Cannot build image grid "${name}": cellSize ${cellSize} is below 16`);
  }
  images.forEach((img, i) => checkImage(img, i, name));
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const colorscale = options.colorscale ?? DIVERGING_COLORSCALE;
  const data: PlotlyTrace[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: title },
    width: cols * cellSize + 40,
    height: rows * cellSize + 80,
    margin: { l: 20, r: 20, t: 60, b: 20 },
    showlegend: false,
  };
  images.forEach((img, i) => {
    const row = Math.floor(i / cols), col = i % cols;
    const suffix = i === 0 ? "" : String(i + 1);
    const xa = `x${suffix}`, ya = `y${suffix}`;
    const x0 = col / cols, x1 = (col + 1) / cols;
    const yTop = 1 - row / rows, yBottom = 1 - (row + 1) / rows;
    const gapX = GAP / cols, gapY = GAP / rows;
    const imageTop = yTop - TITLE_SPACE / rows;
    const hidden = { showticklabels: false, showgrid: false, zeroline: false, ticks: "" };
    layout[`xaxis${suffix}`] = {
      ...hidden,
      domain: [x0 + gapX / 2, x1 - gapX / 2],
      anchor: ya,
      constrain: "domain",
    };
    layout[`yaxis${suffix}`] = {
      ...hidden,
      domain: [yBottom + gapY / 2, imageTop],
      anchor: xa,
      scaleanchor: xa,
      constrain: "domain",
      ...(img.channels === 1 ? { autorange: "reversed" } : {}),
    };
    annotations.push({
      text: img.title,
      xref: "paper",
      yref: "paper",
      x: (x0 + x1) / 2,
      y: imageTop,
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      font: { size: 12 },
    });
    if (img.channels === 3) {
      data.push({ type: "image", name: img.title, z: rgbRows(img), xaxis: xa, yaxis: ya });
    } else {
      const { z, absMax } = grayRows(img);
      const m = absMax > 0 ? absMax : 1;
      data.push({
        type: "heatmap",
        name: img.title,
        z,
        zmin: -m,
        zmax: m,
        zmid: 0,
        colorscale,
        showscale: false,
        xaxis: xa,
        yaxis: ya,
      });
    }
  });
  layout.annotations = annotations;
  return { name, title, data, layout };
}
