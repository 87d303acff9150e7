/**
 * The λ-sweep of the paper's Figure 3: architectures × datasets × λ grid ×
 * runs, each run trained with {@linkcode train} and appended as one JSON line
 * to a results file. Resumable (finished runs are skipped), shardable
 * (`shard i/n` runs every n-th run starting at i, so a batch scheduler can
 * spread the sweep over machines), and mergeable (read several JSONL files,
 * dedup by run key, summarise mean/std/max test accuracy per (arch, dataset, λ)).
 *
 * Models and datasets come by injection through a {@linkcode SweepRegistry}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { appendLine } from "../util/atomic_write.ts";
import {
  type EpochRecord,
  evaluateModel,
  train,
  type TrainData,
  type TrainOptions,
} from "./train.ts";

/** What a model builder receives. */
export interface SweepModelContext {
  /** Architecture name (the registry key). */
  arch: string;
  /** Dataset name. */
  dataset: string;
  /** Per-example input shape, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  /** Number of classes C. */
  classes: number;
  /** The run's seed: use it for weight initialization so runs are reproducible. */
  seed: number;
}

/** Model builders and dataset loaders by name. The penalty λ is applied by the sweep
 * (through `train`'s `orthogonality` option), so builders need not know it. */
export interface SweepRegistry {
  /** Architecture name → builder of a fresh model with C logits. */
  models: Record<string, (ctx: SweepModelContext) => tf.LayersModel | Promise<tf.LayersModel>>;
  /** Dataset name → loader (fresh tensors; the sweep disposes them when it moves on). */
  datasets: Record<string, () => TrainData | Promise<TrainData>>;
}

/** The sweep grid and training options. */
export interface SweepSpec {
  /** Architecture names (keys of `registry.models`). */
  architectures: string[];
  /** Dataset names (keys of `registry.datasets`). */
  datasets: string[];
  /** The λ grid (the paper's: `linspace(0, 2, 10)`). */
  lambdas: number[];
  /** Runs per (arch, dataset, λ) (the paper's: 15). */
  runs: number;
  /** Base seed; run r uses seed + r (the same for every λ: paired comparisons). Default 0. */
  seed?: number;
  /** Training options shared by all runs (epochs, batch size, learning rate, schedule, …). */
  train: Omit<TrainOptions, "orthogonality" | "seed" | "checkpointDir" | "signal" | "onEpochEnd">;
  /** Epochs averaged for the reported test accuracy, default 3 (the paper's). */
  lastEpochs?: number;
}

/** One run of the sweep. */
export interface SweepRun {
  /** Position in the full plan (shard assignment is `index % count`). */
  index: number;
  /** Unique key: arch, dataset, λ, run and seed. */
  key: string;
  /** Architecture name. */
  arch: string;
  /** Dataset name. */
  dataset: string;
  /** Penalty weight λ. */
  lambda: number;
  /** Run number in [0, runs). */
  run: number;
  /** Seed of this run. */
  seed: number;
}

/** One finished run, as stored on one line of the results file. */
export interface SweepResult extends SweepRun {
  /** Test accuracy averaged over the last `lastEpochs` epochs (the paper's statistic). */
  testAccuracy: number;
  /** Training accuracy averaged over the same epochs (in training mode, during each epoch). */
  trainAccuracy: number;
  /**
   * The final model's accuracy in inference mode (as the test accuracy is measured) on a fixed
   * training subset, the first `evalTrainImages` training images: with the last epoch's test
   * accuracy, the train − test gap of Figure 3b without the batch-norm lag of `trainAccuracy`.
   * Absent from results written before it existed.
   */
  evalTrainAccuracy?: number;
  /** Images of `evalTrainAccuracy`: min(test images, 2,000, training images). */
  evalTrainImages?: number;
  /** Number of epochs averaged. */
  lastEpochs: number;
  /** Per-epoch history. */
  history: EpochRecord[];
  /** Wall-clock seconds of the run. */
  seconds: number;
  /** ISO time the run finished. */
  finishedAt: string;
  /** The training settings of the run (see `runSweep`); absent from results written before
   * it existed. */
  settings?: Record<string, unknown>;
}

