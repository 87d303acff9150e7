/**
 * What every experiment module returns: the paper's claims with our measurements, the
 * figures, and the scale used.
 *
 * @module
 */
import type { Figure } from "../plot/figure.ts";

/** One claim of the paper checked against our measurement. */
export interface Claim {
  /** The paper's claim, in one sentence, citing the equation/figure (e.g. "Fig. 2: …"). */
  readonly claim: string;
  /** Our measured number(s), as text with units (e.g. "max |A·x + B − z| = 3.1e-6"). */
  readonly measured: string;
  /** Whether the claim held at our scale. */
  readonly held: boolean;
}

/** The result of one experiment. */
export interface ExperimentResult {
  /** Short id: `affine_formula`, `templates`, `memorization`, `orthogonality`, `partition_knn`. */
  readonly id: string;
  /** A human title, e.g. "Templates (Figure 1)". */
  readonly title: string;
  /** The scale actually used (datasets, subset sizes, architectures, epochs, runs). */
  readonly scale: string;
  /** The paper's claims this experiment checks, each with what was measured and whether it held. */
  readonly claims: Claim[];
  /** The figures it draws (plotly specs, exported by `reproduce.ts`). */
  readonly figures: Figure[];
  /** Seconds the experiment took. */
  readonly seconds: number;
}

/** Options every experiment's `run` function accepts. */
export interface ExperimentOptions {
  /** `"tiny"` (tests, seconds), `"quick"` (default: the CPU reproduce, minutes), `"full"` (the paper's scale). */
  readonly scale?: "tiny" | "quick" | "full";
  /** Seed of every random choice. */
  readonly seed?: number;
  /** Dataset cache directory (default `data/cache`). */
  readonly cacheDir?: string;
  /** Progress messages (one line each). */
  readonly onProgress?: (message: string) => void;
  /** Show a training progress bar (terminal or Jupyter); default false. */
  readonly progress?: boolean;
}
