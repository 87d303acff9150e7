/**
 * The orthogonal-templates experiment (Section 6, eq. 13, Figure 3): train the paper's
 * architectures with the penalty λ · Σ_{c1≠c2} ⟨W_c1, W_c2⟩² on the final layer for a grid
 * of λ, several runs each, through the resumable, shardable sweep runner, and compare test
 * accuracy and overfitting across λ.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Claim, ExperimentOptions, ExperimentResult } from "./experiment.ts";
import { paperSweepRegistry, type PaperSweepRegistryOptions } from "./sweep_registry.ts";
import { sweepInWorkers } from "./_orthogonality_workers.ts";
import {
  linspace,
  planSweep,
  readSweepResults,
  runSweep,
  type Shard,
  shardRuns,
  summarizeSweep,
  type SweepRegistry,
  type SweepResult,
  type SweepRun,
  type SweepSpec,
  type SweepSummary,
} from "../train/sweep.ts";
import type { LearningRateSchedule } from "../train/train.ts";
import { selectBackend } from "../train/backend.ts";
import { orthogonalityPenalty } from "../train/orthogonality.ts";
import { fromLayersModel } from "../network/from_layers_model.ts";
import { affineMap } from "../affine/affine_map.ts";
import type { Figure } from "../plot/figure.ts";
import { appendLine, writeFileAtomic } from "../util/atomic_write.ts";
import {
  accuracyVsLambdaFigure,
  type LambdaCurves,
  orthogonalityCosineFigure,
  trainingCurvesFigure,
} from "../plot/orthogonality.ts";

/** How orthogonal a trained model's final layer and templates are. */
export interface TemplateOrthogonality {
  /** Eq. (13) without λ: Σ_{c1≠c2} ⟨W_c1, W_c2⟩² over the class rows of W^(L). */
  readonly penalty: number;
  /** Mean |cos| between distinct class rows of W^(L) (scale-free, unlike `penalty`); pairs
   * with a zero row have no cosine and are left out; NaN when the weights hold a NaN. */
  readonly weightCosine: number;
  /** Mean over classes of ‖W_c‖²: the penalty also drops when the rows merely shrink. */
  readonly weightSquaredNorm: number;
  /** Mean over images and class pairs c1 ≠ c2 of |cos(A[x]_c1, A[x]_c2)|, pairs with a zero
   * template left out (NaN for no image, or a NaN in A[x]). */
  readonly templateCosine: number;
  /** Mean over images and class pairs c1 ≠ c2 of |⟨A[x]_c1, A[x]_c2⟩| (NaN for no image). */
  readonly templateInner: number;
  /** Mean over images and classes of ‖A[x]_c‖² (NaN for no image). */
  readonly templateSquaredNorm: number;
}

/**
 * Sum of |g_ij| / √(g_ii g_jj) over i ≠ j of a C×C Gram matrix stored at `off`, and the
 * number of pairs summed. A pair with a zero row has no cosine and is left out (a zero row is
 * not orthogonal to the others, it has no direction); a NaN entry makes the sum NaN.
 */
function absCosineSum(g: ArrayLike<number>, c: number, off = 0): { sum: number; pairs: number } {
  let sum = 0, pairs = 0;
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      if (i === j) continue;
      const d = Math.sqrt(g[off + i * c + i] * g[off + j * c + j]);
      if (d === 0) continue;
      sum += Math.abs(g[off + i * c + j]) / d;
      pairs++;
    }
  }
  return { sum, pairs };
}

/** The kernel `[inputs, classes]` of the model's last Dense layer. */
function finalKernel(model: tf.LayersModel): tf.Tensor2D {
  const dense: tf.layers.Layer[] = [];
  const visit = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      if (l instanceof tf.LayersModel) visit(l.layers);
      else if (l.getClassName() === "Dense") dense.push(l);
    }
  };
  visit(model.layers);
  const kernel = dense.at(-1)?.getWeights().find((w) => w.rank === 2);
  if (!kernel) {
    throw new RangeError(
      `Cannot measure template orthogonality: the model has no built Dense layer (layers: ${
        model.layers.map((l) => l.getClassName()).join(", ")
      })`,
    );
  }
  return kernel as tf.Tensor2D;
}

/**
 * Measures how orthogonal a trained model's templates are: the eq. (13) penalty of the
 * final Dense layer W^(L) (its class rows are the columns of the tfjs kernel), the mean
 * |cos| between its distinct class rows, and, over the images `x`, the mean |cos| and
 * mean |inner product| between distinct templates A[x]_c1, A[x]_c2 (the rows of the exact
 * affine map, computed with {@linkcode affineMap} on tfjs ops). Rows of W^(L) orthogonal
 * make the templates orthogonal only up to the shared featurizer:
 * ⟨A[x]_c1, A[x]_c2⟩ = W_c1 J[x] J[x]ᵀ W_c2ᵀ, with J[x] the Jacobian of the features W^(L)
 * sees.
 *
 * @param model A trained tfjs model of MASO layers ending in a Dense layer.
 * @param x Images `[N, ...inputShape]` (N may be 0).
 * @returns The measurements.
 * @example Orthogonal class rows give a zero penalty
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { templateOrthogonality } from "./orthogonality.ts";
 * import { equal, ok } from "node:assert/strict";
 * const model = tf.sequential({ layers: [
 *   tf.layers.dense({ inputShape: [2], units: 2, useBias: false, weights: [tf.tensor2d([[1, 0], [0, 2]])] }),
 * ] });
 * const m = templateOrthogonality(model, tf.tensor2d([[1, 1]]));
 * equal(m.penalty, 0);
 * equal(m.weightCosine, 0);
 * ok(Math.abs(m.templateCosine) < 1e-7);
 * ```
 */