/** Summary of the runs of one (arch, dataset, λ). */
export interface SweepSummary {
  /** Architecture name. */
  arch: string;
  /** Dataset name. */
  dataset: string;
  /** Penalty weight λ. */
  lambda: number;
  /** Number of runs. */
  runs: number;
  /** Runs whose test accuracy is NaN (no finite statistic), left out of mean, std and max. */
  nonFinite: number;
  /** Mean over runs of the per-run test accuracy (NaN when no run has a finite one). */
  mean: number;
  /** Sample standard deviation over runs (n − 1 denominator; 0 for one run). */
  std: number;
  /** Maximum over runs. */
  max: number;
}

/** A shard: this process runs the runs whose plan index i has i % count === index. */
export interface Shard {
  /** 0-based shard index in [0, count). */
  index: number;
  /** Number of shards. */
  count: number;
}

/**
 * `n` evenly spaced numbers from `a` to `b` inclusive (NumPy's `linspace`).
 *
 * @param a First value.
 * @param b Last value.
 * @param n How many values (≥ 1; n = 1 gives `[a]`).
 * @returns The grid.
 * @example The paper's λ grid
 * ```ts
 * import { linspace } from "./sweep.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const grid = linspace(0, 2, 10);
 * equal(grid.length, 10);
 * deepEqual([grid[0], grid[9]], [0, 2]);
 * ```
 */
