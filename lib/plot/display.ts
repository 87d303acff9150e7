/**
 * Show {@linkcode Figure}s in a Deno Jupyter notebook as interactive plotly.js plots that
 * work offline: the MIME bundle holds the plotly JSON (`application/vnd.plotly.v1+json`,
 * used by front ends with a plotly renderer), self-contained HTML (`text/html`: a div and a
 * script; plotly.js itself is inlined in the first figure of a kernel session only and
 * later figures reuse `window.Plotly`) and a one-line `text/plain` fallback.
 *
 * @module
 */
import type { Figure } from "./figure.ts";
import type { JupyterDisplay } from "../util/progress.ts";
import {
  checkFigure,
  escapeHtml,
  figureHeight,
  plotlyJson,
  plotlyLibraryScript,
  randomDivId,
  renderScript,
} from "./_plotly_source.ts";

/** A Jupyter MIME bundle for one figure, as sent by {@linkcode display}. */
export interface FigureBundle {
  /** The figure as plotly JSON: `{ data, layout }`. */
  "application/vnd.plotly.v1+json": { data: unknown[]; layout: Record<string, unknown> };
  /** A div plus a script drawing the figure (with plotly.js inlined when asked). */
  "text/html": string;
  /** The figure's title and a one-line summary of its traces. */
  "text/plain": string;
}

/** Options of {@linkcode figureBundle}. */
export interface FigureBundleOptions {
  /** Inline the plotly.js library (about 4.8 MB) before the figure; default `false`. */
  includeLibrary?: boolean;
  /** Id of the figure's div; default a fresh random id. */
  divId?: string;
}

/** `fig.title — plotly figure "name": 3 traces (histogram ×2, scatter)`. */
function summary(fig: Figure): string {
  const counts = new Map<string, number>();
  for (const trace of fig.data) {
    const type = typeof trace?.type === "string" ? trace.type : "scatter";
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  const kinds = [...counts].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(", ");
  const n = fig.data.length;
  return `${fig.title} — plotly figure "${fig.name}": ${n} trace${n === 1 ? "" : "s"}` +
    (n > 0 ? ` (${kinds})` : "");
}

/**
 * Builds the Jupyter MIME bundle for a figure (pure: no I/O, no permissions).
 *
 * @param fig The figure.
 * @param options `includeLibrary` inlines plotly.js (needed once per notebook page);
 *   `divId` fixes the div's id.
 * @returns The bundle: plotly JSON, HTML and plain text.
 *
 * @example
 * ```ts
 * import { figureBundle } from "./display.ts";
 * import { equal, ok } from "node:assert/strict";
 * const fig = {
 *   name: "demo",
 *   title: "A line",
 *   data: [{ type: "scatter", x: [0, 1], y: [1, 2] }],
 *   layout: {},
 * };
 * const bundle = figureBundle(fig, { divId: "d1" });
 * equal(bundle["application/vnd.plotly.v1+json"].data.length, 1);
 * ok(bundle["text/html"].includes('id="d1"'));
 * ok(bundle["text/plain"].startsWith("A line"));
 * ```
 */
export function figureBundle(fig: Figure, options: FigureBundleOptions = {}): FigureBundle {
  checkFigure(fig, "build the display bundle");
  const divId = options.divId ?? randomDivId(fig.name);
  if (!/^[A-Za-z0-9_-]+$/.test(divId)) {
    throw new RangeError(
      `Cannot build the display bundle: divId ${JSON.stringify(divId)} is not letters, ` +
        `digits, "_" and "-"`,
    );
  }
  const library = options.includeLibrary
    ? `<script type="text/javascript">${plotlyLibraryScript()}</script>\n`
    : "";
  const html = `<div class="masokit-figure">\n` + library +
    `<div id="${divId}" style="width:100%;height:${figureHeight(fig)}px" ` +
    `aria-label="${escapeHtml(fig.title)}"></div>\n` +
    `<script type="text/javascript">${renderScript(fig, divId)}</script>\n</div>`;
  return {
    "application/vnd.plotly.v1+json": plotlyJson(fig),
    "text/html": html,
    "text/plain": summary(fig),
  };
}

/** Options of {@linkcode display}. */
export interface DisplayOptions {
  /** Inline plotly.js in this output; default: only in the first figure of the session. */
  includeLibrary?: boolean;
  /** Jupyter display function; default `Deno.jupyter.display` inside the Deno kernel. */
  send?: JupyterDisplay;
}

/** Whether plotly.js has been sent to the notebook page in this kernel session. */
let librarySent = false;

/** `Deno.jupyter.display` inside the Deno Jupyter kernel, else `null`. */
function kernelDisplay(): JupyterDisplay | null {
  try {
    // Accessing Deno.jupyter outside `deno jupyter` throws.
    const j = (Deno as unknown as { jupyter?: { display?: JupyterDisplay } }).jupyter;
    return typeof j?.display === "function" ? j.display.bind(j) : null;
  } catch {
    return null;
  }
}

/**
 * Shows figures in the Deno Jupyter kernel, one output each; outside the kernel it does
 * nothing. Await it in notebook cells so outputs arrive before the cell ends.
 *
 * @param fig A figure or a list of figures.
 * @param options `includeLibrary` forces (or suppresses) inlining plotly.js in the first
 *   figure; `send`
 *   replaces `Deno.jupyter.display` (for tests or other front ends).
 * @returns Nothing (so that a notebook cell ending in `await display(fig)` shows only the
 *   figures); whether anything was sent is known from {@linkcode inJupyterKernel}.
 *
 * @example Outside the kernel nothing is shown
 * ```ts
 * import { display, inJupyterKernel } from "./display.ts";
 * import { equal } from "node:assert/strict";
 * const fig = { name: "demo", title: "Demo", data: [], layout: {} };
 * equal(await display(fig), undefined);
 * equal(inJupyterKernel(), false);
 * ```
 */
export async function display(
  fig: Figure | Figure[],
  options: DisplayOptions = {},
): Promise<void> {
  const figs = Array.isArray(fig) ? fig : [fig];
  for (const f of figs) checkFigure(f, "display figure");
  const send = options.send ?? kernelDisplay();
  if (send === null) return;
  // The library goes into the first figure of the call (when asked, or when this kernel
  // session has not sent it yet); the others find `window.Plotly`.
  let includeLibrary = options.includeLibrary ?? !librarySent;
  for (const f of figs) {
    await send(figureBundle(f, { includeLibrary }), { raw: true });
    if (includeLibrary) {
      librarySent = true;
      includeLibrary = false;
    }
  }
}

/**
 * Whether this code runs inside the Deno Jupyter kernel (where {@linkcode display} shows
 * figures).
 *
 * @returns `true` inside `deno jupyter`.
 *
 * @example
 * ```ts
 * import { inJupyterKernel } from "./display.ts";
 * import { equal } from "node:assert/strict";
 * equal(inJupyterKernel(), false);
 * ```
 */
export function inJupyterKernel(): boolean {
  return kernelDisplay() !== null;
}
