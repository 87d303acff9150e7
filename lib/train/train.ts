/**
 * The training loop of the paper's orthogonality experiments (Section 6):
 * Adam, a per-epoch learning-rate schedule, class-balanced batches, seeded and
 * reproducible, per-epoch history, progress bar, and resumable checkpoints.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ProgressBar, type ProgressMode } from "../util/progress.ts";
import { classBalancedBatches, Rng, shuffledBatches } from "../util/rng.ts";
import { CheckpointError, restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { withoutInputGradients } from "./input_gradient.ts";
import { withWinogradConvs } from "./wasm_kernels.ts";
import { orthogonalityPenalty } from "./orthogonality.ts";
import { softmaxCrossEntropy } from "./_softmax_cross_entropy.ts";
import { checkOptionKeys } from "../util/options.ts";
import { hasNonFiniteAsync } from "../network/batch.ts";

/** One split of a dataset: images `[N, H, W, C]` (or features `[N, D]`) and integer labels `[N]`. */
export interface TrainSplit {
  /** Inputs, float32, first axis the example (NHWC for images). */
  x: tf.Tensor;
  /** Labels in [0, classes), int32. */
  y: tf.Tensor1D;
}

/** A dataset as `loadDataset` returns it. */
export interface TrainData {
  /** The training split. */
  train: TrainSplit;
  /** The test split (evaluated after every epoch), optional. */
  test?: TrainSplit;
  /** Number of classes C. */
  classes: number;
  /** Class names (unused by training). */
  labels?: readonly string[];
}

/**
 * The learning rate as a function of the (0-based) epoch: constant; exponential
 * decay `lr · rate^epoch`; the authors' code's step schedule `lr · factor^k`
 * with k the number of `epochs` boundaries ≤ epoch (their code: boundaries
 * 60/120/160, factor 1/5); or any function of the epoch.
 */
export type LearningRateSchedule =
  | { kind: "constant" }
  | { kind: "exponential"; rate: number }
  | { kind: "step"; epochs: number[]; factor: number }
  | ((epoch: number, baseLearningRate: number) => number);

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** Total number of epochs to reach (a resumed run continues up to it). */
  epochs: number;
  /** Batch size, default 50 (the paper's); with balanced sampling a multiple of C. */
  batchSize?: number;
  /** Initial Adam learning rate, default 1e-3. */
  learningRate?: number;
  /** Learning-rate schedule over epochs, default constant. */
  schedule?: LearningRateSchedule;
  /** Adam β1, default 0.9. */
  beta1?: number;
  /** Adam β2, default 0.999. */
  beta2?: number;
  /** Adam ε, default 1e-8. */
  epsilon?: number;
  /** Seed of the batch sampler, default 0. Same seed, same initial weights, same backend →
   * identical weights after training. */
  seed?: number;
  /** `"balanced"` (default): batch/C examples of every class per step (the paper's);
   * `"shuffle"`: plain random permutation. */
  sampling?: "balanced" | "shuffle";
  /** Steps per epoch, default ⌊N / batchSize⌋. */
  stepsPerEpoch?: number;
  /** Adds λ · Σ_{c1≠c2} ⟨W_c1, W_c2⟩² (eq. 13) on the final Dense kernel to the loss, without
   * a regularizer in the model. Default 0. Do not combine with an `orthogonalTemplates`
   * regularizer on the same layer (that would count it twice). */
  orthogonality?: number;
  /** Name of the layer `orthogonality` applies to, default the last Dense layer. */
  penaltyLayer?: string;
  /** Whether the model outputs logits (default true: softmax inside the loss, as the paper's
   * final layer is linear); false for probabilities. */
  fromLogits?: boolean;
  /** Batch size for evaluation, default 500. */
  evalBatchSize?: number;
  /** Directory for checkpoints; when set, training resumes from its latest checkpoint. */
  checkpointDir?: string;
  /** Save a checkpoint every this many epochs (and after the last), default 1. */
  checkpointEvery?: number;
  /** Progress display; default `"auto"` (Jupyter in the kernel, else the terminal). */
  progress?: ProgressMode;
  /** Shorthand for `progress: "silent"`. */
  silent?: boolean;
  /** Stops training at the next step when aborted (the partial epoch is not recorded). */
  signal?: AbortSignal;
  /** Called after each epoch (after its checkpoint is saved). */
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
}