export function linspace(a: number, b: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot build a linspace: n is ${n}, expected an integer ≥ 1`);
  }
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    throw new RangeError(`Cannot build a linspace: bounds ${a}, ${b} are not finite`);
  }
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + ((b - a) * i) / (n - 1)));
}

/**
 * The run key: `arch|dataset|lambda=λ|run=r|seed=s`.
 *
 * @param run Architecture, dataset, λ, run number and seed.
 * @returns The key used to skip finished runs and to dedup merged results.
 * @example
 * ```ts
 * import { sweepKey } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * equal(sweepKey({ arch: "smallCNN", dataset: "cifar10", lambda: 0.5, run: 2, seed: 2 }),
 *   "smallCNN|cifar10|lambda=0.5|run=2|seed=2");
 * ```
 */
export function sweepKey(
  run: Pick<SweepRun, "arch" | "dataset" | "lambda" | "run" | "seed">,
): string {
  return `${run.arch}|${run.dataset}|lambda=${run.lambda}|run=${run.run}|seed=${run.seed}`;
}

/**
 * Lists every run of a sweep in a fixed order (dataset, architecture, λ, run),
 * so that every machine computes the same plan and shard assignment.
 *
 * @param spec The grid.
 * @param registry Where given, every architecture and dataset of the grid must be one of its
 *   builders and loaders (else a RangeError naming the ones it has).
 * @returns All runs, with `index` their position.
 * @example
 * ```ts
 * import { planSweep } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const plan = planSweep({
 *   architectures: ["a", "b"], datasets: ["d"], lambdas: [0, 1], runs: 3, train: { epochs: 1 },
 * });
 * equal(plan.length, 12);
 * equal(plan[11].index, 11);
 * ```
 */
export function planSweep(spec: SweepSpec, registry?: SweepRegistry): SweepRun[] {
  const names = (what: string, v: unknown) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string" && s)) {
      throw new RangeError(`Cannot plan the sweep: ${what} is ${JSON.stringify(v)}`);
    }
    return v as string[];
  };
  const archs = names("architectures", spec.architectures);
  const datasets = names("datasets", spec.datasets);
  const known = (what: string, v: string[], has: Record<string, unknown>) => {
    const missing = v.find((name) => typeof has[name] !== "function");
    if (missing !== undefined) {
      throw new RangeError(
        `Cannot plan the sweep: no ${what} '${missing}' (registry has: ${
          Object.keys(has).join(", ") || "none"
        })`,
      );
    }
  };
  if (registry !== undefined) {
    known("model builder", archs, registry.models);
    known("dataset loader", datasets, registry.datasets);
  }
  if (!Array.isArray(spec.lambdas) || spec.lambdas.length === 0) {
    throw new RangeError(`Cannot plan the sweep: lambdas is ${JSON.stringify(spec.lambdas)}`);
  }
  for (const l of spec.lambdas) {
    if (typeof l !== "number" || !(l >= 0) || !Number.isFinite(l)) {
      throw new RangeError(`Cannot plan the sweep: λ ${l} is not a finite number ≥ 0`);
    }
  }
  if (!Number.isInteger(spec.runs) || spec.runs < 1) {
    throw new RangeError(`Cannot plan the sweep: runs is ${spec.runs}, expected an integer ≥ 1`);
  }
  const base = spec.seed ?? 0;
  if (!Number.isSafeInteger(base)) {
    throw new RangeError(`Cannot plan the sweep: seed is ${base}, expected a safe integer`);
  }
  const plan: SweepRun[] = [];
  for (const dataset of datasets) {
    for (const arch of archs) {
      for (const lambda of spec.lambdas) {
        for (let run = 0; run < spec.runs; run++) {
          const seed = base + run;
          plan.push({
            index: plan.length,
            key: sweepKey({ arch, dataset, lambda, run, seed }),
            arch,
            dataset,
            lambda,
            run,
            seed,
          });
        }
      }
    }
  }
  return plan;
}

/**
 * Parses a shard `"i/n"` (0-based i).
 *
 * @param text The shard, e.g. `"3/16"`.
 * @returns `{ index, count }`.
 * @example
 * ```ts
 * import { parseShard } from "./sweep.ts";
 * import { deepEqual, throws } from "node:assert/strict";
 * deepEqual(parseShard("3/16"), { index: 3, count: 16 });
 * throws(() => parseShard("16/16"), RangeError);
 * ```
 */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(String(text));
  if (!m) throw new RangeError(`Cannot parse shard '${text}': expected 'i/n', e.g. '0/4'`);
  return checkShard({ index: Number(m[1]), count: Number(m[2]) });
}

function checkShard(shard: Shard): Shard {
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0) {
    throw new RangeError(`Invalid shard ${index}/${count}: expected integers, count ≥ 1`);
  }
  if (index >= count) {
    throw new RangeError(`Invalid shard ${index}/${count}: index must be in [0, ${count})`);
  }
  return { index, count };
}

/**
 * The runs of one shard: those whose plan index i satisfies i % count === index.
 *
 * @param plan The full plan from {@linkcode planSweep}.
 * @param shard The shard.
 * @returns The shard's runs, in plan order.
 * @example Shards partition the plan
 * ```ts
 * import { planSweep, shardRuns } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const plan = planSweep({
 *   architectures: ["a"], datasets: ["d"], lambdas: [0, 1, 2], runs: 3, train: { epochs: 1 },
 * });
 * const sizes = [0, 1, 2, 3].map((i) => shardRuns(plan, { index: i, count: 4 }).length);
 * equal(sizes.reduce((a, b) => a + b), plan.length);
 * ```
 */
export function shardRuns(plan: SweepRun[], shard: Shard): SweepRun[] {
  const { index, count } = checkShard(shard);
  return plan.filter((r) => r.index % count === index);
}

/**
 * Part `part` of `parts` of a shard (the whole plan where `shard` is undefined): the runs
 * whose index is `shard.index + shard.count·part` modulo `shard.count·parts`, so that the parts
 * partition the shard (a shard's runs spread over workers on one machine).
 *
 * @param shard The shard, or undefined for the whole plan.
 * @param part The part, in [0, parts).
 * @param parts How many parts.
 * @returns The part, as a shard of the whole plan.
 * @example
 * ```ts
 * import { planSweep, shardRuns, subShard } from "./sweep.ts";
 * import { deepEqual } from "node:assert/strict";
 * const plan = planSweep({
 *   architectures: ["a"], datasets: ["d"], lambdas: [0, 1, 2], runs: 3, train: { epochs: 1 },
 * });
 * const shard = { index: 1, count: 2 };
 * const parts = [0, 1, 2].flatMap((w) => shardRuns(plan, subShard(shard, w, 3)));
 * deepEqual(parts.map((r) => r.index).sort((a, b) => a - b), shardRuns(plan, shard).map((r) => r.index));
 * ```
 */
export function subShard(shard: Shard | undefined, part: number, parts: number): Shard {
  const { index, count } = shard ?? { index: 0, count: 1 };
  return checkShard({ index: index + count * part, count: count * parts });
}

/**
 * The paper's per-run statistic: a metric averaged over the last `n` epochs.
 *
 * @param history Per-epoch records.
 * @param options `metric` (default `"testAccuracy"`), `n` (default 3; fewer epochs → all).
 * @returns The mean, NaN for an empty history or a missing metric.
 * @example
 * ```ts
 * import { lastEpochsMean } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const h = [0.1, 0.5, 0.6, 0.7].map((a, i) => ({ epoch: i + 1, testAccuracy: a }));
 * equal(lastEpochsMean(h), (0.5 + 0.6 + 0.7) / 3);
 * ```
 */
export function lastEpochsMean(
  history: Partial<EpochRecord>[],
  options: { metric?: "testAccuracy" | "trainAccuracy" | "testLoss" | "trainLoss"; n?: number } =
    {},
): number {
  const metric = options.metric ?? "testAccuracy";
  const n = options.n ?? 3;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot average the last epochs: n is ${n}, expected an integer ≥ 1`);
  }
  const tail = history.slice(-n);
  if (tail.length === 0) return NaN;
  let s = 0;
  for (const r of tail) {
    const v = r[metric];
    if (typeof v !== "number") return NaN;
    s += v;
  }
  return s / tail.length;
}