export function templateOrthogonality(model: tf.LayersModel, x: tf.Tensor): TemplateOrthogonality {
  if (!(model instanceof tf.LayersModel)) {
    throw new TypeError(`Cannot measure template orthogonality: model is not a tf.LayersModel`);
  }
  if (!(x instanceof tf.Tensor)) {
    throw new TypeError(`Cannot measure template orthogonality: x is not a tf.Tensor`);
  }
  const kernel = finalKernel(model);
  const c = kernel.shape[1];
  const penalty = tf.tidy(() => orthogonalityPenalty(kernel).dataSync()[0]);
  const gw = tf.tidy(() => tf.matMul(kernel, kernel, true, false).dataSync());
  const w = absCosineSum(gw, c);
  const weightCosine = w.sum / w.pairs; // NaN without a pair of non-zero rows
  let weightSquaredNorm = 0;
  for (let i = 0; i < c; i++) weightSquaredNorm += gw[i * c + i] / c;
  const n = x.shape[0];
  let templateCosine = NaN, templateInner = NaN, templateSquaredNorm = NaN;
  if (n > 0) {
    const net = fromLayersModel(model);
    const { A, B } = affineMap(net, x, { backend: "tfjs" });
    const g = tf.tidy(() => tf.matMul(A, A, false, true).dataSync());
    A.dispose();
    B.dispose();
    let cos = 0, pairs = 0, inner = 0, norm = 0;
    for (let e = 0; e < n; e++) {
      const off = e * c * c;
      const p = absCosineSum(g, c, off);
      cos += p.sum;
      pairs += p.pairs;
      for (let i = 0; i < c; i++) {
        norm += g[off + i * c + i];
        for (let j = 0; j < c; j++) if (i !== j) inner += Math.abs(g[off + i * c + j]);
      }
    }
    templateCosine = cos / pairs; // over the pairs of non-zero templates; NaN without one
    templateInner = inner / (n * c * (c - 1));
    templateSquaredNorm = norm / (n * c);
  }
  return {
    penalty,
    weightCosine,
    weightSquaredNorm,
    templateCosine,
    templateInner,
    templateSquaredNorm,
  };
}

/** Accuracies of a trained model, both in inference mode (batch-norm moving statistics). */
export interface InferenceAccuracy {
  /** Accuracy on the first `trainImages` training images. */
  readonly train: number;
  /** Accuracy on the whole test subset (the last epoch's test accuracy). */
  readonly test: number;
  /** Training images used: min(test images, 2,000, training images). */
  readonly trainImages: number;
}

/**
 * The inference-mode accuracies of a sweep result: the final model's on its fixed training
 * subset (`evalTrainAccuracy`) and its last epoch's test accuracy; none for results written
 * before the sweep measured the former.
 */
function inferenceOf(r: SweepResult): InferenceAccuracy | undefined {
  const test = r.history.at(-1)?.testAccuracy;
  if (r.evalTrainAccuracy === undefined || r.evalTrainImages === undefined || test == null) {
    return undefined;
  }
  return { train: r.evalTrainAccuracy, test, trainImages: r.evalTrainImages };
}

/** Mean, standard error (n − 1 denominator) and count of per-seed paired differences;
 * the standard error is NaN below two pairs. */
export interface PairedDifference {
  /** Mean of the differences. */
  readonly mean: number;
  /** Standard deviation of the differences over √n. */
  readonly se: number;
  /** Number of pairs. */
  readonly n: number;
}

/**
 * Summarises per-seed paired differences (λ > 0 minus λ = 0 for the same seed): their mean
 * and the standard error of that mean, sd/√n, which is the right noise estimate when runs
 * share their seed across λ (the independent-samples formula ignores the pairing).
 *
 * @param d The differences, one per seed.
 * @returns Mean, standard error (NaN below two pairs) and count.
 * @example
 * ```ts
 * import { pairedDifference } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * const p = pairedDifference([0.01, 0.03]);
 * equal(p.n, 2);
 * equal(Math.abs(p.mean - 0.02) < 1e-15 && Math.abs(p.se - 0.01) < 1e-15, true);
 * ```
 */
export function pairedDifference(d: readonly number[]): PairedDifference {
  const n = d.length;
  const m = n ? d.reduce((a, b) => a + b, 0) / n : NaN;
  const ss = d.reduce((a, v) => a + (v - m) ** 2, 0);
  return { mean: m, se: n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN, n };
}

/** Options of {@linkcode runOrthogonality}; unset grid options come from `scale`. */
export interface OrthogonalityOptions extends ExperimentOptions {
  /**
   * Folder of the results: `orthogonality_results.jsonl` (one line per finished run, the
   * sweep runner's format), `orthogonality_extras.jsonl` (orthogonality measurements per
   * run) and `orthogonality_spec.json`. Re-running with the same folder skips finished
   * runs (resume). Default: `out/orthogonality` at scale `"full"`, else a temporary
   * folder removed afterwards.
   */
  readonly outDir?: string;
  /** Architectures (registry names: `smallCNN`, `largeCNN`, `resNet`). */
  readonly architectures?: readonly string[];
  /** Datasets (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`, `svhn`). */
  readonly datasets?: readonly string[];
  /** The λ grid (full: `linspace(0, 2, 10)`). */
  readonly lambdas?: readonly number[];
  /** Runs per (architecture, dataset, λ) (full: 15). */
  readonly runs?: number;
  /** Epochs (full: 150, and 200 for CIFAR-100). */
  readonly epochs?: number;
  /** Training subset size (full: all). */
  readonly trainSize?: number;
  /** Test subset size (full: all). */
  readonly testSize?: number;
  /** Batch size (full: 50, and 100 for CIFAR-100); class balanced. */
  readonly batchSize?: number;
  /** Initial Adam learning rate, default 1e-3. */
  readonly learningRate?: number;
  /** Learning-rate schedule (full: ÷5 at epochs 60, 120, 160; else constant). */
  readonly schedule?: LearningRateSchedule;
  /** Run only one shard of each dataset's plan (for clusters; see docs/sweeps.md). */
  readonly shard?: Shard;
  /** Folders of CIFAR-100 and SVHN (skipped with a note when their files are absent). */
  readonly paths?: { readonly cifar100?: string; readonly svhn?: string };
  /** Test images used to measure template orthogonality per run (default 20; 0: skip). */
  readonly templateImages?: number;
  /** Extra builder options per architecture (tiny uses narrow smallCNN filters). */
  readonly models?: PaperSweepRegistryOptions["models"];
  /**
   * Train the runs in this many Deno workers at once (default 1: in this thread), each on
   * `workerThreads` tfjs-wasm threads and a shard of the runs (within `shard`), all writing to
   * `outDir`; the results are then read back as a resumed sweep, the same as trained here
   * (tests/experiments/orthogonality_workers_test.ts). On 2 cores, 2 workers train the quick
   * sweep's batches of 10 faster than one thread on both cores (bench/RESULTS.md). Needs
   * `schedule` to be data, not a function, and read access to this module's folder.
   */
  readonly workers?: number;
  /** tfjs-wasm threads in each worker (default ⌊cores ÷ workers⌋, at least 1). */
  readonly workerThreads?: number;
}

