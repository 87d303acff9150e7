/**
 * The figure type every masokit figure builder returns: a plain plotly.js spec.
 *
 * @module
 */

/** A plotly.js trace (scatter, histogram, heatmap, image, …), as plain JSON. */
// deno-lint-ignore no-explicit-any
export type PlotlyTrace = Record<string, any>;

/**
 * A figure: plotly.js `data` and `layout`, plain JSON-serializable data, plus a short
 * `name` (used for file names, e.g. `fig1_templates_mnist`) and a one-line `title`
 * (used as the text fallback and in reports).
 *
 * @example
 * ```ts
 * import type { Figure } from "./figure.ts";
 * import { equal } from "node:assert/strict";
 * const fig: Figure = {
 *   name: "demo",
 *   title: "A line",
 *   data: [{ type: "scatter", x: [0, 1], y: [1, 2] }],
 *   layout: { xaxis: { title: { text: "x" } } },
 * };
 * equal(JSON.parse(JSON.stringify(fig)).name, "demo");
 * ```
 */
export interface Figure {
  /** File-name-safe identifier: letters, digits, `_` and `-`. */
  readonly name: string;
  /** One-line description. */
  readonly title: string;
  /** The plotly.js traces. */
  readonly data: PlotlyTrace[];
  /** The plotly.js layout. */
  // deno-lint-ignore no-explicit-any
  readonly layout: Record<string, any>;
}

/** Checks a figure's name, which becomes a file name and an element id. */
export function checkFigureName(name: unknown, what: string): void {
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new RangeError(
      `Cannot ${what}: figure name ${JSON.stringify(name)} is not letters, digits, "_" and "-"`,
    );
  }
}
