/**
 * A progress bar that updates one line in a terminal (`\r` on stderr) or one
 * output in a Deno Jupyter notebook (`Deno.jupyter.display` with a
 * `display_id`, then `update: true`).
 *
 * @module
 */

/** Where a {@linkcode ProgressBar} draws. `"lines"` prints one line per {@linkcode ProgressBar.finish}. */
export type ProgressMode = "auto" | "terminal" | "jupyter" | "lines" | "silent";

/** A Jupyter display function with the signature of `Deno.jupyter.display`. */
export type JupyterDisplay = (
  obj: unknown,
  options?: { raw?: boolean; update?: boolean; display_id?: string },
) => Promise<void>;

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Text before the bar. */
  label?: string;
  /** Where to draw; `"auto"` (default) picks Jupyter inside the Deno kernel, else the
   * terminal when stderr is a TTY, else `"lines"`. */
  mode?: ProgressMode;
  /** Bar width in characters (terminal), default 30. */
  width?: number;
  /** Minimum time between two redraws, default 100 ms (the last update is always drawn). */
  minIntervalMs?: number;
  /** Terminal sink, default: write to `Deno.stderr`. */
  write?: (text: string) => void;
  /** Jupyter display function, default `Deno.jupyter.display` when available. */
  display?: JupyterDisplay;
  /** Clock in ms, default `performance.now`. */
  now?: () => number;
}

