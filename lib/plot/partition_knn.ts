/**
 * Figure builders of the partition-distance experiment (Section 7.3, eq. 15, Figure 4): the
 * grid of each query image and its nearest neighbours at every layer, and the curves of
 * class agreement and Euclidean distance over layers. Pure: plain data in, plotly JSON out
 * (the image grid is embedded as a PNG data URI).
 *
 * @module
 */
import { encode } from "fast-png";
import type { Figure, PlotlyTrace } from "./figure.ts";

/** One neighbour in the grid. */
export interface GridNeighbor {
  /** Pixels `H·W·channels`, row-major HWC, values 0…255. */
  readonly image: ArrayLike<number>;
  /** Its class name. */
  readonly label: string;
  /** Whether its class is the query's. */
  readonly sameClass: boolean;
  /** Its partition distance to the query (eq. 15). */
  readonly distance: number;
}

/** One query of the grid and its neighbours per layer. */
export interface GridQuery {
  /** Pixels `H·W·channels`, row-major HWC, values 0…255. */
  readonly image: ArrayLike<number>;
  /** Its class name. */
  readonly label: string;
  /** `neighbors[ℓ]`: the k nearest neighbours at code layer ℓ, nearest first. */
  readonly neighbors: readonly (readonly GridNeighbor[])[];
}

/** The data of {@linkcode neighborGridFigure}. */
export interface NeighborGridData {
  /** Dataset name (for the figure name). */
  readonly dataset: string;
  /** Image height. */
  readonly height: number;
  /** Image width. */
  readonly width: number;
  /** 1 (gray) or 3 (RGB). */
  readonly channels: number;
  /** One label per code layer, e.g. `"ℓ=1 ReLU"`. */
  readonly layers: readonly string[];
  /** The queries shown, one row each. */
  readonly queries: readonly GridQuery[];
}

/** The data of {@linkcode partitionCurvesFigure}. */
export interface PartitionCurvesData {
  /** Dataset name. */
  readonly dataset: string;
  /** One label per code layer. */
  readonly layers: readonly string[];
  /** Per layer: fraction of neighbours of the query's class. */
  readonly classAgreement: readonly number[];
  /** Per layer: mean Euclidean distance (input space) from the query to its neighbours. */
  readonly euclidean: readonly number[];
  /** Fraction of base examples of the query's class (chance level). */
  readonly chanceAgreement: number;
  /** Mean Euclidean distance from a query to all base examples. */
  readonly randomEuclidean: number;
  /** Per layer: class agreement of the same network untrained (drawn when given). */
  readonly untrainedClassAgreement?: readonly number[];
  /** Per layer: Euclidean distance of the same network untrained (drawn when given). */
  readonly untrainedEuclidean?: readonly number[];
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "_");
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

const TILES = 4; // a 4×4 tile panel: the query then up to 15 neighbours
const GAP = 2; // pixels between tiles
const PANEL_GAP = 10; // pixels between layer panels
const ROW_GAP = 10; // pixels between query rows

/**
 * Figure 4's image grid: one row per query; per code layer ℓ a 4×4 panel with the query at
 * top left (gold frame) and its nearest neighbours under the partition distance (eq. 15) in
 * reading order, framed green when of the query's class and red otherwise. Hover text gives
 * each tile's class and distance.
 *
 * @param data Images (0…255), labels, neighbours per layer.
 * @returns The figure `fig4_neighbors_<dataset>`.
 * @example Two layers, one query, one neighbour each
 * ```ts
 * import { neighborGridFigure } from "./partition_knn.ts";
 * import { equal, ok } from "node:assert/strict";
 * const img = new Uint8Array(2 * 2 * 3).fill(200);
 * const n = { image: img, label: "cat", sameClass: true, distance: 0.25 };
 * const fig = neighborGridFigure({
 *   dataset: "toy", height: 2, width: 2, channels: 3, layers: ["ℓ=1", "ℓ=2"],
 *   queries: [{ image: img, label: "cat", neighbors: [[n], [n]] }],
 * });
 * equal(fig.name, "fig4_neighbors_toy");
 * ok(String(fig.data[0].source).startsWith("data:image/png;base64,"));
 * equal(fig.layout.shapes.length, 4); // 2 layers × (query + 1 neighbour)
 * ```
 */