/** One finished run with its measurements of the trained model (absent for runs resumed
 * from a results file without them). */
export interface OrthogonalityRun extends SweepResult {
  /** Orthogonality of the trained model's final layer and templates. */
  readonly orthogonality?: TemplateOrthogonality;
  /** Training and test accuracy of the trained model, both in inference mode. */
  readonly inference?: InferenceAccuracy;
  /** Mean |cos| between the class rows of W^(L) at initialisation. */
  readonly initialWeightCosine?: number;
}

/** Per-(arch, dataset, λ) summary: the sweep's test-accuracy statistics plus means over runs
 * of the training accuracy, the train − test gap and the orthogonality measurements (NaN
 * where no run was measured). */
export interface OrthogonalitySummary extends SweepSummary {
  /** Mean over runs of the training accuracy of the last epochs, in training mode (batch
   * statistics, weights changing during the epoch): Figure 3b's curve, not for the gap. */
  readonly trainMean: number;
  /** Mean over runs of the final model's inference-mode accuracy on a training subset. */
  readonly evalTrainMean: number;
  /** Mean over runs of the final model's inference-mode test accuracy. */
  readonly evalTestMean: number;
  /** Mean over runs of inference-mode training − test accuracy of the final model:
   * overfitting. */
  readonly gap: number;
  /** Mean eq. (13) penalty value (without λ) of the trained W^(L). */
  readonly penalty: number;
  /** Mean |cos| between class rows of W^(L). */
  readonly weightCosine: number;
  /** Mean ‖W_c‖² of the class rows of W^(L). */
  readonly weightSquaredNorm: number;
  /** Mean |cos| between class rows of W^(L) at initialisation. */
  readonly initialWeightCosine: number;
  /** Mean |cos| between templates. */
  readonly templateCosine: number;
  /** Mean |⟨A[x]_c1, A[x]_c2⟩|. */
  readonly templateInner: number;
  /** Mean ‖A[x]_c‖². */
  readonly templateSquaredNorm: number;
}

/** Curves of one (arch, dataset). */
export interface OrthogonalityCurves {
  /** Architecture name. */
  readonly arch: string;
  /** Dataset name. */
  readonly dataset: string;
  /** Mean curves for λ = 0 and the λ > 0 nearest 1. */
  readonly curves: LambdaCurves[];
}

/** What {@linkcode runOrthogonality} returns. */
export interface OrthogonalityResult extends ExperimentResult {
  /** Every finished run of the grid (from this call or resumed). */
  readonly runs: OrthogonalityRun[];
  /** One row per (arch, dataset, λ). */
  readonly summary: OrthogonalitySummary[];
  /** Training curves per (arch, dataset). */
  readonly curves: OrthogonalityCurves[];
  /** Notes: skipped datasets, resumed runs, unmeasured runs. */
  readonly notes: string[];
  /** The results folder (removed afterwards when it was a temporary one). */
  readonly outDir: string;
}

/** The grid of one scale (see {@linkcode ORTHOGONALITY_PRESETS}). */
export interface OrthogonalityPreset {
  /** Architectures. */
  readonly archs: readonly string[];
  /** Datasets. */
  readonly datasets: readonly string[];
  /** The λ grid. */
  readonly lambdas: readonly number[];
  /** Runs per (architecture, dataset, λ). */
  readonly runs: number;
  /** Epochs (full: CIFAR-100 trains 200). */
  readonly epochs: number;
  /** Training subset size (absent: all). */
  readonly trainSize?: number;
  /** Test subset size (absent: all). */
  readonly testSize?: number;
  /** Batch size (full: CIFAR-100 uses 100). */
  readonly batchSize: number;
  /** Learning-rate schedule. */
  readonly schedule: LearningRateSchedule;
  /** Test images whose templates are measured per run. */
  readonly templateImages: number;
  /** Extra builder options per architecture. */
  readonly models?: PaperSweepRegistryOptions["models"];
}

/**
 * The grid of each scale of {@linkcode runOrthogonality} (options override it).
 *
 * @example The quick scale trains smallCNN on 3,000 CIFAR-10 images
 * ```ts
 * import { ORTHOGONALITY_PRESETS } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * equal(ORTHOGONALITY_PRESETS.quick.trainSize, 3000);
 * ```
 */
export const ORTHOGONALITY_PRESETS: Readonly<
  Record<"tiny" | "quick" | "full", OrthogonalityPreset>
