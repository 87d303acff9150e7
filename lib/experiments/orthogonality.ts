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
  /** Mean |cos| between distinct class rows of W^(L). */
  readonly weightCosine: number;
  /** Mean over images and class pairs c1 ≠ c2 of |cos(A[x]_c1, A[x]_c2)| (NaN for no image). */
  readonly templateCosine: number;
  /** Mean over images and class pairs c1 ≠ c2 of |⟨A[x]_c1, A[x]_c2⟩| (NaN for no image). */
  readonly templateInner: number;
  /** Mean over images and classes of ‖A[x]_c‖² (NaN for no image). */
  readonly templateSquaredNorm: number;
}

/** Mean |g_ij| / √(g_ii g_jj) over i ≠ j of a C×C Gram matrix stored at `off`. */
function meanAbsCosine(g: ArrayLike<number>, c: number, off = 0): number {
  let s = 0;
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      if (i === j) continue;
      const d = Math.sqrt(g[off + i * c + i] * g[off + j * c + j]);
      s += d > 0 ? Math.abs(g[off + i * c + j]) / d : 0;
    }
  }
  return s / (c * (c - 1));
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
  const weightCosine = meanAbsCosine(gw, c);
  const n = x.shape[0];
  let templateCosine = NaN, templateInner = NaN, templateSquaredNorm = NaN;
  if (n > 0) {
    const net = fromLayersModel(model);
    const { A, B } = affineMap(net, x, { backend: "tfjs" });
    const g = tf.tidy(() => tf.matMul(A, A, false, true).dataSync());
    A.dispose();
    B.dispose();
    let cos = 0, inner = 0, norm = 0;
    for (let e = 0; e < n; e++) {
      const off = e * c * c;
      cos += meanAbsCosine(g, c, off);
      for (let i = 0; i < c; i++) {
        norm += g[off + i * c + i];
        for (let j = 0; j < c; j++) if (i !== j) inner += Math.abs(g[off + i * c + j]);
      }
    }
    templateCosine = cos / n;
    templateInner = inner / (n * c * (c - 1));
    templateSquaredNorm = norm / (n * c);
  }
  return { penalty, weightCosine, templateCosine, templateInner, templateSquaredNorm };
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
}

/** One finished run with its orthogonality measurements (absent for runs resumed from
 * a results file without them). */
export interface OrthogonalityRun extends SweepResult {
  /** Measurements of the trained model. */
  readonly orthogonality?: TemplateOrthogonality;
}

/** Per-(arch, dataset, λ) summary: the sweep's test-accuracy statistics plus means over runs
 * of the training accuracy, the train − test gap and the orthogonality measurements. */