/** Metrics of one epoch. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** The learning rate used during the epoch. */
  learningRate: number;
  /** Mean training objective over the epoch's batches: cross-entropy + regularization. */
  trainLoss: number;
  /** Mean regularization term over the epoch's batches (model losses + `orthogonality`). */
  trainPenalty: number;
  /** Fraction of training examples classified correctly, over the epoch's batches
   * (training mode, weights changing during the epoch). */
  trainAccuracy: number;
  /** Mean test cross-entropy (inference mode), `null` without a test split. */
  testLoss: number | null;
  /** Test accuracy (inference mode), `null` without a test split. */
  testAccuracy: number | null;
  /** Wall-clock seconds of the epoch, including evaluation, excluding checkpointing. */
  seconds: number;
}

/** Result of {@linkcode train}. */
export interface TrainResult {
  /** All epochs so far, including those of earlier (resumed) runs. */
  history: EpochRecord[];
  /** Epochs already done when this call started (0 for a fresh run). */
  resumedFrom: number;
  /** True when `signal` stopped training early. */
  stopped: boolean;
}

/** Training state stored in checkpoints. */
interface SavedState {
  epoch: number;
  history: EpochRecord[];
  rng: number[];
  fingerprint: Record<string, unknown>;
}

function learningRateAt(
  schedule: LearningRateSchedule,
  base: number,
  epoch: number,
): number {
  let lr: number;
  if (typeof schedule === "function") lr = schedule(epoch, base);
  else if (schedule.kind === "constant") lr = base;
  else if (schedule.kind === "exponential") lr = base * Math.pow(schedule.rate, epoch);
  else lr = base * Math.pow(schedule.factor, schedule.epochs.filter((e) => e <= epoch).length);
  if (!(lr >= 0) || !Number.isFinite(lr)) {
    throw new RangeError(`Cannot train: the schedule gives learning rate ${lr} at epoch ${epoch}`);
  }
  return lr;
}

function checkSchedule(schedule: LearningRateSchedule): void {
  if (typeof schedule === "function") return;
  if (schedule.kind === "exponential") {
    if (!(schedule.rate > 0) || !Number.isFinite(schedule.rate)) {
      throw new RangeError(
        `Cannot train: exponential schedule rate is ${schedule.rate}, expected > 0`,
      );
    }
  } else if (schedule.kind === "step") {
    if (!(schedule.factor > 0) || !Number.isFinite(schedule.factor)) {
      throw new RangeError(
        `Cannot train: step schedule factor is ${schedule.factor}, expected > 0`,
      );
    }
    if (!Array.isArray(schedule.epochs) || !schedule.epochs.every(Number.isInteger)) {
      throw new RangeError(
        `Cannot train: step schedule epochs ${JSON.stringify(schedule.epochs)} are not integers`,
      );
    }
  } else if (schedule.kind !== "constant") {
    throw new RangeError(`Cannot train: unknown schedule ${JSON.stringify(schedule)}`);
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`Cannot train: ${name} is ${v}, expected an integer ≥ 1`);
  }
  return v;
}