> = {
  tiny: {
    archs: ["smallCNN"],
    datasets: ["mnist"],
    lambdas: [0, 1],
    runs: 2,
    epochs: 2,
    trainSize: 500,
    testSize: 200,
    batchSize: 10,
    schedule: { kind: "constant" },
    templateImages: 8,
    models: { smallCNN: { filters: [8, 16, 32] } },
  },
  quick: {
    archs: ["smallCNN"],
    datasets: ["cifar10"],
    lambdas: [0, 1],
    runs: 3,
    epochs: 6,
    trainSize: 3000,
    testSize: 1000,
    batchSize: 10,
    schedule: { kind: "constant" },
    templateImages: 20,
  },
  full: {
    archs: ["largeCNN", "smallCNN", "resNet"],
    datasets: ["cifar10", "cifar100", "svhn"],
    lambdas: linspace(0, 2, 10),
    runs: 15,
    epochs: 150,
    batchSize: 50,
    schedule: { kind: "step", epochs: [60, 120, 160], factor: 0.2 },
    templateImages: 20,
  },
};

/** What is stored per run besides the sweep's result (one line of the extras file). */
interface RunExtras extends TemplateOrthogonality {
  initialWeightCosine?: number;
}

function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(
      `Cannot run the orthogonality experiment: ${name} is ${v}, expected an integer ≥ 1`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Why a user-supplied dataset cannot be used, or null when its files are there. */
async function missingFiles(
  name: string,
  paths: OrthogonalityOptions["paths"],
): Promise<string | null> {
  const need = name === "cifar100"
    ? [paths?.cifar100 ?? "data/cifar-100-binary", ["train.bin", "test.bin"]] as const
    : name === "svhn"
    ? [paths?.svhn ?? "data/svhn", ["train_32x32.mat", "test_32x32.mat"]] as const
    : null;
  if (!need) return null;
  const [dir, files] = need;
  for (const f of files) {
    if (!(await exists(`${dir}/${f}`))) {
      return `${name} skipped: ${dir}/${f} not found (give its folder in paths.${name})`;
    }
  }
  return null;
}

function mean(v: number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "n/a";
}

function num(v: number, digits = 3): string {
  return Number.isFinite(v) ? v.toPrecision(digits) : "n/a";
}

/**
 * `num` of a λ = 0 value and a λ > 0 one judged by "the latter at most half the former",
 * with more significant digits (up to 8) where 3 would show the other verdict.
 */
function halving(zero: number, one: number): [string, string] {
  const held = one <= 0.5 * zero;
  let digits = 3;
  while (
    digits < 8 && Number.isFinite(zero) && Number.isFinite(one) &&
    (Number(num(one, digits)) <= 0.5 * Number(num(zero, digits))) !== held
  ) digits++;
  return [num(zero, digits), num(one, digits)];
}

/**
 * Decides the four claims of one (architecture, dataset) of the orthogonality experiment
 * from its summary rows and runs, comparing λ ≈ 1 (the λ > 0 nearest 1), or every λ > 0,
 * with λ = 0 seed by seed (runs pair up by run number and seed):
 *
 * - Fig. 3a: held if the mean per-seed test-accuracy gain (mean over λ > 0 minus λ = 0)
 *   exceeds one standard error of those gains (see {@linkcode pairedDifference});
 * - Fig. 3b: held if the mean per-seed reduction of the inference-mode train − test gap
 *   from λ = 0 to λ ≈ 1 exceeds one standard error of those reductions;
 * - Eq. 13: held if λ ≈ 1 at least halves the mean |cos| between class rows of W^(L);
 * - Sec. 6: held if λ ≈ 1 at least halves the mean |cos| between templates.
 *
 * @param tag Label of the configuration in the texts, e.g. `smallCNN/mnist`.
 * @param rows The summary rows of that configuration, one per λ.
 * @param runs Its finished runs (all λ).
 * @param templateImages Test images whose templates were measured per run (for the text).
 * @returns The four claims in that order, or none when `rows` lacks λ = 0 or any λ > 0.
 * @example No λ > 0: no claim
 * ```ts
 * import { orthogonalityClaims } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * equal(orthogonalityClaims("smallCNN/mnist", [], [], 20).length, 0);
 * ```
 */
export function orthogonalityClaims(
  tag: string,
  rows: readonly OrthogonalitySummary[],
  runs: readonly OrthogonalityRun[],
  templateImages: number,
): Claim[] {
  const zero = rows.find((r) => r.lambda === 0);
  const positive = rows.filter((r) => r.lambda > 0);
  const one = positive.length
    ? positive.reduce((a, b) => (Math.abs(b.lambda - 1) < Math.abs(a.lambda - 1) ? b : a))
    : undefined;
  if (!zero || !one) return [];
  const out: Claim[] = [];
  const meanPositive = mean(positive.map((r) => r.mean));
  const best = positive.reduce((a, b) => (b.mean > a.mean ? b : a));
  const pp = (v: number, digits = 1) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(digits)} pp`;
  // "mean ± se" in pp, with more decimals (up to 4) where one would print a mean that
  // exceeds its standard error as equal to it.
  const meanSe = ({ mean, se }: PairedDifference) => {
    let digits = 1;
    const abs = (v: number) => (100 * Math.abs(v)).toFixed(digits);
    while (digits < 4 && mean > se && abs(mean) === abs(se)) digits++;
    return `${pp(mean, digits)} ± ${(100 * se).toFixed(digits)} pp`;
  };
  // Why a paired comparison did not hold: within one standard error of no change, or beyond it
  // the other way (a loss is not noise), or too few paired seeds for a standard error.
  const notHeld = ({ mean, se }: PairedDifference) =>
    !(Number.isFinite(mean) && Number.isFinite(se))
      ? " (no standard error: fewer than 2 paired seeds)"
      : mean < -se
      ? " (the opposite, beyond one standard error)"
      : " (within noise)";
  // Runs share their seed across λ: compare them seed by seed.
  const runsAt = (lambda: number) =>
    new Map(runs.filter((r) => r.lambda === lambda).map((r) => [`${r.run}|${r.seed}`, r]));
  const atZero = runsAt(0);
  const atPositive = positive.map((r) => runsAt(r.lambda));
  const atOne = runsAt(one.lambda);
  // A seed without a run at every λ compared, or with a non-finite accuracy, is left out of
  // the paired statistics, and the claim says how many were.
  const leftOut = (n: number) =>
    n === 0 ? "" : `; ${n} seed${n === 1 ? "" : "s"} left out (unpaired or non-finite)`;
  const gains: number[] = [];
  let gainsLeftOut = 0;
  for (const [k, z] of atZero) {
    const others = atPositive.map((m) => m.get(k));
    const d = others.every((o) => o !== undefined)
      ? mean(others.map((o) => o!.testAccuracy)) - z.testAccuracy
      : NaN;
    if (Number.isFinite(d)) gains.push(d);
    else gainsLeftOut++;
  }
  const gain = pairedDifference(gains);
  const gainHeld = gain.mean > gain.se;
  out.push({
    claim: `Fig. 3a: the orthogonality penalty (λ > 0) raises mean test accuracy over λ = 0 ` +
      `(${tag}; held if the mean per-seed gain, mean over λ > 0 minus λ = 0 for the same ` +
      `seed, exceeds one standard error of those per-seed differences)`,
    measured: `λ=0: ${pct(zero.mean)} ± ${(100 * zero.std).toFixed(1)} pp (max ${pct(zero.max)}, ` +
      `${zero.runs} runs); ` +
      positive.map((r) =>
        `λ=${+r.lambda.toFixed(3)}: ${pct(r.mean)} ± ${(100 * r.std).toFixed(1)} pp`
      )
        .join("; ") +
      `; mean over λ>0 ${pct(meanPositive)} (${pp(meanPositive - zero.mean)}), best λ=` +
      `${+best.lambda.toFixed(3)} (${pp(best.mean - zero.mean)})` +
      `; per-seed gain ${meanSe(gain)} (standard error, ` +
      `${gain.n} seeds${leftOut(gainsLeftOut)})` + (gainHeld ? "" : notHeld(gain)),
    held: gainHeld,
  });
  const reductions: number[] = [];
  let reductionsLeftOut = 0;
  for (const [k, z] of atZero) {
    const o = atOne.get(k);
    const r = z.inference && o?.inference
      ? (z.inference.train - z.inference.test) - (o.inference.train - o.inference.test)
      : NaN;
    if (Number.isFinite(r)) reductions.push(r);
    else reductionsLeftOut++;
  }
  const reduction = pairedDifference(reductions);
  const gapHeld = reduction.mean > reduction.se;
  const images = [...atZero.values()].find((r) => r.inference)?.inference;
  out.push({
    claim: `Fig. 3b: with λ ≈ 1 the network overfits less than with λ = 0 (smaller ` +
      `train − test accuracy gap) (${tag}; both accuracies of the final model in inference ` +
      `mode, train on ${images?.trainImages ?? "n/a"} fixed training images; held if the ` +
      `mean per-seed gap reduction exceeds one standard error of the per-seed reductions)`,
    measured: `gap λ=0: ${(100 * zero.gap).toFixed(1)} pp (train ${pct(zero.evalTrainMean)}, ` +
      `test ${pct(zero.evalTestMean)}); gap λ=${+one.lambda.toFixed(3)}: ` +
      `${(100 * one.gap).toFixed(1)} pp (train ${pct(one.evalTrainMean)}, test ` +
      `${pct(one.evalTestMean)}); per-seed reduction ${meanSe(reduction)} ` +
      `(standard error, ${reduction.n} seeds${leftOut(reductionsLeftOut)})` +
      (gapHeld ? "" : notHeld(reduction)),
    held: gapHeld,
  });
  const cosineHeld = one.weightCosine <= 0.5 * zero.weightCosine;
  const [rowsZero, rowsOne] = halving(zero.weightCosine, one.weightCosine);
  const [templatesZero, templatesOne] = halving(zero.templateCosine, one.templateCosine);
  out.push({
    claim: `Eq. 13: training with the penalty makes the class rows of W^(L) more orthogonal ` +
      `(${tag}; held if λ ≈ 1 at least halves the scale-free mean |cos| between rows ` +
      `compared with λ = 0; the penalty value itself is no evidence: Σ⟨W_c1,W_c2⟩² scales ` +
      `as the 4th power of the weights, so the penalty also rewards shrinking the rows, ` +
      `which batch-norm before the last layer lets the network do without changing ` +
      `its outputs)`,
    measured: `mean |cos| between rows: at initialisation ${num(zero.initialWeightCosine)}, ` +
      `λ=0 ${rowsZero}, λ=${+one.lambda.toFixed(3)} ` +
      `${rowsOne}; Σ⟨W_c1,W_c2⟩² λ=0 ${num(zero.penalty)}, λ=` +
      `${+one.lambda.toFixed(3)} ${num(one.penalty)}; mean ‖W_c‖² λ=0 ` +
      `${num(zero.weightSquaredNorm)}, λ=${+one.lambda.toFixed(3)} ` +
      `${num(one.weightSquaredNorm)}`,
    held: cosineHeld,
  });
  out.push({
    claim: `Sec. 6: the paper asserts that orthogonal rows of W^(L) suffice for orthogonal ` +
      `templates A[x]_c; that is not true in general (A[x]_c = W_c·J[x], with J[x] the ` +
      `Jacobian of the features W^(L) sees, so it needs J[x]J[x]ᵀ ∝ I). We test the weaker ` +
      `empirical tendency: training with λ ≈ 1 at least halves the mean |cos| between ` +
      `templates compared with λ = 0 (${tag})`,
    measured: `mean |cos(A[x]_c1, A[x]_c2)| over ${templateImages} test images: λ=0 ` +
      `${templatesZero}, λ=${+one.lambda.toFixed(3)} ${templatesOne}`,
    held: one.templateCosine <= 0.5 * zero.templateCosine,
  });
  return out;
}

/**
 * Runs the orthogonal-templates experiment (Section 6, Figure 3). For every architecture
 * and dataset of the grid, trains `runs` models per λ with the eq. (13) penalty on the
 * final layer (Adam, class-balanced batches, the paper's preprocessing), through the sweep
 * runner (one JSON line per finished run in `outDir`: rerunning resumes; `shard` runs one
 * shard), then reports test accuracy vs λ (mean, std, max over runs of the last-3-epoch
 * mean), the training curves for λ = 0 and the λ > 0 nearest 1, the train − test gap of
 * each final model (both accuracies in inference mode, the training one on a fixed subset
 * of min(test images, 2,000) training images), and how orthogonal W^(L) and the templates
 * A[x]_c became (see {@linkcode templateOrthogonality}). Claims compare λ ≈ 1 (or every
 * λ > 0) with λ = 0 seed by seed: a difference counts when its mean exceeds one standard
 * error of the per-seed differences (see {@linkcode pairedDifference}).
 *
 * Scales: `tiny` (tests: a narrow smallCNN on 500 MNIST images, λ ∈ {0, 1}, 2 runs, 2
 * epochs at batch 10), `quick` (smallCNN on 3,000 CIFAR-10 images, λ ∈ {0, 1}, 3 runs, 6 epochs at batch 10:
 * 1,800 steps, enough for tfjs' batch-norm moving statistics (momentum 0.99) to settle),
 * `full` (the paper: largeCNN, smallCNN, resNet on CIFAR-10, CIFAR-100, SVHN, λ =
 * linspace(0, 2, 10), 15 runs, 150 epochs (200 for CIFAR-100), batch 50 (100), learning
 * rate 1e-3 ÷5 at epochs 60/120/160). CIFAR-100 and SVHN need the user's files (`paths`);
 * without them they are skipped with a note.
 *
 * @param options Scale, grid overrides, output folder, shard, seed, progress.
 * @returns Claims, figures, every run, the per-λ summary and the curves.
 * @example λ ∈ {0, 1}, two runs each, on a few MNIST images
 * ```ts
 * import { runOrthogonality } from "./orthogonality.ts";
 * import { deepEqual, equal, ok } from "node:assert/strict";
 * const result = await runOrthogonality({ scale: "tiny" });
 * equal(result.runs.length, 4);
 * deepEqual(result.summary.map((s) => s.lambda), [0, 1]);
 * ok(result.summary.every((s) => s.mean >= 0 && s.mean <= 1));
 * ```
 */
export async function runOrthogonality(
  options: OrthogonalityOptions = {},
): Promise<OrthogonalityResult> {
  const t0 = performance.now();
  const scale = options.scale ?? "quick";
  const preset = ORTHOGONALITY_PRESETS[scale];
  if (!preset) {
    throw new RangeError(
      `Cannot run the orthogonality experiment: scale is '${scale}', expected tiny, quick or full`,
    );
  }
  const log = options.onProgress ?? (() => {});
  const archs = [...(options.architectures ?? preset.archs)];
  const lambdas = [...(options.lambdas ?? preset.lambdas)];
  const runs = options.runs ?? preset.runs;
  positiveInt("runs", runs);
  positiveInt("epochs", options.epochs);
  positiveInt("trainSize", options.trainSize);
  positiveInt("testSize", options.testSize);
  positiveInt("batchSize", options.batchSize);
  const workers = options.workers ?? 1;
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 16)) {
    throw new RangeError(
      `Cannot run the orthogonality experiment: workers is ${workers}, expected an integer in [1, 16]`,
    );
  }
  const workerThreads = options.workerThreads ??
    Math.max(1, Math.floor((navigator.hardwareConcurrency || 1) / workers));
  if (!(Number.isInteger(workerThreads) && workerThreads >= 1 && workerThreads <= 8)) {
    throw new RangeError(
      `Cannot run the orthogonality experiment: workerThreads is ${workerThreads}, expected an integer in [1, 8]`,
    );
  }
  if (workers > 1 && typeof options.schedule === "function") {
    throw new RangeError(
      "Cannot run the orthogonality experiment in workers: schedule is a function, which " +
        'cannot be sent to a worker; give it as data ({ kind: "step", … }) or use workers: 1',
    );
  }
  const templateImages = options.templateImages ?? preset.templateImages;
  if (!(Number.isInteger(templateImages) && templateImages >= 0)) {
    throw new RangeError(
      `Cannot run the orthogonality experiment: templateImages is ${templateImages}, expected an integer ≥ 0`,
    );
  }
  const seed = options.seed ?? 0;
  const notes: string[] = [];
  const datasets: string[] = [];
  for (const d of options.datasets ?? preset.datasets) {
    const why = await missingFiles(d, options.paths);
    if (why) {
      notes.push(why);
      log(why);
    } else datasets.push(d);
  }
  const trainSize = options.trainSize ?? preset.trainSize;
  const testSize = options.testSize ?? preset.testSize;
  const models = options.models ?? preset.models;
  const learningRate = options.learningRate ?? 1e-3;
  const schedule = options.schedule ?? preset.schedule;
  const epochsOf = (d: string) =>
    options.epochs ?? (scale === "full" && d === "cifar100" ? 200 : preset.epochs);
  const batchOf = (d: string) =>
    options.batchSize ?? (scale === "full" && d === "cifar100" ? 100 : preset.batchSize);

  const temporary = options.outDir === undefined && scale !== "full";
  const outDir = options.outDir ??
    (temporary
      ? await Deno.makeTempDir({ prefix: "masokit_orthogonality_" })
      : "out/orthogonality");
  await Deno.mkdir(outDir, { recursive: true });
  const resultsPath = `${outDir}/orthogonality_results.jsonl`;
  const extrasPath = `${outDir}/orthogonality_extras.jsonl`;
  const specPath = `${outDir}/orthogonality_spec.json`;

  const choice = await selectBackend({ prefer: "wasm" });
  log(`orthogonality: tfjs backend ${choice.backend}`);

  try {
    // Refuse to mix runs trained with different settings in one results file.
    const fingerprint = JSON.stringify({
      trainSize: trainSize ?? "all",
      testSize: testSize ?? "all",
      learningRate,
      schedule,
      models: models ?? {},
      epochs: options.epochs ?? (scale === "full" ? "150 (cifar100: 200)" : preset.epochs),
      batchSize: options.batchSize ?? (scale === "full" ? "50 (cifar100: 100)" : preset.batchSize),
    });
    if (await exists(specPath)) {
      const old = await Deno.readTextFile(specPath);
      if (old.trim() !== fingerprint) {
        throw new RangeError(
          `Cannot run the orthogonality experiment: ${outDir} holds runs trained with ${old.trim()}, ` +
            `this call uses ${fingerprint}; choose another outDir`,
        );
      }
    } else await writeFileAtomic(specPath, fingerprint + "\n");

    const specOf = (dataset: string): SweepSpec => ({
      architectures: archs,
      datasets: [dataset],
      lambdas,
      runs,
      seed,
      train: {
        epochs: epochsOf(dataset),
        batchSize: batchOf(dataset),
        learningRate,
        schedule,
        progress: options.progress ? "auto" : "silent",
      },
      lastEpochs: 3,
    });
    if (workers > 1) {
      // the runs still to do, over every dataset: workers only where two or more are left
      const done = new Set(
        (await readSweepResults([resultsPath], { allowMissing: true })).results.map((r) => r.key),
      );
      const left = datasets.flatMap((d) => {
        const plan = planSweep(specOf(d));
        return (options.shard ? shardRuns(plan, options.shard) : plan).filter((r) =>
          !done.has(r.key)
        );
      }).length;
      if (left >= 2) {
        const count = Math.min(workers, left);
        log(`orthogonality: ${left} runs in ${count} workers, ${workerThreads} thread(s) each`);
        const { onProgress: _, ...rest } = options;
        await sweepInWorkers(
          { ...rest, outDir, progress: false },
          count,
          workerThreads,
          tf.env().getBool("PROD"),
          (m) => log(`orthogonality: ${m}`),
        );
      }
    }

    const baseRegistry = paperSweepRegistry({
      cacheDir: options.cacheDir,
      trainSize,
      testSize,
      seed,
      paths: options.paths,
      models,
    });
    // Measurements of each model right before the sweep disposes it; the i-th model built
    // belongs to the i-th run still to do (the sweep builds one model per run, in order).
    let todo: SweepRun[] = [];
    let built = 0;
    let probe: tf.Tensor | null = null;
    const measured = new Map<string, RunExtras>();
    const registry: SweepRegistry = { models: {}, datasets: {} };
    for (const [name, load] of Object.entries(baseRegistry.datasets)) {
      registry.datasets[name] = async () => {
        const data = await load();
        probe?.dispose();
        probe = null;
        const nTest = data.test?.x.shape[0] ?? 0;
        if (templateImages > 0 && data.test && nTest > 0) {
          probe = tf.keep(tf.slice(data.test.x, 0, Math.min(templateImages, nTest)));
        }
        return data;
      };
    }
    for (const [name, build] of Object.entries(baseRegistry.models)) {
      registry.models[name] = async (ctx) => {
        const model = await build(ctx);
        const run = todo[built++];
        let initialWeightCosine: number | undefined;
        const noImage = tf.zeros([0, ...ctx.inputShape]);
        try {
          initialWeightCosine = templateOrthogonality(model, noImage).weightCosine;
        } catch {
          // a model built lazily has no kernel yet: no initial measurement
        } finally {
          noImage.dispose();
        }
        const dispose = model.dispose.bind(model);
        model.dispose = (() => {
          if (
            run && run.arch === ctx.arch && run.dataset === ctx.dataset && run.seed === ctx.seed
          ) {
            const none = probe ? null : tf.zeros([0, ...ctx.inputShape]);
            try {
              const orthogonality = templateOrthogonality(model, probe ?? none!);
              measured.set(run.key, {
                ...orthogonality,
                initialWeightCosine,
              });
            } catch (e) {
              notes.push(`run ${run.key}: orthogonality not measured (${(e as Error).message})`);
            } finally {
              none?.dispose();
            }
          }
          return dispose();
        }) as typeof model.dispose;
        return model;
      };
    }

    const grid = new Set<string>();
    try {
      for (const dataset of datasets) {
        const spec = specOf(dataset);
        const plan = planSweep(spec);
        for (const r of plan) grid.add(r.key);
        const mine = options.shard ? shardRuns(plan, options.shard) : plan;
        const done = new Set(
          (await readSweepResults([resultsPath], { allowMissing: true })).results.map((r) => r.key),
        );
        todo = mine.filter((r) => !done.has(r.key));
        built = 0;
        if (todo.length < mine.length) {
          notes.push(
            `${dataset}: ${mine.length - todo.length} finished runs resumed from ${resultsPath}`,
          );
        }
        log(
          `orthogonality: ${dataset}: ${todo.length} runs to train (${mine.length} in this shard)`,
        );
        const res = await runSweep(spec, {
          registry,
          out: resultsPath,
          shard: options.shard,
          log: (m) => log(`orthogonality: ${m}`),
        });
        for (const r of res.results) {
          const m = measured.get(r.key);
          if (m) await appendLine(extrasPath, JSON.stringify({ key: r.key, ...m }));
        }
      }
    } finally {
      (probe as tf.Tensor | null)?.dispose();
    }

    // Gather every finished run of the grid with its measurements.
    const extras = new Map<string, RunExtras>();
    if (await exists(extrasPath)) {
      for (const line of (await Deno.readTextFile(extrasPath)).split("\n")) {
        if (!line.trim()) continue;
        try {
          const { key, ...m } = JSON.parse(line);
          if (typeof key === "string" && !extras.has(key)) extras.set(key, m);
        } catch {
          // a torn line from a killed writer
        }
      }
    }
    const all = (await readSweepResults([resultsPath], { allowMissing: true })).results.filter((
      r,
    ) => grid.has(r.key));
    const runsOut: OrthogonalityRun[] = all.map((r) => {
      const e = extras.get(r.key), inference = inferenceOf(r);
      if (!e) return { ...r, inference };
      const { initialWeightCosine, ...orthogonality } = e;
      return { ...r, orthogonality, inference, initialWeightCosine };
    });
    const noInference = runsOut.filter((r) => !r.inference).length;
    if (noInference > 0) {
      notes.push(`${noInference} runs have no inference-mode train/test accuracy (no gap)`);
    }
    const unmeasured = runsOut.filter((r) => !r.orthogonality).length;
    if (unmeasured > 0) notes.push(`${unmeasured} runs have no orthogonality measurement`);

    const summary: OrthogonalitySummary[] = summarizeSweep(runsOut).map((row) => {
      const group = runsOut.filter((r) =>
        r.arch === row.arch && r.dataset === row.dataset && r.lambda === row.lambda
      );
      const m = (f: (o: TemplateOrthogonality) => number) =>
        mean(group.filter((r) => r.orthogonality).map((r) => f(r.orthogonality!)));
      const e = (f: (i: InferenceAccuracy) => number) =>
        mean(group.filter((r) => r.inference).map((r) => f(r.inference!)));
      return {
        ...row,
        trainMean: mean(group.map((r) => r.trainAccuracy)),
        evalTrainMean: e((i) => i.train),
        evalTestMean: e((i) => i.test),
        gap: e((i) => i.train - i.test),
        penalty: m((o) => o.penalty),
        weightCosine: m((o) => o.weightCosine),
        weightSquaredNorm: m((o) => o.weightSquaredNorm),
        initialWeightCosine: mean(
          group.flatMap((r) => r.initialWeightCosine === undefined ? [] : [r.initialWeightCosine]),
        ),
        templateCosine: m((o) => o.templateCosine),
        templateInner: m((o) => o.templateInner),
        templateSquaredNorm: m((o) => o.templateSquaredNorm),
      };
    });

    const claims: Claim[] = [];
    const figures: Figure[] = [];
    const curves: OrthogonalityCurves[] = [];
    const configs = [...new Set(summary.map((s) => JSON.stringify([s.arch, s.dataset])))].map(
      (k) => JSON.parse(k) as [string, string],
    );
    for (const [arch, dataset] of configs) {
      const rows = summary.filter((s) => s.arch === arch && s.dataset === dataset);
      const zero = rows.find((r) => r.lambda === 0);
      const positive = rows.filter((r) => r.lambda > 0);
      const one = positive.length
        ? positive.reduce((a, b) => (Math.abs(b.lambda - 1) < Math.abs(a.lambda - 1) ? b : a))
        : undefined;
      const tag = `${arch}/${dataset}`;
      const curveOf = (lambda: number): LambdaCurves => {
        const group = runsOut.filter((r) =>
          r.arch === arch && r.dataset === dataset && r.lambda === lambda
        );
        const n = Math.min(...group.map((r) => r.history.length));
        const epochs = Array.from({ length: n }, (_, i) => i + 1);
        return {
          lambda,
          epochs,
          trainError: epochs.map((e) => 1 - mean(group.map((r) => r.history[e - 1].trainAccuracy))),
          testAccuracy: epochs.map((e) =>
            mean(group.map((r) => r.history[e - 1].testAccuracy ?? NaN))
          ),
        };
      };
      const lambdasShown = [zero?.lambda, one?.lambda].filter((v): v is number => v !== undefined);
      const c: OrthogonalityCurves = { arch, dataset, curves: lambdasShown.map(curveOf) };
      curves.push(c);
      figures.push(accuracyVsLambdaFigure(rows, { arch, dataset }));
      if (c.curves.length) figures.push(trainingCurvesFigure(c.curves, { arch, dataset }));
      figures.push(orthogonalityCosineFigure(rows, { arch, dataset }));
      if (!zero || !one) {
        notes.push(`${tag}: no claim checked: the grid needs λ = 0 and some λ > 0`);
        continue;
      }
      claims.push(
        ...orthogonalityClaims(
          tag,
          rows,
          runsOut.filter((r) => r.arch === arch && r.dataset === dataset),
          templateImages,
        ),
      );
    }
    const sizes = `${trainSize ?? "all"} train / ${testSize ?? "all"} test images`;
    return {
      id: "orthogonality",
      title: "Orthogonal templates (Figure 3)",
      scale: `${scale}: ${archs.join(", ")} on ${datasets.join(", ") || "no dataset"} ` +
        `(${sizes}, paper preprocessing, batch-norm), λ ∈ {${
          lambdas.map((l) => +l.toFixed(3)).join(", ")
        }}, ` +
        `${runs} runs, ${
          datasets.map((d) => `${epochsOf(d)} epochs × batch ${batchOf(d)}`).join(" / ")
        }` +
        `, Adam lr ${learningRate}, tfjs ${choice.backend}`,
      claims,
      figures,
      seconds: (performance.now() - t0) / 1000,
      runs: runsOut,
      summary,
      curves,
      notes,
      outDir,
    };
  } finally {
    if (temporary) await Deno.remove(outDir, { recursive: true }).catch(() => {});
  }
}
