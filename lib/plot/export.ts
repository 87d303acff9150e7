/**
 * Write {@linkcode Figure}s to files: self-contained HTML (plotly.js inlined, works
 * offline, needs no browser), and PNG / SVG rendered by plotly.js itself in a real headless
 * Chromium driven by `puppeteer-core` (one browser for all figures, always closed).
 *
 * Chromium is looked up at `options.executablePath`, else the `MASOKIT_CHROMIUM` environment
 * variable, else `/usr/bin/chromium` (Debian/Ubuntu: `apt-get install chromium`). It is
 * started over a pipe (no TCP port, no `--allow-net`) with networking features off, and the
 * page is filled with `page.setContent` (plotly inlined); any http(s) request is aborted.
 *
 * Permissions: HTML needs `--allow-read --allow-write` on the output folder (files are
 * written to a temporary name and renamed, and Deno's rename needs both). PNG/SVG also need
 * `--allow-read` (puppeteer reads its package files and the Chromium path),
 * `--allow-run=<chromium path>` and `--allow-env`, e.g. `deno run --allow-read
 * --allow-write=out --allow-run=/usr/bin/chromium --allow-env`; no `--allow-net` (the
 * browser is driven over a pipe). The browser profile goes in a temporary folder (the
 * system temp dir when writable, else a hidden `.masokit-chromium-*` folder in the output
 * folder), removed when the browser closes.
 *
 * @module
 */
import type { Browser } from "puppeteer-core";
import type { Figure } from "./figure.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import {
  checkFigure,
  escapeHtml,
  figureHeight,
  plotlyLibraryScript,
  randomDivId,
  renderScript,
} from "./_plotly_source.ts";
import {
  type ChromiumSession,
  launchChromium,
  openPlotlyPage,
  type PlotlyPage,
} from "./_chromium.ts";

export { ChromiumNotFoundError, DEFAULT_CHROMIUM } from "./_chromium.ts";

/**
 * A running browser from `puppeteer-core` (its `Browser`, e.g. from `puppeteer.launch()`),
 * typed by the two methods this module relies on.
 */
export interface PuppeteerBrowser {
  /** Opens a tab. */
  newPage(): Promise<unknown>;
  /** Closes the browser. */
  close(): Promise<void>;
}

/** A file format {@linkcode exportFigure} writes. */
export type ExportFormat = "html" | "png" | "svg";

const FORMATS: readonly ExportFormat[] = ["html", "png", "svg"];

/** Options of {@linkcode exportFigure} and {@linkcode exportFigures}. */
export interface ExportOptions {
  /** Output folder, created if missing. Files are named `<figure name>.<format>`. */
  dir: string;
  /** Formats to write, e.g. `["html", "png"]`. Only `"html"` needs no browser. */
  formats: ExportFormat[];
  /** Image width in px (PNG/SVG; fixes the HTML div too); default `layout.width` or 900. */
  width?: number;
  /** Image height in px; default `layout.height` or 600 (HTML: `layout.height` or 450). */
  height?: number;
  /** PNG pixel ratio (a 900×600 figure at scale 2 is 1800×1200 px); default 1. */
  scale?: number;
  /** Chromium executable; default `MASOKIT_CHROMIUM`, else `/usr/bin/chromium`. */
  executablePath?: string;
  /**
   * A running `puppeteer-core` browser to render with (the caller closes it; one page
   * holding plotly.js stays open in it and is reused by later calls); default: launch
   * Chromium for this call and close it at the end.
   */
  browser?: PuppeteerBrowser;
}

function pixels(value: number | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 20000) {
    throw new RangeError(`Cannot export figure: ${what} ${value} is not an integer in [1, 20000]`);
  }
  return value;
}

function layoutSize(fig: Figure, key: "width" | "height"): number | undefined {
  const v = fig.layout?.[key];
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}

/**
 * A standalone HTML document that draws the figure with plotly.js inlined (no network).
 *
 * @param fig The figure.
 * @param options `width`/`height` in px fix the plot's size; default full width and
 *   `layout.height` or 450 px.
 * @returns The HTML text.
 *
 * @example
 * ```ts
 * import { figureHtml } from "./export.ts";
 * import { ok } from "node:assert/strict";
 * const html = figureHtml({ name: "demo", title: "Demo", data: [], layout: {} });
 * ok(html.startsWith("<!DOCTYPE html>"));
 * ok(html.includes("<title>Demo</title>"));
 * ```
 */
export function figureHtml(
  fig: Figure,
  options: { width?: number; height?: number } = {},
): string {
  checkFigure(fig, "build the figure's HTML");
  const width = pixels(options.width, "width", 0);
  const height = pixels(options.height, "height", figureHeight(fig));
  const divId = randomDivId(fig.name);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(fig.title)}</title>