function positiveNumber(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot train: ${name} is ${v}, expected a finite number > 0`);
  }
  return v;
}

/** Checks a split's shapes and reads its labels, each in [0, classes); errors start with
 * `what` and call the split `name` (e.g. `data.train`). */
async function readLabels(
  split: TrainSplit,
  classes: number,
  name: string,
  what: string,
): Promise<Int32Array> {
  if (!(split?.x instanceof tf.Tensor) || !(split?.y instanceof tf.Tensor)) {
    throw new TypeError(`${what}: ${name} must be { x: Tensor, y: Tensor1D }`);
  }
  if (split.y.rank !== 1) {
    throw new RangeError(`${what}: ${name}.y has shape [${split.y.shape}], expected [N] labels`);
  }
  if (split.x.shape[0] !== split.y.shape[0]) {
    throw new RangeError(
      `${what}: ${name}.x has ${split.x.shape[0]} examples, y has ${split.y.shape[0]}`,
    );
  }
  const raw = await split.y.data();
  const labels = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as number;
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new RangeError(
        `${what}: ${name}.y[${i}] is ${c}, expected an integer in [0, ${classes})`,
      );
    }
    labels[i] = c;
  }
  return labels;
}

/**
 * Throws a RangeError naming the first non-finite value of `data.<which>.x`, if any. Reads
 * asynchronously: tfjs-webgpu cannot read synchronously in Deno.
 */
async function checkFinite(x: tf.Tensor, which: string): Promise<void> {
  if (!await hasNonFiniteAsync(x)) return;
  const values = await x.data();
  const i = values.findIndex((v) => !Number.isFinite(v));
  const d = x.size / x.shape[0];
  throw new RangeError(
    `Cannot train: data.${which}.x value ${values[i]} at example ${Math.floor(i / d)}, index ${
      i % d
    } is not finite`,
  );
}

/**
 * Throws a RangeError when the examples of `data.<which>.x` do not have the shape of the
 * model's (single) input, before any training: a bad test split would otherwise fail only
 * after the first epoch, in its evaluation.
 */
function checkInputShape(model: tf.LayersModel, x: tf.Tensor, which: string): void {
  if (model.inputs.length !== 1) return;
  const expected = model.inputs[0].shape.slice(1);
  const got = x.shape.slice(1);
  if (got.length !== expected.length || expected.some((d, i) => d !== null && d !== got[i])) {
    throw new RangeError(
      `Cannot train: data.${which}.x has shape [${x.shape}], the model takes examples of shape ` +
        `[${expected.map((d) => d ?? "any")}]`,
    );
  }
}

/** Finds the kernel variable the `orthogonality` option penalizes. */
function penaltyKernel(model: tf.LayersModel, name?: string): tf.LayerVariable {
  const dense: tf.layers.Layer[] = [];
  const visit = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      if (l instanceof tf.LayersModel) visit(l.layers);
      else if (l.getClassName() === "Dense") dense.push(l);
    }
  };
  visit(model.layers);
  const layer = name === undefined ? dense.at(-1) : dense.find((l) => l.name === name);
  if (!layer) {
    throw new RangeError(
      `Cannot apply the orthogonality penalty: ${
        name === undefined ? "the model has no Dense layer" : `no Dense layer is named '${name}'`
      } (Dense layers: ${dense.map((l) => `'${l.name}'`).join(", ") || "none"})`,
    );
  }
  const kernel = layer.weights.find((w) => w.shape.length === 2);
  if (!kernel) {
    throw new RangeError(
      `Cannot apply the orthogonality penalty: layer '${layer.name}' is unbuilt`,
    );
  }
  return kernel;
}

function crossEntropy(
  labels: tf.Tensor1D,
  outputs: tf.Tensor,
  classes: number,
  fromLogits: boolean,
): tf.Tensor1D {
  if (fromLogits) return softmaxCrossEntropy(labels, outputs, classes);
  const p = tf.sum(tf.mul(tf.oneHot(labels, classes), outputs), -1);
  return tf.neg(tf.log(tf.clipByValue(p, 1e-7, 1))) as tf.Tensor1D;
}

/**
 * Mean cross-entropy and accuracy of `model` on a split, in inference mode (batch-norm on its
 * moving statistics), as `train` evaluates the test split after each epoch.
 *
 * @param model The model.
 * @param split The images and labels.
 * @param classes C.
 * @param batchSize Images per forward pass.
 * @param fromLogits Whether the model outputs logits (else probabilities).
 * @returns Loss and accuracy (NaN for an empty split).
 */
export async function evaluateModel(
  model: tf.LayersModel,
  split: TrainSplit,
  classes: number,
  batchSize: number,
  fromLogits: boolean,
): Promise<{ loss: number; accuracy: number }> {
  // batch size 0 looped forever; a label ≥ C has an all-zero one-hot row: loss 0, silently
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Cannot evaluate: batchSize is ${batchSize}, expected an integer ≥ 1`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`Cannot evaluate: classes is ${classes}, expected an integer ≥ 1`);
  }
  const labels = await readLabels(split, classes, "split", "Cannot evaluate");
  const n = labels.length;
  if (n === 0) return { loss: NaN, accuracy: NaN };
  let sums = tf.zeros([2]);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const next = tf.tidy(() => {
      const xb = tf.slice(split.x, start, size);
      const yb = tf.cast(tf.slice(split.y, start, size), "int32") as tf.Tensor1D;
      // an accuracy does not depend on how exact ties are decided: Winograd may run the convs
      const out = withWinogradConvs(() => model.apply(xb, { training: false })) as tf.Tensor;
      const ce = tf.sum(crossEntropy(yb, out, classes, fromLogits));
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), yb), "float32"));
      return tf.add(sums, tf.stack([ce, correct]));
    });
    sums.dispose();
    sums = next;
  }
  const [ce, correct] = await sums.data();
  sums.dispose();
  return { loss: ce / n, accuracy: correct / n };
}