/**
 * Reads a results file's complete lines. A missing file is an error naming it, unless
 * `missingOk` (the sweep's own output before its first run). An accuracy stored as `null`
 * (JSON's spelling of NaN: a run without a finite accuracy) reads back as NaN.
 */
async function readLines(
  path: string,
  missingOk: boolean,
): Promise<{ results: SweepResult[]; bad: number }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    if (missingOk) return { results: [], bad: 0 };
    throw new Deno.errors.NotFound(`Cannot read sweep results ${path}: no such file`);
  }
  const results: SweepResult[] = [];
  let bad = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as SweepResult;
      for (const k of ["testAccuracy", "trainAccuracy"] as const) {
        if (r?.[k] === null) r[k] = NaN;
      }
      if (typeof r?.key === "string" && typeof r.testAccuracy === "number") results.push(r);
      else bad++;
    } catch {
      bad++; // a torn line from a killed writer
    }
  }
  return { results, bad };
}

/**
 * Reads results from JSONL files and dedups them by run key (first occurrence
 * wins). Torn or malformed lines (a writer killed mid-line) are skipped and
 * counted. A NaN accuracy (stored as `null`) reads back as NaN.
 *
 * @param paths Results files; a missing one throws `Deno.errors.NotFound` naming it.
 * @param options `allowMissing`: read a missing file as empty instead (a sweep's own output
 *   file before its first finished run).
 * @returns The unique results and the number of skipped lines and duplicates.
 * @throws {RangeError} When two results record different training settings (runs of two
 *   setups, which a summary would average together).
 * @example
 * ```ts
 * import { readSweepResults } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const f = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const line = JSON.stringify({ key: "k", testAccuracy: 0.5 });
 * await Deno.writeTextFile(f, `${line}\n${line}\n{"key": "torn`);
 * const { results, skipped, duplicates } = await readSweepResults([f]);
 * equal(results.length, 1);
 * equal(skipped, 1);
 * equal(duplicates, 1);
 * await Deno.remove(f);
 * ```
 */