<script type="text/javascript">${plotlyLibraryScript()}</script>
</head>
<body style="margin:0">
<div id="${divId}" style="width:${width ? `${width}px` : "100%"};height:${height}px"></div>
<script type="text/javascript">${renderScript(fig, divId)}</script>
</body>
</html>
`;
}

/** The plotly page opened in each caller-owned browser, reused by later calls. */
const sharedPages = new WeakMap<PuppeteerBrowser, Promise<PlotlyPage>>();

function sharedPlotlyPage(browser: PuppeteerBrowser): Promise<PlotlyPage> {
  let page = sharedPages.get(browser);
  if (!page) {
    page = openPlotlyPage(browser as Browser);
    sharedPages.set(browser, page);
    // A failed open is not cached, so the next call tries again.
    page.catch(() => sharedPages.delete(browser));
  }
  return page;
}

function joinPath(dir: string, file: string): string {
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}

/**
 * Writes several figures in the given formats, starting one Chromium for all PNG/SVG
 * images (and none for HTML only), closed at the end even on errors. Nothing is written
 * when Chromium is missing: catch {@linkcode ChromiumNotFoundError} to fall back to HTML.
 *
 * @param figs The figures; their `name`s become the file names.
 * @param options Output folder, formats, image size, Chromium path.
 * @returns The paths written, figure by figure in the order of `formats`.
 *
 * @example HTML only, no browser
 * ```ts
 * import { exportFigures } from "./export.ts";
 * import { deepEqual, ok } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const fig = { name: "demo", title: "Demo", data: [{ type: "bar", y: [1, 2] }], layout: {} };
 * const paths = await exportFigures([fig], { dir, formats: ["html"] });
 * deepEqual(paths, [`${dir}/demo.html`]);
 * ok((await Deno.readTextFile(paths[0])).includes('"type":"bar"'));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function exportFigures(figs: Figure[], options: ExportOptions): Promise<string[]> {
  if (!Array.isArray(figs)) {
    throw new TypeError(`Cannot export figures: expected an array, got ${typeof figs}`);
  }
  if (options === null || typeof options !== "object" || typeof options.dir !== "string") {
    throw new TypeError(`Cannot export figures: options.dir must be a folder path`);
  }
  if (options.dir === "") {
    // "" + "/name.html" wrote into the file system's root
    throw new TypeError(`Cannot export figures: options.dir is "", expected a folder path`);
  }
  const formats = options.formats;
  if (!Array.isArray(formats) || formats.length === 0) {
    throw new RangeError(
      `Cannot export figures: formats ${JSON.stringify(formats)} must be a non-empty list ` +
        `of "html", "png", "svg"`,
    );
  }
  for (const f of formats) {
    if (!FORMATS.includes(f)) {
      throw new RangeError(
        `Cannot export figures: format ${JSON.stringify(f)} is not "html", "png" or "svg"`,
      );
    }
  }
  const unique = [...new Set(formats)];
  const names = new Set<string>();
  for (const fig of figs) {
    checkFigure(fig, "export figure");
    if (names.has(fig.name)) {
      throw new RangeError(`Cannot export figures: two figures are named "${fig.name}"`);
    }
    names.add(fig.name);
  }
  pixels(options.width, "width", 1);
  pixels(options.height, "height", 1);
  const scale = options.scale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 10)) {
    throw new RangeError(`Cannot export figures: scale ${scale} is not in (0, 10]`);
  }
  if (figs.length === 0) return [];

  // a folder made here and left empty by a failure (Chromium did not start) is removed again
  const made = await Deno.stat(options.dir).then(() => false, () => true);
  await Deno.mkdir(options.dir, { recursive: true });
  const needsBrowser = unique.some((f) => f !== "html");
  let session: ChromiumSession | null = null;
  const written: string[] = [];
  try {
    if (needsBrowser && options.browser === undefined) {
      session = await launchChromium({
        executablePath: options.executablePath,
        profileParent: options.dir,
      });
    }
    // A caller's browser keeps its plotly page for later calls (loading plotly.js takes
    // about a second); a browser launched here is closed with its page below.
    const page = !needsBrowser
      ? null
      : session
      ? await openPlotlyPage(session.browser)
      : await sharedPlotlyPage(options.browser!);
    for (const fig of figs) {
      for (const format of unique) {
        const path = joinPath(options.dir, `${fig.name}.${format}`);
        if (format === "html") {
          const html = figureHtml(fig, { width: options.width, height: options.height });
          await writeFileAtomic(path, html);
        } else {
          const size = {
            width: options.width ?? layoutSize(fig, "width") ?? 900,
            height: options.height ?? layoutSize(fig, "height") ?? 600,
            scale,
          };
          await writeFileAtomic(path, await page!.render(fig, format, size));
        }
        written.push(path);
      }
    }
  } catch (e) {
    await session?.close();
    session = null;
    if (made && written.length === 0) await Deno.remove(options.dir).catch(() => {}); // if empty
    throw e;
  } finally {
    await session?.close();
  }
  return written;
}

/**
 * Writes one figure in the given formats (see {@linkcode exportFigures}).
 *
 * @param fig The figure; its `name` becomes the file name.
 * @param options Output folder, formats, image size, Chromium path.
 * @returns The paths written, in the order of `formats`.
 *
 * @example
 * ```ts
 * import { exportFigure } from "./export.ts";
 * import { equal } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const fig = { name: "demo", title: "Demo", data: [], layout: {} };
 * const [path] = await exportFigure(fig, { dir, formats: ["html"] });
 * equal(path, `${dir}/demo.html`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function exportFigure(fig: Figure, options: ExportOptions): Promise<string[]> {
  return exportFigures([fig], options);
}