/**
 * Throws a {@linkcode CheckpointError} naming `path` (the checkpoint's state.json) unless
 * `state` has the fields `train` saves: a damaged file would otherwise train from epoch "1"
 * or crash on a null history.
 */
function checkSavedState(state: unknown, path: string): void {
  const s = state as Partial<SavedState> | null;
  let problem: string | undefined;
  if (typeof s !== "object" || s === null || Array.isArray(s)) problem = "is not an object";
  else if (!Number.isInteger(s.epoch) || (s.epoch as number) < 0) {
    problem = `has epoch ${JSON.stringify(s.epoch)}, expected an integer ≥ 0`;
  } else if (!Array.isArray(s.history) || s.history.length !== s.epoch) {
    problem = `has a history of ${
      Array.isArray(s.history) ? `${s.history.length} epochs` : JSON.stringify(s.history)
    }, expected ${s.epoch} epochs`;
  } else if (typeof s.fingerprint !== "object" || s.fingerprint === null) {
    problem = `has fingerprint ${JSON.stringify(s.fingerprint)}, expected an object`;
  } else {
    try {
      Rng.fromState(s.rng as number[]);
    } catch (e) {
      problem = `has a bad sampler state (${(e as Error).message})`;
    }
  }
  if (problem !== undefined) {
    throw new CheckpointError(
      `Cannot resume: the training state ${path} ${problem}; the checkpoint is damaged`,
      path,
    );
  }
}

/** Fingerprint keys that older checkpoints lack. */
const ADDED_FINGERPRINT_KEYS = ["penaltyWeightIndex", "fromLogits"];

const TRAIN_OPTION_KEYS: Readonly<Record<keyof TrainOptions, true>> = {
  epochs: true,
  batchSize: true,
  learningRate: true,
  schedule: true,
  beta1: true,
  beta2: true,
  epsilon: true,
  seed: true,
  sampling: true,
  stepsPerEpoch: true,
  orthogonality: true,
  penaltyLayer: true,
  fromLogits: true,
  evalBatchSize: true,
  checkpointDir: true,
  checkpointEvery: true,
  progress: true,
  silent: true,
  signal: true,
  onEpochEnd: true,
};

