/**
 * plotly.js source text and the HTML/JS snippets that render a {@linkcode Figure} offline.
 *
 * The library comes from the npm package `plotly.js-dist-min` (pinned in deno.json) and is
 * loaded with a text import (`import … with { type: "text" }`), stable in Deno 2.9 without
 * flags or permissions: the 4.8 MB minified bundle is part of the module graph, so no file
 * read (and no `--allow-read`) is needed at run time and it works offline once cached.
 *
 * @module
 */
import plotlyMin from "plotly.js-dist-min/plotly.min.js" with { type: "text" };
import { checkFigureName, type Figure } from "./figure.ts";

/** Version of the inlined plotly.js, read from the bundle's banner (e.g. `"4.1.2"`). */
export const PLOTLY_VERSION: string = /plotly\.js v(\d+\.\d+\.\d+)/.exec(plotlyMin)?.[1] ??
  "unknown";

let libraryScript: string | undefined;

/**
 * The plotly.js bundle as the body of an inline `<script>`: `</script` and `<!--` are
 * escaped (both only occur inside string literals, where `<\/` and `<\!` mean the same
 * characters), and the bundle runs with `module`, `exports` and `define` shadowed so that it
 * always sets `window.Plotly` (Jupyter front ends may define an AMD loader or CommonJS
 * globals).
 */
export function plotlyLibraryScript(): string {
  libraryScript ??= "(function (module, exports, define) {\n" +
    plotlyMin.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--") +
    "\n}).call(window, undefined, undefined, undefined);";
  return libraryScript;
}

/** The raw plotly.js bundle text (for length checks and tests). */
export function plotlySourceText(): string {
  return plotlyMin;
}

/** JSON.stringify replacer: typed arrays become plain arrays (NaN/±Infinity become null). */
function replacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>);
  }
  return value;
}

/** `{ data, layout }` of a figure as plain JSON values (typed arrays converted). */
export function plotlyJson(fig: Figure): { data: unknown[]; layout: Record<string, unknown> } {
  return JSON.parse(JSON.stringify({ data: fig.data, layout: fig.layout }, replacer));
}

/** JSON text safe to embed inside a `<script>` element (`<`, U+2028, U+2029 escaped). */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value, replacer)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Escapes `& < > " '` for HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Checks the figure's shape and its name, which becomes a file name and an element id. */
export function checkFigure(fig: Figure, what: string): void {
  if (fig === null || typeof fig !== "object") {
    throw new TypeError(`Cannot ${what}: figure is ${fig === null ? "null" : typeof fig}`);
  }
  checkFigureName(fig.name, what);
  if (!Array.isArray(fig.data)) {
    throw new TypeError(`Cannot ${what}: figure "${fig.name}" has no data array`);
  }
  if (fig.layout === null || typeof fig.layout !== "object") {
    throw new TypeError(`Cannot ${what}: figure "${fig.name}" has no layout object`);
  }
}

/** A fresh random element id for a figure's div (unique across kernel sessions). */
export function randomDivId(name: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `masokit-${name}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** How long a figure waits for `window.Plotly` before showing a message, in ms. */
export const PLOTLY_WAIT_MS = 60_000;

/**
 * A `<script>` body that draws `fig` into the element `divId` with `window.Plotly`, waiting
 * (polling) for the library if an earlier output has not loaded it yet.
 */
export function renderScript(fig: Figure, divId: string): string {
  return `(function () {
  var fig = ${scriptSafeJson(plotlyJson(fig))};
  var el = document.getElementById(${scriptSafeJson(divId)});
  if (!el) return;
  var t0 = Date.now();
  function draw() {
    window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
  }
  (function wait() {
    if (window.Plotly && window.Plotly.newPlot) return draw();
    if (Date.now() - t0 > ${PLOTLY_WAIT_MS}) {
      el.textContent = "plotly.js is not loaded in this page: display the figure again with " +
        "{ includeLibrary: true }, or open its exported HTML file.";
      return;
    }
    setTimeout(wait, 50);
  })();
})();`;
}

/** Height in px for the figure's div: `layout.height`, else 450. */
export function figureHeight(fig: Figure): number {
  const h = fig.layout?.height;
  return typeof h === "number" && Number.isFinite(h) && h > 0 ? h : 450;
}