export interface OrthogonalitySummary extends SweepSummary {
  /** Mean over runs of the training accuracy (last epochs). */
  readonly trainMean: number;
  /** Mean over runs of training − test accuracy (last epochs): overfitting. */
  readonly gap: number;
  /** Mean eq. (13) penalty value (without λ) of the trained W^(L) (NaN if not measured). */
  readonly penalty: number;
  /** Mean |cos| between class rows of W^(L). */
  readonly weightCosine: number;
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

interface Preset {
  archs: string[];
  datasets: string[];
  lambdas: number[];
  runs: number;
  epochs: number;
  trainSize?: number;
  testSize?: number;
  batchSize: number;
  schedule: LearningRateSchedule;
  templateImages: number;
  models?: PaperSweepRegistryOptions["models"];
}

const PRESETS: Record<"tiny" | "quick" | "full", Preset> = {
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

async function appendText(path: string, line: string): Promise<void> {
  const f = await Deno.open(path, { append: true, create: true, write: true });
  try {
    const bytes = new TextEncoder().encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += await f.write(bytes.subarray(written));
  } finally {
    f.close();
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

function mean(v: number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "n/a";
}

function num(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(3) : "n/a";
}

/**
 * Runs the orthogonal-templates experiment (Section 6, Figure 3). For every architecture
 * and dataset of the grid, trains `runs` models per λ with the eq. (13) penalty on the
 * final layer (Adam, class-balanced batches, the paper's preprocessing), through the sweep
 * runner (one JSON line per finished run in `outDir`: rerunning resumes; `shard` runs one
 * shard), then reports test accuracy vs λ (mean, std, max over runs of the last-3-epoch
 * mean), the training curves for λ = 0 and the λ > 0 nearest 1, the train − test gap,
 * and how orthogonal W^(L) and the templates A[x]_c became (see
 * {@linkcode templateOrthogonality}).
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
  const preset = PRESETS[scale];
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
    } else await writeAtomic(specPath, fingerprint + "\n");

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
    const measured = new Map<string, TemplateOrthogonality>();
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
        const dispose = model.dispose.bind(model);
        model.dispose = (() => {
          if (
            run && run.arch === ctx.arch && run.dataset === ctx.dataset && run.seed === ctx.seed
          ) {
            const none = probe ? null : tf.zeros([0, ...ctx.inputShape]);
            try {
              measured.set(run.key, templateOrthogonality(model, probe ?? none!));
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
        const spec: SweepSpec = {
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
        };
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
          if (m) await appendText(extrasPath, JSON.stringify({ key: r.key, ...m }));
        }
      }
    } finally {
      (probe as tf.Tensor | null)?.dispose();
    }

    // Gather every finished run of the grid with its measurements.
    const extras = new Map<string, TemplateOrthogonality>();
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
    const runsOut: OrthogonalityRun[] = all.map((r) =>
      extras.has(r.key) ? { ...r, orthogonality: extras.get(r.key) } : r
    );
    const unmeasured = runsOut.filter((r) => !r.orthogonality).length;
    if (unmeasured > 0) notes.push(`${unmeasured} runs have no orthogonality measurement`);

    const summary: OrthogonalitySummary[] = summarizeSweep(runsOut).map((row) => {
      const group = runsOut.filter((r) =>
        r.arch === row.arch && r.dataset === row.dataset && r.lambda === row.lambda
      );
      const m = (f: (o: TemplateOrthogonality) => number) =>
        mean(group.filter((r) => r.orthogonality).map((r) => f(r.orthogonality!)));
      return {
        ...row,
        trainMean: mean(group.map((r) => r.trainAccuracy)),
        gap: mean(group.map((r) => r.trainAccuracy - r.testAccuracy)),
        penalty: m((o) => o.penalty),
        weightCosine: m((o) => o.weightCosine),
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
      const meanPositive = mean(positive.map((r) => r.mean));
      const gainError = Math.sqrt(
        zero.std ** 2 / zero.runs +
          mean(positive.map((r) => r.std ** 2 / r.runs)) / positive.length,
      );
      const best = positive.reduce((a, b) => (b.mean > a.mean ? b : a));
      const pp = (v: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} pp`;
      claims.push({
        claim: `Fig. 3a: the orthogonality penalty (λ > 0) raises mean test accuracy over λ = 0 ` +
          `(${tag})`,
        measured:
          `λ=0: ${pct(zero.mean)} ± ${(100 * zero.std).toFixed(1)} pp (max ${pct(zero.max)}, ` +
          `${zero.runs} runs); ` +
          positive.map((r) =>
            `λ=${+r.lambda.toFixed(3)}: ${pct(r.mean)} ± ${(100 * r.std).toFixed(1)} pp`
          )
            .join("; ") +
          `; mean over λ>0 ${pct(meanPositive)} (${pp(meanPositive - zero.mean)}), best λ=` +
          `${+best.lambda.toFixed(3)} (${pp(best.mean - zero.mean)})` +
          `; standard error of the difference ${pp(gainError)}` +
          (meanPositive - zero.mean > gainError
            ? ""
            : " (held only if the gain exceeds it: within noise)"),
        // a gain counts only beyond one standard error of the difference of means
        held: meanPositive - zero.mean > gainError,
      });
      claims.push({
        claim: `Fig. 3b: with λ ≈ 1 the network overfits less than with λ = 0 (smaller ` +
          `train − test accuracy gap) (${tag})`,
        measured:
          `gap λ=0: ${(100 * zero.gap).toFixed(1)} pp (train ${pct(zero.trainMean)}, test ` +
          `${pct(zero.mean)}); gap λ=${+one.lambda.toFixed(3)}: ${(100 * one.gap).toFixed(1)} pp ` +
          `(train ${pct(one.trainMean)}, test ${pct(one.mean)})` +
          (zero.gap - one.gap > 0.01 ? "" : " (held only if ≥ 1 pp smaller)"),
        held: zero.gap - one.gap > 0.01,
      });
      claims.push({
        claim:
          `Eq. 13: training with the penalty makes the class rows of W^(L) orthogonal (${tag})`,
        measured: `Σ⟨W_c1,W_c2⟩² λ=0: ${num(zero.penalty)}, λ=${+one.lambda.toFixed(3)}: ` +
          `${num(one.penalty)}; mean |cos| ${num(zero.weightCosine)} → ${num(one.weightCosine)}`,
        held: one.penalty < zero.penalty,
      });
      claims.push({
        claim: `Sec. 6: orthogonal rows of W^(L) give orthogonal templates A[x]_c (${tag})`,
        measured: `mean |cos(A[x]_c1, A[x]_c2)| over ${templateImages} test images: λ=0 ` +
          `${num(zero.templateCosine)}, λ=${+one.lambda.toFixed(3)} ${num(one.templateCosine)} ` +
          `(held if at least halved; templates are W_c·J[x], so they are orthogonal only if ` +
          `J[x]J[x]ᵀ ∝ I)`,
        held: one.templateCosine < 0.5 * zero.templateCosine,
      });
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