/**
 * Trains a tfjs model with Adam (β1 0.9, β2 0.999, ε 1e-8) on softmax
 * cross-entropy plus the model's regularization losses (every
 * `kernelRegularizer`, e.g. {@linkcode orthogonalTemplates}) plus, optionally,
 * λ · eq. (13) on the final Dense kernel. Batches are class balanced by
 * default (batch/C examples of every class each step); the learning rate
 * follows `schedule` per epoch. Runs are reproducible: the seed fixes the batch
 * order, so the same initial weights, seed and backend give the same weights.
 * With `checkpointDir`, a checkpoint (weights, Adam state, epoch, history, RNG
 * state) is saved after each epoch and a later call resumes from it: a run
 * killed after epoch k and resumed ends with exactly the weights of an
 * uninterrupted run.
 *
 * @param model A tfjs model mapping `data.train.x` to C logits (trained in place).
 * @param data `{ train: { x, y }, test?: { x, y }, classes }`, labels int32 in [0, C).
 * @param options Epochs, batch size, learning rate and schedule, seed, checkpoints, progress.
 * @returns The per-epoch history, where it resumed from, and whether it was stopped.
 * @example Learn two separable classes
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { train } from "./train.ts";
 * import { ok } from "node:assert/strict";
 * const x = tf.tensor2d([[2, 0], [3, 1], [2, 1], [-2, 0], [-3, -1], [-2, -1]]);
 * const y = tf.tensor1d([0, 0, 0, 1, 1, 1], "int32");
 * const model = tf.sequential({
 *   layers: [tf.layers.dense({ units: 2, inputShape: [2], kernelInitializer: "zeros" })],
 * });
 * const { history } = await train(model, { train: { x, y }, test: { x, y }, classes: 2 }, {
 *   epochs: 20, batchSize: 2, learningRate: 0.1, silent: true,
 * });
 * ok(history.at(-1)!.testAccuracy === 1);
 * ```
 */