/** `Deno.jupyter.display` when running inside the Deno Jupyter kernel, else `null`. */
function jupyterDisplay(): JupyterDisplay | null {
  try {
    // Accessing Deno.jupyter outside `deno jupyter` throws.
    const j = (Deno as unknown as { jupyter?: { display?: JupyterDisplay } }).jupyter;
    return typeof j?.display === "function" ? j.display.bind(j) : null;
  } catch {
    return null;
  }
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--:--";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const encoder = new TextEncoder();

const MODES: readonly ProgressMode[] = ["auto", "terminal", "jupyter", "lines", "silent"];

/**
 * A progress bar over `total` units of work. In a terminal it redraws one line
 * with `\r` on stderr; in the Deno Jupyter kernel it creates one display and
 * updates it in place; with `mode: "silent"` it draws nothing.
 *
 * @example A bar drawn into a string sink
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * import { match, ok } from "node:assert/strict";
 * let out = "";
 * const bar = new ProgressBar(4, { label: "epoch 1", mode: "terminal", write: (s) => out += s });
 * bar.update(2);
 * await bar.finish("loss 0.5");
 * ok(out.startsWith("\r"));
 * match(out, /\repoch 1 \[#+\] 4\/4 100% .*loss 0\.5\x1b\[K\n$/);
 * ```
 */
export class ProgressBar {
  /** The mode actually used (`"auto"` resolved). */
  readonly mode: Exclude<ProgressMode, "auto">;
  readonly #total: number;
  readonly #label: string;
  readonly #width: number;
  readonly #minInterval: number;
  readonly #write: (text: string) => void;
  readonly #display: JupyterDisplay | null;
  readonly #now: () => number;
  readonly #start: number;
  readonly #displayId = `masokit-progress-${crypto.randomUUID()}`;
  #done = 0;
  #info = "";
  #lastDraw = -Infinity;
  #shown = false;
  #pending: Promise<void> = Promise.resolve();
  #finished = false;

  /**
   * Creates a bar; nothing is drawn before the first {@linkcode ProgressBar.update}.
   *
   * @param total Units of work (≥ 0).
   * @param options Label, mode, sinks.
   */
  constructor(total: number, options: ProgressBarOptions = {}) {
    if (!Number.isFinite(total) || total < 0) {
      throw new RangeError(`Cannot create a progress bar: total is ${total}, expected ≥ 0`);
    }
    const mode = options.mode ?? "auto";
    // an unknown mode drew nothing at all (a typo silenced training's progress)
    if (!MODES.includes(mode)) {
      throw new RangeError(
        `Cannot create a progress bar: mode is ${JSON.stringify(mode)}, expected one of ` +
          MODES.map((m) => `"${m}"`).join(", "),
      );
    }
    const width = options.width ?? 30;
    // a negative width threw "Invalid count value" from the first redraw, mid-work
    if (!Number.isInteger(width) || width < 0) {
      throw new RangeError(
        `Cannot create a progress bar: width is ${width}, expected an integer ≥ 0`,
      );
    }
    this.#total = total;
    this.#label = options.label ?? "";
    this.#width = width;
    this.#minInterval = options.minIntervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#write = options.write ?? ((s) => {
      try {
        Deno.stderr.writeSync(encoder.encode(s));
      } catch { /* stderr closed: drop progress output */ }
    });
    const display = options.display ??
      (mode === "jupyter" || mode === "auto" ? jupyterDisplay() : null);
    this.#display = display;
    if (mode === "auto") {
      this.mode = display ? "jupyter" : stderrIsTerminal() ? "terminal" : "lines";
    } else if (mode === "jupyter" && !display) {
      this.mode = "lines";
    } else {
      this.mode = mode;
    }
  }

  /**
   * Sets the amount of work done and redraws (at most once per `minIntervalMs`).
   *
   * @param done Units done so far, clamped to [0, total].
   * @param info Optional text shown after the bar (e.g. the running loss).
   * @example
   * ```ts
   * import { ProgressBar } from "./progress.ts";
   * import { equal } from "node:assert/strict";
   * let out = "";
   * const bar = new ProgressBar(10, { mode: "terminal", write: (s) => out += s });
   * bar.update(5, "half");
   * equal(out.includes(" 5/10  50%"), true);
   * ```
   */
  update(done: number, info?: string): void {
    this.#done = Math.min(Math.max(done, 0), this.#total);
    if (info !== undefined) this.#info = info;
    const t = this.#now();
    if (t - this.#lastDraw < this.#minInterval && this.#done < this.#total) return;
    this.#lastDraw = t;
    this.#draw(false);
  }

  /**
   * Marks the work complete, draws the final state and ends the line.
   *
   * @param info Optional final text (e.g. the epoch's metrics).
   * @returns A promise that resolves once the (Jupyter) display has been sent.
   * @example
   * ```ts
   * import { ProgressBar } from "./progress.ts";
   * import { equal } from "node:assert/strict";
   * const sent: unknown[] = [];
   * const bar = new ProgressBar(2, {
   *   mode: "jupyter",
   *   display: async (_obj, opts) => { sent.push(opts); },
   * });
   * bar.update(1);
   * await bar.finish();
   * equal(sent.length, 2);
   * ```
   */
  async finish(info?: string): Promise<void> {
    if (this.#finished) return await this.#pending;
    this.#finished = true;
    this.#done = this.#total;
    if (info !== undefined) this.#info = info;
    this.#draw(true);
    await this.#pending;
  }

  #text(): string {
    const frac = this.#total === 0 ? 1 : this.#done / this.#total;
    const filled = Math.round(frac * this.#width);
    const bar = "#".repeat(filled) + ".".repeat(this.#width - filled);
    const elapsed = this.#now() - this.#start;
    const eta = this.#done > 0 ? elapsed * (this.#total - this.#done) / this.#done : NaN;
    const pct = `${Math.floor(frac * 100)}`.padStart(3, " ");
    const label = this.#label ? `${this.#label} ` : "";
    const info = this.#info ? ` ${this.#info}` : "";
    return `${label}[${bar}] ${this.#done}/${this.#total} ${pct}% ` +
      `${formatDuration(elapsed)}<${formatDuration(eta)}${info}`;
  }

  #draw(final: boolean): void {
    const text = this.#text();
    switch (this.mode) {
      case "silent":
        return;
      case "terminal":
        this.#write(`\r${text}\x1b[K${final ? "\n" : ""}`);
        return;
      case "lines":
        if (final) this.#write(`${text}\n`);
        return;
      case "jupyter": {
        const display = this.#display!;
        const pct = this.#total === 0 ? 100 : (100 * this.#done) / this.#total;
        const bundle = {
          "text/plain": text,
          "text/html": `<div style="font-family:monospace">` +
            `<progress value="${pct.toFixed(1)}" max="100" style="width:20em"></progress> ` +
            `${escapeHtml(text)}</div>`,
        };
        const opts = { raw: true, display_id: this.#displayId, update: this.#shown };
        this.#shown = true;
        this.#pending = this.#pending
          .then(() => display(bundle, opts))
          .catch(() => {/* a failed display must not stop training */});
        return;
      }
    }
  }
}