export async function readSweepResults(
  paths: string[],
  options: { allowMissing?: boolean } = {},
): Promise<{ results: SweepResult[]; skipped: number; duplicates: number }> {
  const seen = new Map<string, SweepResult>();
  let skipped = 0, duplicates = 0;
  // the first recorded settings and their file: a summary of two setups' runs would average
  // them together
  let first: { settings: Record<string, unknown>; path: string } | undefined;
  for (const p of paths) {
    const { results, bad } = await readLines(p, options.allowMissing ?? false);
    skipped += bad;
    for (const r of results) {
      if (r.settings !== undefined) {
        if (first === undefined) first = { settings: r.settings, path: p };
        const keys = new Set([...Object.keys(first.settings), ...Object.keys(r.settings)]);
        const differ = [...keys].find((k) =>
          sortedJson(first!.settings[k]) !== sortedJson(r.settings![k])
        );
        if (differ !== undefined) {
          throw new RangeError(
            `Cannot merge sweep results: ${p} holds run ${r.key} trained with ${differ} ` +
              `${JSON.stringify(r.settings[differ])}, but ${first.path} holds runs trained with ` +
              `${JSON.stringify(first.settings[differ])}; merge the results of one setup at a time`,
          );
        }
      }
      if (seen.has(r.key)) duplicates++;
      else seen.set(r.key, r);
    }
  }
  return { results: [...seen.values()], skipped, duplicates };
}

/**
 * Summarises results per (arch, dataset, λ): mean, sample standard deviation
 * and maximum over runs of the per-run test accuracy (each run's accuracy is
 * already averaged over its last epochs), sorted by arch, dataset, λ. Runs with a
 * NaN accuracy are counted in `runs` and `nonFinite` but left out of the statistics.
 *
 * @param results Unique results (see {@linkcode readSweepResults}).
 * @returns One row per (arch, dataset, λ).
 * @example
 * ```ts
 * import { summarizeSweep } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const r = (run: number, testAccuracy: number) => ({ arch: "a", dataset: "d", lambda: 0, run, testAccuracy });
 * const [row] = summarizeSweep([r(0, 0.5), r(1, 0.7)]);
 * equal(row.mean, 0.6);
 * equal(row.max, 0.7);
 * equal(Math.abs(row.std - Math.SQRT2 * 0.1) < 1e-12, true);
 * ```
 */
export function summarizeSweep(
  results: Pick<SweepResult, "arch" | "dataset" | "lambda" | "testAccuracy">[],
): SweepSummary[] {
  const groups = new Map<string, { arch: string; dataset: string; lambda: number; v: number[] }>();
  for (const r of results) {
    const k = JSON.stringify([r.arch, r.dataset, r.lambda]);
    let g = groups.get(k);
    if (!g) groups.set(k, g = { arch: r.arch, dataset: r.dataset, lambda: r.lambda, v: [] });
    g.v.push(r.testAccuracy);
  }
  const rows: SweepSummary[] = [];
  for (const g of groups.values()) {
    const v = g.v.filter(Number.isFinite);
    const n = v.length;
    const mean = n > 0 ? v.reduce((a, b) => a + b, 0) / n : NaN;
    const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
    rows.push({
      arch: g.arch,
      dataset: g.dataset,
      lambda: g.lambda,
      runs: g.v.length,
      nonFinite: g.v.length - n,
      mean,
      std: n > 1 ? Math.sqrt(ss / (n - 1)) : n === 1 ? 0 : NaN,
      max: n > 0 ? Math.max(...v) : NaN,
    });
  }
  return rows.sort((a, b) =>
    a.arch.localeCompare(b.arch) || a.dataset.localeCompare(b.dataset) || a.lambda - b.lambda
  );
}

/**
 * What decides a run's result besides its key: the training options with their defaults
 * filled in (progress display, evaluation batch and checkpoint cadence left out), and the
 * number of last epochs averaged.
 */