export async function train(
  model: tf.LayersModel,
  data: TrainData,
  options: TrainOptions,
): Promise<TrainResult> {
  if (!(model instanceof tf.LayersModel)) {
    throw new TypeError(`Cannot train: model is not a tf.LayersModel`);
  }
  checkOptionKeys(options, TRAIN_OPTION_KEYS, "Cannot train");
  const classes = positiveInt("data.classes", data?.classes);
  const fromLogits = options?.fromLogits ?? true;
  const outputs = model.outputs[0]?.shape.at(-1);
  if (outputs !== classes) {
    throw new RangeError(
      `Cannot train: model outputs ${outputs} ${
        fromLogits ? "logits" : "probabilities"
      }, data.classes is ${classes}`,
    );
  }
  const epochs = Number.isInteger(options?.epochs) && options.epochs >= 0
    ? options.epochs
    : (() => {
      throw new RangeError(`Cannot train: epochs is ${options?.epochs}, expected an integer ≥ 0`);
    })();
  const batchSize = positiveInt("batchSize", options.batchSize ?? 50);
  const baseLr = options.learningRate ?? 1e-3;
  if (!(baseLr >= 0) || !Number.isFinite(baseLr)) {
    throw new RangeError(`Cannot train: learningRate is ${baseLr}, expected a finite number ≥ 0`);
  }
  const schedule = options.schedule ?? { kind: "constant" };
  checkSchedule(schedule);
  const beta1 = options.beta1 ?? 0.9, beta2 = options.beta2 ?? 0.999;
  const epsilon = positiveNumber("epsilon", options.epsilon ?? 1e-8);
  for (const [name, b] of [["beta1", beta1], ["beta2", beta2]] as const) {
    if (!(b >= 0 && b < 1)) throw new RangeError(`Cannot train: ${name} is ${b}, expected [0, 1)`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`Cannot train: seed is ${seed}, expected a safe integer`);
  }
  const sampling = options.sampling ?? "balanced";
  if (sampling !== "balanced" && sampling !== "shuffle") {
    throw new RangeError(`Cannot train: sampling is '${sampling}', expected 'balanced'|'shuffle'`);
  }
  if (sampling === "balanced" && batchSize % classes !== 0) {
    throw new RangeError(
      `Cannot train: batchSize ${batchSize} is not a multiple of the ${classes} classes ` +
        `(class-balanced batches hold batch/C examples of every class)`,
    );
  }
  const lambda = options.orthogonality ?? 0;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) {
    throw new RangeError(
      `Cannot train: orthogonality λ is ${lambda}, expected a finite number ≥ 0`,
    );
  }
  const dir = options.checkpointDir;
  if (dir !== undefined && (typeof dir !== "string" || dir === "")) {
    // "" (e.g. an unset variable) silently trained without any checkpoint
    throw new TypeError(
      `Cannot train: checkpointDir is ${JSON.stringify(dir)}, expected a folder path`,
    );
  }
  if (options.onEpochEnd !== undefined && typeof options.onEpochEnd !== "function") {
    // found only after the first epoch otherwise
    throw new TypeError(`Cannot train: onEpochEnd is ${typeof options.onEpochEnd}, not a function`);
  }
  if (options.signal !== undefined && typeof options.signal?.aborted !== "boolean") {
    // anything without `aborted` could never stop the run
    throw new TypeError(`Cannot train: signal is not an AbortSignal`);
  }
  const evalBatchSize = positiveInt("evalBatchSize", options.evalBatchSize ?? 500);
  const checkpointEvery = positiveInt("checkpointEvery", options.checkpointEvery ?? 1);
  const mode: ProgressMode = options.silent ? "silent" : options.progress ?? "auto";

  const labels = await readLabels(data.train, classes, "data.train", "Cannot train");
  if (data.test) await readLabels(data.test, classes, "data.test", "Cannot train");
  checkInputShape(model, data.train.x, "train");
  if (data.test) checkInputShape(model, data.test.x, "test");
  await checkFinite(data.train.x, "train");
  if (data.test) await checkFinite(data.test.x, "test");
  const n = labels.length;
  const steps = options.stepsPerEpoch ?? Math.floor(n / batchSize);
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(
      `Cannot train: ${steps} steps per epoch (${n} examples, batch ${batchSize}), expected ≥ 1`,
    );
  }
  const kernel = lambda > 0 ? penaltyKernel(model, options.penaltyLayer) : null;
  const fingerprint: Record<string, unknown> = {
    seed,
    batchSize,
    sampling,
    steps,
    learningRate: baseLr,
    schedule: typeof schedule === "function" ? "function" : schedule,
    beta1,
    beta2,
    epsilon,
    orthogonality: lambda,
    // the penalized kernel by its place among the model's weights (layer names are numbered
    // per process, so the same architecture built again has other names)
    penaltyWeightIndex: kernel ? model.weights.indexOf(kernel) : null,
    fromLogits,
    classes,
    examples: n,
  };

  const optimizer = tf.train.adam(baseLr, beta1, beta2, epsilon);
  const setLr = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  let rng = new Rng(seed);
  let history: EpochRecord[] = [];
  let start = 0;
  try {
    if (options.checkpointDir) {
      const dir = options.checkpointDir;
      // checked before the checkpoint is restored: a refused resume leaves the model as it was
      const checkState = (state: unknown, path: string) => {
        checkSavedState(state, path);
        const s = state as SavedState;
        for (const [k, v] of Object.entries(fingerprint)) {
          // checkpoints written before a key was recorded are not refused for lacking it
          if (ADDED_FINGERPRINT_KEYS.includes(k) && !(k in s.fingerprint)) continue;
          if (JSON.stringify(s.fingerprint[k]) !== JSON.stringify(v)) {
            throw new RangeError(
              `Cannot resume from ${dir}: it was trained with ${k} ` +
                `${JSON.stringify(s.fingerprint[k])}, this call has ${JSON.stringify(v)}`,
            );
          }
        }
      };
      const restored = await restoreCheckpoint(dir, { model, optimizer, checkState });
      if (restored) {
        const s = restored.state as SavedState;
        start = s.epoch;
        history = s.history;
        rng = Rng.fromState(s.rng);
      }
    }
    const resumedFrom = start;
    const vars = model.trainableWeights.map((w) =>
      (w as unknown as { read(): tf.Variable }).read()
    );
    const xTrain = data.train.x;
    const yTrain = tf.cast(data.train.y, "int32") as tf.Tensor1D;
    let stopped = false;
    try {
      for (let epoch = start; epoch < epochs; epoch++) {
        const t0 = performance.now();
        const lr = learningRateAt(schedule, baseLr, epoch);
        setLr(lr);
        const batches = sampling === "balanced"
          ? classBalancedBatches(labels, rng, { batchSize, classes, steps })
          : Array.from(
            { length: Math.ceil(steps / Math.max(1, Math.floor(n / batchSize))) },
            () => shuffledBatches(n, rng, batchSize),
          ).flat().slice(0, steps);
        if (batches.length < steps) {
          throw new RangeError(
            `Cannot train: ${n} examples cannot fill one batch of ${batchSize}`,
          );
        }
        const bar = new ProgressBar(steps, { label: `epoch ${epoch + 1}/${epochs}`, mode });
        // Running sums over the epoch: [Σ loss, Σ penalty, Σ correct].
        let sums = tf.zeros([3]);
        const redrawEvery = Math.max(1, Math.floor(steps / 50));
        for (let s = 0; s < steps; s++) {
          if (options.signal?.aborted) {
            stopped = true;
            break;
          }
          const next = tf.tidy(() => {
            const idx = tf.tensor1d(batches[s], "int32");
            const xb = tf.gather(xTrain, idx);
            const yb = tf.gather(yTrain, idx) as tf.Tensor1D;
            let parts: tf.Tensor[] = [];
            // the batch needs no gradient: skip the first convolution's (input_gradient.ts)
            // ties need not follow the convention here: the wasm kernels may use Winograd
            const cost = withWinogradConvs(() =>
              withoutInputGradients([xb], () =>
                optimizer.minimize(
                  () => {
                    const out = model.apply(xb, { training: true }) as tf.Tensor;
                    const ce = tf.mean(crossEntropy(yb, out, classes, fromLogits));
                    let reg: tf.Tensor = tf.scalar(0);
                    for (const l of model.calculateLosses()) reg = tf.add(reg, l);
                    if (kernel) {
                      reg = tf.add(reg, tf.mul(lambda, orthogonalityPenalty(kernel.read())));
                    }
                    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), yb), "float32"));
                    parts = [tf.keep(reg), tf.keep(correct)];
                    return tf.add(ce, reg) as tf.Scalar;
                  },
                  true,
                  vars,
                )!)
            );
            const step = tf.stack([cost, ...parts]);
            tf.dispose(parts);
            return tf.add(sums, step);
          });
          sums.dispose();
          sums = next;
          if (bar.mode !== "silent" && (s % redrawEvery === 0 || s === steps - 1)) {
            const [l] = await sums.data();
            bar.update(s + 1, `loss ${(l / (s + 1)).toFixed(4)}`);
          }
        }
        if (stopped) {
          sums.dispose();
          await bar.finish("stopped");
          break;
        }
        const [lossSum, penaltySum, correctSum] = await sums.data();
        sums.dispose();
        const test = data.test
          ? await evaluateModel(model, data.test, classes, evalBatchSize, fromLogits)
          : null;
        const record: EpochRecord = {
          epoch: epoch + 1,
          learningRate: lr,
          trainLoss: lossSum / steps,
          trainPenalty: penaltySum / steps,
          trainAccuracy: correctSum / (steps * batchSize),
          testLoss: test ? test.loss : null,
          testAccuracy: test ? test.accuracy : null,
          seconds: 0,
        };
        record.seconds = (performance.now() - t0) / 1000;
        history.push(record);
        if (
          options.checkpointDir && ((epoch + 1) % checkpointEvery === 0 || epoch + 1 === epochs)
        ) {
          const state: SavedState = { epoch: epoch + 1, history, rng: rng.state, fingerprint };
          await saveCheckpoint(options.checkpointDir, { model, optimizer, step: epoch + 1, state });
        }
        await options.onEpochEnd?.(record);
        await bar.finish(
          `loss ${record.trainLoss.toFixed(4)} acc ${record.trainAccuracy.toFixed(4)}` +
            (test ? ` test_loss ${test.loss.toFixed(4)} test_acc ${test.accuracy.toFixed(4)}` : ""),
        );
      }
    } finally {
      if (yTrain !== data.train.y) yTrain.dispose();
    }
    return { history, resumedFrom, stopped };
  } finally {
    optimizer.dispose();
  }
}
