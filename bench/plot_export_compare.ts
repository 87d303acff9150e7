/**
 * Times figure display/export (lib/plot): the Jupyter bundle, HTML export, and PNG/SVG
 * through Chromium (launch, plotly page load, per-figure render).
 *
 *   deno run --allow-read --allow-write=/tmp --allow-run=/usr/bin/chromium --allow-env \
 *     bench/plot_export_compare.ts
 */
import { figureBundle } from "../lib/plot/display.ts";
import { exportFigures } from "../lib/plot/export.ts";
import { imageGridFigure } from "../lib/plot/image_grid.ts";
import { lineFigure } from "../lib/plot/lines.ts";
import { histogramFigure } from "../lib/plot/histogram.ts";
import { launchChromium } from "../lib/plot/_chromium.ts";

const figs = [
  lineFigure({
    name: "lines",
    title: "lines",
    x: Array.from({ length: 50 }, (_, i) => i),
    series: [{ label: "a", y: Array.from({ length: 50 }, (_, i) => Math.sin(i / 5)) }],
    xTitle: "x",
    yTitle: "y",
  }),
  histogramFigure({
    name: "hist",
    title: "hist",
    series: [{ label: "a", values: Array.from({ length: 10000 }, () => Math.random()) }],
    xTitle: "v",
  }),
  imageGridFigure({
    name: "grid",
    title: "grid",
    images: Array.from({ length: 10 }, (_, k) => ({
      title: `class ${k}`,
      height: 28,
      width: 28,
      channels: 1,
      data: Array.from({ length: 784 }, () => Math.random() - 0.5),
    })),
    columns: 5,
  }),
];

function time<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  console.log(`${label}: ${(performance.now() - t0).toFixed(1)} ms`);
  return r;
}
async function timeAsync<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  console.log(`${label}: ${(performance.now() - t0).toFixed(0)} ms`);
  return r;
}

time(
  "figureBundle, library inlined (first figure)",
  () => figureBundle(figs[2], { includeLibrary: true }),
);
time("figureBundle, no library", () => figureBundle(figs[2]));
const dir = await Deno.makeTempDir({ prefix: "masokit-plot-bench-" });
await timeAsync(
  "exportFigures 3 figures, html",
  () => exportFigures(figs, { dir, formats: ["html"] }),
);
await timeAsync(
  "exportFigures 3 figures, png+svg (own Chromium: launch + page + renders + close)",
  () => exportFigures(figs, { dir, formats: ["png", "svg"] }),
);
const session = await timeAsync("launch Chromium", () => launchChromium({ profileParent: dir }));
await timeAsync(
  "first call on a running browser (plotly page load + 3 png)",
  () => exportFigures(figs, { dir, formats: ["png"], browser: session.browser }),
);
await timeAsync(
  "next call, page reused (3 png)",
  () => exportFigures(figs, { dir, formats: ["png"], browser: session.browser }),
);
await timeAsync(
  "next call, page reused (3 svg)",
  () => exportFigures(figs, { dir, formats: ["svg"], browser: session.browser }),
);
await timeAsync("close", () => session.close());
await Deno.remove(dir, { recursive: true });
