/**
 * Headless Chromium for figure export: find and launch it through `puppeteer-core` (loaded
 * lazily, only when an image is asked for), and render plotly figures to PNG/SVG in a page
 * that holds plotly.js inlined (no network).
 *
 * @module
 */
import type { Browser, HTTPRequest, Page } from "puppeteer-core";
import type { Figure } from "./figure.ts";
import { plotlyLibraryScript, scriptSafeJson } from "./_plotly_source.ts";

/** The Chromium path used when neither an option nor `MASOKIT_CHROMIUM` names one. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/**
 * Raised when PNG/SVG export cannot find or start Chromium. The message names the path
 * tried and how to install it; HTML export (`formats: ["html"]`) needs no browser.
 *
 * @example
 * ```ts
 * import { ChromiumNotFoundError } from "./_chromium.ts";
 * import { equal, ok } from "node:assert/strict";
 * const e = new ChromiumNotFoundError("/nope", "was not found");
 * equal(e.executablePath, "/nope");
 * ok(e.message.includes("apt-get install chromium"));
 * ```
 */
export class ChromiumNotFoundError extends Error {
  /** The executable path that was tried. */
  readonly executablePath: string;

  /**
   * Creates the error.
   *
   * @param executablePath The Chromium path that was tried.
   * @param reason What went wrong, e.g. `"was not found"`.
   * @param options Standard error options (`cause`).
   */
  constructor(executablePath: string, reason: string, options?: ErrorOptions) {
    super(
      `Cannot export PNG/SVG: Chromium ${reason} at ${JSON.stringify(executablePath)}. ` +
        `Install it (Debian/Ubuntu: apt-get install chromium) or point MASOKIT_CHROMIUM ` +
        `(or the executablePath option) at a Chromium/Chrome binary; ` +
        `formats: ["html"] exports without a browser.`,
      options,
    );
    this.name = "ChromiumNotFoundError";
    this.executablePath = executablePath;
  }
}

/** `explicit`, else `MASOKIT_CHROMIUM` (when readable and set), else `/usr/bin/chromium`. */
export function chromiumPath(explicit?: string): string {
  if (explicit !== undefined) return explicit;
  try {
    const env = Deno.env.get("MASOKIT_CHROMIUM");
    if (env) return env;
  } catch {
    // No --allow-env: use the default path.
  }
  return DEFAULT_CHROMIUM;
}

function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied ||
    (typeof Deno.errors.NotCapable === "function" && e instanceof Deno.errors.NotCapable);
}