function runSettings(spec: SweepSpec): Record<string, unknown> {
  const t = spec.train;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize ?? 50,
    learningRate: t.learningRate ?? 1e-3,
    schedule: typeof t.schedule === "function" ? "function" : t.schedule ?? { kind: "constant" },
    beta1: t.beta1 ?? 0.9,
    beta2: t.beta2 ?? 0.999,
    epsilon: t.epsilon ?? 1e-8,
    sampling: t.sampling ?? "balanced",
    stepsPerEpoch: t.stepsPerEpoch ?? null,
    penaltyLayer: t.penaltyLayer ?? null,
    fromLogits: t.fromLogits ?? true,
    lastEpochs: spec.lastEpochs ?? 3,
  };
}

/** JSON with object keys sorted (`{kind, factor, epochs}` equals `{kind, epochs, factor}`). */
function sortedJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** Options of {@linkcode runSweep}. */
export interface RunSweepOptions {
  /** Model builders and dataset loaders. */
  registry: SweepRegistry;
  /** Results file (JSONL); one line is appended per finished run. Use one file per shard. */
  out: string;
  /** Run only this shard (default: all runs). */
  shard?: Shard;
  /** Directory for per-run checkpoints, so a killed run resumes mid-run (deleted when done). */
  checkpointRoot?: string;
  /** Stops after the current step (the unfinished run is not recorded). */
  signal?: AbortSignal;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

/** The final model's inference-mode accuracy on the first min(test, 2,000) training images. */
async function trainSubsetAccuracy(
  model: tf.LayersModel,
  data: TrainData,
  options: TrainOptions,
): Promise<{ accuracy: number; images: number }> {
  const images = Math.min(data.test?.x.shape[0] ?? 0, 2000, data.train.x.shape[0]);
  const subset = {
    x: tf.slice(data.train.x, 0, images),
    y: tf.slice(data.train.y, 0, images) as tf.Tensor1D,
  };
  try {
    const { accuracy } = await evaluateModel(
      model,
      subset,
      data.classes,
      options.evalBatchSize ?? 500,
      options.fromLogits ?? true,
    );
    return { accuracy, images };
  } finally {
    tf.dispose([subset.x, subset.y]);
  }
}

/**
 * Runs the sweep's runs (or one shard of them) that `out` does not already
 * hold, appending one JSON line per finished run (a single append of a
 * complete line). Re-running after a kill skips the finished runs (those with a
 * NaN accuracy too); with `checkpointRoot` the interrupted run resumes from its
 * last epoch. Every dataset needs a test split (a run's result is its test accuracy).
 *
 * @param spec The grid and training options.
 * @param options Registry, output file, shard, checkpoints.
 * @returns How many runs ran, how many were already done, and the new results.
 * @example A two-run sweep on a toy problem
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { runSweep } from "./sweep.ts";
 * import { equal } from "node:assert/strict";
 * const x = tf.tensor2d([[1, 0], [2, 0], [0, 1], [0, 2]]);
 * const y = tf.tensor1d([0, 0, 1, 1], "int32");
 * const registry = {
 *   models: { linear: ({ inputShape, classes }: { inputShape: number[]; classes: number }) =>
 *     tf.sequential({ layers: [tf.layers.dense({ units: classes, inputShape })] }) },
 *   datasets: { toy: () => ({ train: { x, y }, test: { x, y }, classes: 2 }) },
 * };
 * const out = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const spec = {
 *   architectures: ["linear"], datasets: ["toy"], lambdas: [0, 1], runs: 1,
 *   train: { epochs: 1, batchSize: 2, silent: true },
 * };
 * equal((await runSweep(spec, { registry, out })).ran, 2);
 * equal((await runSweep(spec, { registry, out })).skipped, 2);
 * await Deno.remove(out);
 * ```
 */
export async function runSweep(
  spec: SweepSpec,
  options: RunSweepOptions,
): Promise<{ ran: number; skipped: number; stopped: boolean; results: SweepResult[] }> {
  const { registry, out } = options;
  const log = options.log ?? (() => {});
  const lastEpochs = spec.lastEpochs ?? 3;
  const plan = planSweep(spec, registry);
  const mine = options.shard ? shardRuns(plan, options.shard) : plan;
  const slash = out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(out.slice(0, slash), { recursive: true });
  const settings = runSettings(spec);
  const previous = (await readLines(out, true)).results;
  // a finished run is skipped, so one trained with other settings would be mixed in silently
  const planned = new Set(mine.map((r) => r.key));
  for (const r of previous) {
    if (!planned.has(r.key) || r.settings === undefined) continue;
    const differ = Object.keys(settings).find((k) =>
      sortedJson(r.settings![k]) !== sortedJson(settings[k])
    );
    if (differ !== undefined) {
      throw new RangeError(
        `Cannot run the sweep: ${out} holds run ${r.key} trained with ${differ} ` +
          `${JSON.stringify(r.settings[differ])}, this sweep has ${
            JSON.stringify(settings[differ])
          }; write to another results file`,
      );
    }
  }
  const done = new Set(previous.map((r) => r.key));
  const todo = mine.filter((r) => !done.has(r.key));
  log(`sweep: ${mine.length} runs in this shard, ${mine.length - todo.length} already done`);
  const results: SweepResult[] = [];
  const cache: { name: string | null; data: TrainData | null } = { name: null, data: null };
  const release = () => {
    const d = cache.data;
    if (d) { for (const t of [d.train.x, d.train.y, d.test?.x, d.test?.y]) t?.dispose(); }
    cache.name = null;
    cache.data = null;
  };
  let stopped = false;
  try {
    for (const run of todo) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      if (cache.name !== run.dataset || !cache.data) {
        release();
        cache.data = await registry.datasets[run.dataset]();
        cache.name = run.dataset;
        if (!cache.data?.test) {
          throw new RangeError(
            `Cannot run the sweep: dataset '${run.dataset}' has no test split, and each run's ` +
              `result is its test accuracy`,
          );
        }
      }
      const data = cache.data;
      const t0 = performance.now();
      const model = await registry.models[run.arch]({
        arch: run.arch,
        dataset: run.dataset,
        inputShape: data.train.x.shape.slice(1) as number[],
        classes: data.classes,
        seed: run.seed,
      });
      const ckptDir = options.checkpointRoot
        ? `${options.checkpointRoot}/${run.key.replace(/[^A-Za-z0-9._=-]+/g, "_")}`
        : undefined;
      log(`sweep: run ${run.index} ${run.key}`);
      let res, evalTrain: { accuracy: number; images: number } | undefined;
      try {
        res = await train(model, data, {
          ...spec.train,
          orthogonality: run.lambda,
          seed: run.seed,
          checkpointDir: ckptDir,
          signal: options.signal,
        });
        if (!res.stopped) evalTrain = await trainSubsetAccuracy(model, data, spec.train);
      } finally {
        model.dispose();
      }
      if (res.stopped) {
        stopped = true;
        break;
      }
      const result: SweepResult = {
        ...run,
        testAccuracy: lastEpochsMean(res.history, { n: lastEpochs }),
        trainAccuracy: lastEpochsMean(res.history, { n: lastEpochs, metric: "trainAccuracy" }),
        evalTrainAccuracy: evalTrain?.accuracy,
        evalTrainImages: evalTrain?.images,
        lastEpochs,
        history: res.history,
        seconds: (performance.now() - t0) / 1000,
        finishedAt: new Date().toISOString(),
        settings,
      };
      await appendLine(out, JSON.stringify(result));
      if (ckptDir) await Deno.remove(ckptDir, { recursive: true }).catch(() => {});
      results.push(result);
      log(`sweep: run ${run.index} test accuracy ${result.testAccuracy.toFixed(4)}`);
    }
  } finally {
    release();
  }
  return { ran: results.length, skipped: mine.length - todo.length, stopped, results };
}