export function neighborGridFigure(data: NeighborGridData): Figure {
  const { height: H, width: W, channels } = data;
  const what = "Cannot build the neighbour grid figure";
  if (!(Number.isInteger(H) && H > 0 && Number.isInteger(W) && W > 0)) {
    throw new RangeError(`${what}: image size ${H}×${W} is not positive integers`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`${what}: channels is ${channels}, expected 1 or 3`);
  }
  const L = data.layers.length;
  if (L === 0 || data.queries.length === 0) {
    throw new RangeError(
      `${what}: ${L} layers and ${data.queries.length} queries, expected ≥ 1 each`,
    );
  }
  const pixels = H * W * channels;
  const check = (img: ArrayLike<number>, who: string) => {
    if (img.length !== pixels) {
      throw new RangeError(
        `${what}: ${who} has ${img.length} values, expected ${H}·${W}·${channels}`,
      );
    }
  };
  const tileW = W + GAP, tileH = H + GAP;
  const panelW = TILES * tileW, panelH = TILES * tileH;
  const width = L * panelW + (L - 1) * PANEL_GAP;
  const height = data.queries.length * panelH + (data.queries.length - 1) * ROW_GAP;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const shapes: Record<string, unknown>[] = [];
  const hx: number[] = [], hy: number[] = [], htext: string[] = [];
  const put = (img: ArrayLike<number>, x0: number, y0: number) => {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = ((y0 + y) * width + x0 + x) * 3, i = (y * W + x) * channels;
        for (let c = 0; c < 3; c++) {
          const v = img[i + (channels === 3 ? c : 0)];
          rgb[o + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  };
  const frame = (x0: number, y0: number, color: string) =>
    shapes.push({
      type: "rect",
      xref: "x",
      yref: "y",
      x0: x0 - 0.5,
      y0: y0 - 0.5,
      x1: x0 + W - 0.5,
      y1: y0 + H - 0.5,
      line: { color, width: 2 },
    });
  data.queries.forEach((q, qi) => {
    check(q.image, `query ${qi}`);
    if (q.neighbors.length !== L) {
      throw new RangeError(
        `${what}: query ${qi} has neighbours for ${q.neighbors.length} layers, expected ${L}`,
      );
    }
    const rowY = qi * (panelH + ROW_GAP);
    for (let l = 0; l < L; l++) {
      const panelX = l * (panelW + PANEL_GAP);
      put(q.image, panelX, rowY);
      frame(panelX, rowY, "gold");
      hx.push(panelX + W / 2);
      hy.push(rowY + H / 2);
      htext.push(`query: ${q.label}<br>${data.layers[l]}`);
      q.neighbors[l].slice(0, TILES * TILES - 1).forEach((n, j) => {
        check(n.image, `query ${qi} layer ${l} neighbour ${j}`);
        const t = j + 1;
        const x0 = panelX + (t % TILES) * tileW, y0 = rowY + Math.floor(t / TILES) * tileH;
        put(n.image, x0, y0);
        frame(x0, y0, n.sameClass ? "#2ca02c" : "#d62728");
        hx.push(x0 + W / 2);
        hy.push(y0 + H / 2);
        htext.push(`#${j + 1}: ${n.label}<br>d = ${n.distance.toFixed(4)}`);
      });
    }
  });
  const png = encode({ width, height, data: rgb, channels: 3, depth: 8 });
  const traces: PlotlyTrace[] = [
    {
      type: "image",
      source: `data:image/png;base64,${base64(png)}`,
      x0: 0,
      y0: 0,
      dx: 1,
      dy: 1,
      hoverinfo: "skip",
    },
    {
      type: "scatter",
      mode: "markers",
      x: hx,
      y: hy,
      text: htext,
      hoverinfo: "text",
      marker: { size: Math.max(4, W / 2), opacity: 0 },
      showlegend: false,
    },
  ];
  const annotations = [
    ...data.layers.map((label, l) => ({
      text: label,
      x: l * (panelW + PANEL_GAP) + panelW / 2,
      xref: "x",
      y: 1,
      yref: "paper",
      yanchor: "bottom",
      showarrow: false,
    })),
    ...data.queries.map((q, qi) => ({
      text: q.label,
      x: 0,
      xref: "paper",
      xanchor: "right",
      y: qi * (panelH + ROW_GAP) + panelH / 2,
      yref: "y",
      showarrow: false,
    })),
  ];
  const scale = Math.max(1, Math.min(3, 1100 / width));
  return {
    name: `fig4_neighbors_${safe(data.dataset)}`,
    title: `Nearest neighbours under the partition distance (eq. 15) per layer (${data.dataset})`,
    data: traces,
    layout: {
      title: {
        text: `Fig. 4: query (gold) and its nearest neighbours per layer — ${data.dataset}`,
      },
      xaxis: { visible: false, range: [-0.5, width - 0.5], constrain: "domain" },
      yaxis: {
        visible: false,
        range: [height - 0.5, -0.5],
        scaleanchor: "x",
        constrain: "domain",
      },
      shapes,
      annotations,
      margin: { l: 90, r: 10, t: 70, b: 10 },
      width: Math.round(width * scale) + 100,
      height: Math.round(height * scale) + 80,
      hovermode: "closest",
    },
  };
}

/**
 * Figure 4's trend as two curves over the code layers: the fraction of the k nearest
 * neighbours (partition distance) that share the query's class, against chance; and their
 * mean Euclidean distance to the query in input space, against a random base example; with
 * the untrained network's curves (traces 4 and 5) when given.
 *
 * @param data Per-layer curves and the two baselines.
 * @returns The figure `fig4_curves_<dataset>`.
 * @example
 * ```ts
 * import { partitionCurvesFigure } from "./partition_knn.ts";
 * import { deepEqual } from "node:assert/strict";
 * const fig = partitionCurvesFigure({
 *   dataset: "cifar10", layers: ["1", "2"], classAgreement: [0.2, 0.4], euclidean: [10, 20],
 *   chanceAgreement: 0.1, randomEuclidean: 30,
 * });
 * deepEqual(fig.data[0].y, [0.2, 0.4]);
 * deepEqual(fig.data[3].y, [30, 30]);
 * ```
 */
export function partitionCurvesFigure(data: PartitionCurvesData): Figure {
  const L = data.layers.length;
  if (L === 0 || data.classAgreement.length !== L || data.euclidean.length !== L) {
    throw new RangeError(
      `Cannot build the partition curves figure: ${L} layers, ${data.classAgreement.length} ` +
        `agreements, ${data.euclidean.length} distances; expected equal and ≥ 1`,
    );
  }
  for (const v of [data.untrainedClassAgreement, data.untrainedEuclidean]) {
    if (v !== undefined && v.length !== L) {
      throw new RangeError(
        `Cannot build the partition curves figure: an untrained curve has ${v.length} values, expected ${L}`,
      );
    }
  }
  const x = [...data.layers];
  const untrained: PlotlyTrace[] = [];
  const baseline = (y: readonly number[] | undefined, xaxis: string, yaxis: string) => {
    if (y === undefined) return;
    untrained.push({
      type: "scatter",
      mode: "lines+markers",
      name: "untrained network",
      x,
      y: [...y],
      line: { dash: "dashdot", color: "#7f7f7f" },
      marker: { symbol: "x" },
      showlegend: untrained.length === 0,
      xaxis,
      yaxis,
    });
  };
  baseline(data.untrainedClassAgreement, "x", "y");
  baseline(data.untrainedEuclidean, "x2", "y2");
  return {
    name: `fig4_curves_${safe(data.dataset)}`,
    title:
      `Class agreement and Euclidean distance of partition-distance neighbours per layer (${data.dataset})`,
    data: [
      {
        type: "scatter",
        mode: "lines+markers",
        name: "same class as query",
        x,
        y: [...data.classAgreement],
        xaxis: "x",
        yaxis: "y",
      },
      {
        type: "scatter",
        mode: "lines",
        name: "chance",
        x,
        y: x.map(() => data.chanceAgreement),
        line: { dash: "dash", color: "gray" },
        xaxis: "x",
        yaxis: "y",
      },
      {
        type: "scatter",
        mode: "lines+markers",
        name: "Euclidean distance to query",
        x,
        y: [...data.euclidean],
        xaxis: "x2",
        yaxis: "y2",
      },
      {
        type: "scatter",
        mode: "lines",
        name: "random base example",
        x,
        y: x.map(() => data.randomEuclidean),
        line: { dash: "dot", color: "gray" },
        xaxis: "x2",
        yaxis: "y2",
      },
      ...untrained,
    ],
    layout: {
      title: { text: `Fig. 4 trends — ${data.dataset}` },
      xaxis: { domain: [0, 0.45], anchor: "y", title: { text: "code layer" } },
      yaxis: {
        anchor: "x",
        title: { text: "fraction of neighbours of the query's class" },
        range: [0, 1],
      },
      xaxis2: { domain: [0.55, 1], anchor: "y2", title: { text: "code layer" } },
      yaxis2: {
        anchor: "x2",
        title: { text: "mean Euclidean distance (input space)" },
        rangemode: "tozero",
      },
      height: 420,
      legend: { orientation: "h", y: -0.25 },
    },
  };
}