/** Throws a clear error unless `descriptor` is granted (asking when Deno can prompt). */
function requirePermission(descriptor: Deno.PermissionDescriptor, executablePath: string): void {
  let state = Deno.permissions.querySync(descriptor).state;
  if (state === "prompt") state = Deno.permissions.requestSync(descriptor).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Cannot export PNG/SVG: no ${descriptor.name} permission; run with --allow-read ` +
        `--allow-run=${executablePath} --allow-env (HTML export needs only --allow-read and ` +
        `--allow-write on the output folder)`,
    );
  }
}

/** Chromium flags besides `--headless` (added by puppeteer) and `--user-data-dir`. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/** A launched Chromium and how to shut it down (browser closed, profile removed). */
export interface ChromiumSession {
  readonly browser: Browser;
  readonly executablePath: string;
  close(): Promise<void>;
}

async function makeProfileDir(fallbackParent: string): Promise<string> {
  try {
    return await Deno.makeTempDir({ prefix: "masokit-chromium-" });
  } catch (e) {
    if (!isPermissionError(e)) throw e;
    // No write access to the system temp dir (e.g. --allow-write=out): use the output dir.
    return await Deno.makeTempDir({ dir: fallbackParent, prefix: ".masokit-chromium-" });
  }
}

/**
 * Launches headless Chromium over a pipe (no TCP port) with a fresh temporary profile.
 * Throws {@linkcode ChromiumNotFoundError} when the executable is missing or fails to start.
 */
export async function launchChromium(
  options: { executablePath?: string; profileParent: string },
): Promise<ChromiumSession> {
  const executablePath = chromiumPath(options.executablePath);
  try {
    const info = await Deno.stat(executablePath);
    if (!info.isFile) throw new ChromiumNotFoundError(executablePath, "is not a file");
  } catch (e) {
    if (e instanceof ChromiumNotFoundError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new ChromiumNotFoundError(executablePath, "was not found", { cause: e });
    }
    if (isPermissionError(e)) {
      throw new Error(
        `Cannot export PNG/SVG: no permission to read ${JSON.stringify(executablePath)}; ` +
          `run with --allow-read --allow-run=${executablePath} --allow-env`,
        { cause: e },
      );
    }
    throw e;
  }
  // Deno's node:child_process reports a missing run permission as an uncaught error, and
  // puppeteer reads environment variables: check both up front (prompting when possible).
  requirePermission({ name: "run", command: executablePath }, executablePath);
  requirePermission({ name: "env" }, executablePath);
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = await makeProfileDir(options.profileParent);
  const removeProfile = () => Deno.remove(profile, { recursive: true }).catch(() => {});
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      pipe: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (e) {
    await removeProfile();
    if (isPermissionError(e)) {
      throw new Error(
        `Cannot export PNG/SVG: no permission to start Chromium ${
          JSON.stringify(executablePath)
        }; run with --allow-run=${executablePath} --allow-env --allow-read`,
        { cause: e },
      );
    }
    throw new ChromiumNotFoundError(
      executablePath,
      `failed to start (${String((e as Error)?.message ?? e).split("\n")[0]})`,
      { cause: e },
    );
  }
  return {
    browser,
    executablePath,
    async close() {
      try {
        await browser.close();
      } finally {
        await removeProfile();
      }
    },
  };
}

/** Image size for {@linkcode PlotlyPage.render}. */
export interface ImageSize {
  width: number;
  height: number;
  scale: number;
}

/** A page holding plotly.js that renders figures to PNG bytes or SVG text. */
export interface PlotlyPage {
  render(fig: Figure, format: "png" | "svg", size: ImageSize): Promise<Uint8Array | string>;
  close(): Promise<void>;
}

/** Decodes standard base64 to bytes. */
function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Aborts every http(s)/ws(s)/ftp request of the page: rendering must be offline. */
export async function blockNetwork(page: Page): Promise<void> {
  await page.setRequestInterception(true);
  page.on("request", (request: HTTPRequest) => {
    if (/^(https?|wss?|ftp):/i.test(request.url())) void request.abort();
    else void request.continue();
  });
}

/** Opens a page in `browser` with plotly.js inlined, ready to render figures. */
export async function openPlotlyPage(browser: Browser): Promise<PlotlyPage> {
  const page = await browser.newPage();
  try {
    const pageErrors: string[] = [];
    page.on("pageerror", (e: unknown) => {
      pageErrors.push(String((e as Error)?.message ?? e));
    });
    await blockNetwork(page);
    await page.setContent(
      `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>` +
        `<script type="text/javascript">${plotlyLibraryScript()}</script></body></html>`,
      { waitUntil: "load", timeout: 60_000 },
    );
    const ok = await page.evaluate(
      "typeof window.Plotly === 'object' && typeof window.Plotly.toImage === 'function'",
    );
    if (ok !== true) {
      throw new Error(
        `Cannot export PNG/SVG: plotly.js did not load in Chromium (${
          pageErrors.join("; ") || "no page error"
        })`,
      );
    }
    return {
      async render(fig, format, size) {
        const json = scriptSafeJson({ data: fig.data, layout: fig.layout });
        const opts = JSON.stringify({ format, ...size, imageDataOnly: true });
        let out: unknown;
        try {
          out = await page.evaluate(`window.Plotly.toImage(${json}, ${opts})`);
        } catch (e) {
          throw new Error(
            `Cannot export figure "${fig.name}" as ${format}: ${(e as Error)?.message ?? e}` +
              (pageErrors.length ? ` (page errors: ${pageErrors.join("; ")})` : ""),
            { cause: e },
          );
        }
        if (typeof out !== "string" || out.length === 0) {
          throw new Error(
            `Cannot export figure "${fig.name}" as ${format}: plotly returned ${
              JSON.stringify(out)
            }`,
          );
        }
        return format === "png" ? fromBase64(out) : out;
      },
      async close() {
        await page.close().catch(() => {});
      },
    };
  } catch (e) {
    await page.close().catch(() => {});
    throw e;
  }
}
