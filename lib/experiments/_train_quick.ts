/**
 * Training a paper model on a dataset subset for the experiments (private helper): one
 * model per (dataset, architecture, settings, seed), memoized in-process so that several
 * experiments of one run (affine formula, templates, memorization) share it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadDataset } from "../data/load_dataset.ts";
import type { Dataset } from "../data/types.ts";
import { largeCNN } from "../models/large_cnn.ts";
import { smallCNN } from "../models/small_cnn.ts";
import { fromLayersModel } from "../network/from_layers_model.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import { selectBackend } from "../train/backend.ts";
import { type EpochRecord, train } from "../train/train.ts";

/** The datasets the experiments train on (all downloadable, see `loadDataset`). */
export type QuickDatasetName = "mnist" | "fashion-mnist" | "cifar10";

/** The paper's architectures the experiments train. */
export type QuickArchitecture = "smallCNN" | "largeCNN";

/** An experiment scale: `"tiny"` (tests), `"quick"` (CPU reproduce), `"full"` (the paper's). */
export type ExperimentScale = "tiny" | "quick" | "full";

/** Settings of one quick training run. */
export interface QuickTrainOptions {
  /** The architecture, default `"smallCNN"` (with batch-norm, the paper's default). */
  readonly architecture?: QuickArchitecture;
  /** Class-balanced training subset size; default all 50 000/60 000 images. */
  readonly trainSize?: number;
  /** Class-balanced test subset size; default all 10 000 images. */
  readonly testSize?: number;
  /** Epochs, default 1. */
  readonly epochs?: number;
  /** Steps per epoch, default ⌊trainSize / batchSize⌋. */
  readonly stepsPerEpoch?: number;
  /** Batch size, default 50 (class balanced, the paper's). */
  readonly batchSize?: number;
  /** Adam learning rate, default 1e-3. */
  readonly learningRate?: number;
  /** Exponential learning-rate decay per epoch (`lr · decay^epoch`), default 1 (constant). */
  readonly decay?: number;
  /**
   * Training images whose batch statistics replace the batch-norm moving averages after
   * training ("precise BN", layer by layer), default 1000; 0 keeps tfjs's moving averages
   * (which lag far behind the weights after a few dozen steps, momentum 0.99).
   */
  readonly recalibrationSize?: number;
  /** Seed of the weights, the subsets and the batch order, default 0. */
  readonly seed?: number;
  /** Dataset cache directory (default `data/cache`). */
  readonly cacheDir?: string;
  /** Save checkpoints here and resume from them (default: nothing is written). */
  readonly checkpointDir?: string;
  /** Show a training progress bar, default false. */
  readonly progress?: boolean;
  /** Progress messages, one line each. */
  readonly onProgress?: (message: string) => void;
}

/** A trained model with its data and spline network. */
export interface QuickModel {
  /** The memoization key (the resolved settings as JSON). */
  readonly key: string;
  /** The dataset name. */
  readonly datasetName: QuickDatasetName;
  /** The data (shared between callers: do not dispose its tensors). */
  readonly dataset: Dataset;
  /** The trained tfjs model (shared: do not dispose). */
  readonly model: tf.LayersModel;
  /** The model as a spline network (batch-norm folded in inference mode). */
  readonly net: SplineNetwork;
  /** The training history. */
  readonly history: EpochRecord[];
  /** Test accuracy in inference mode after batch-norm recalibration. */
  readonly testAccuracy: number;
  /** Seconds spent loading, training and recalibrating. */
  readonly seconds: number;
  /** One line: architecture, data, epochs, steps, learning rate, recalibration, accuracy. */
  readonly description: string;
}

const NAMES: readonly QuickDatasetName[] = ["mnist", "fashion-mnist", "cifar10"];
const memo = new Map<string, Promise<QuickModel>>();

/**
 * The training settings every experiment uses at a scale, so that experiments of one run
 * share their models: `"tiny"` trains smallCNN for 2 epochs × 20 steps on 1000 images
 * (seconds), `"quick"` 3 epochs on 5000 MNIST / 6000 CIFAR-10 images (about a minute
 * each on 2 CPU cores), `"full"` the whole training set for 30 epochs with exponential
 * decay 0.95 (largeCNN unless `architecture` says otherwise; GPU recommended).
 *
 * @param scale The experiment scale.
 * @param options `dataset` (its size sets the quick subset), `architecture` at full scale.
 * @returns The settings (no seed, cache or progress: the caller adds them).
 *
 * @example
 * ```ts
 * import { quickTrainPreset } from "./_train_quick.ts";
 * import { equal } from "node:assert/strict";
 * equal(quickTrainPreset("tiny", { dataset: "mnist" }).architecture, "smallCNN");
 * equal(quickTrainPreset("full", { dataset: "cifar10" }).architecture, "largeCNN");
 * ```
 */
export function quickTrainPreset(
  scale: ExperimentScale,
  options: { dataset: QuickDatasetName; architecture?: QuickArchitecture },
): QuickTrainOptions {
  const color = options.dataset === "cifar10";
  if (scale === "tiny") {
    return {
      architecture: options.architecture ?? "smallCNN",
      trainSize: 1000,
      testSize: 100,
      epochs: 2,
      stepsPerEpoch: 20,
    };
  }
  if (scale === "quick") {
    return {
      architecture: options.architecture ?? "smallCNN",
      trainSize: color ? 6000 : 5000,
      testSize: 1000,
      epochs: 3,
    };
  }
  if (scale === "full") {
    return { architecture: options.architecture ?? "largeCNN", epochs: 30, decay: 0.95 };
  }
  throw new RangeError(
    `Unknown scale ${JSON.stringify(scale)}: expected "tiny", "quick" or "full"`,
  );
}

/** Sets every batch-norm layer's moving statistics to the batch statistics of `x`. */
async function recalibrateBatchNorm(model: tf.Sequential, x: tf.Tensor, chunk = 200) {
  const layers = model.layers;
  const n = x.shape[0];
  for (let j = 0; j < layers.length; j++) {
    if (layers[j].getClassName() !== "BatchNormalization") continue;
    let sum: Float64Array | null = null, sq: Float64Array | null = null, count = 0;
    for (let start = 0; start < n; start += chunk) {
      const size = Math.min(chunk, n - start);
      let perChannel = 0;
      const [s, q] = tf.tidy(() => {
        let h = tf.slice(x, start, size);
        for (let i = 0; i < j; i++) h = layers[i].apply(h, { training: false }) as tf.Tensor;
        const axes = h.shape.slice(0, -1).map((_, a) => a);
        perChannel = h.size / h.shape[h.shape.length - 1];
        return [tf.sum(h, axes), tf.sum(tf.square(h), axes)];
      });
      const [sv, qv] = [await s.data(), await q.data()];
      tf.dispose([s, q]);
      sum ??= new Float64Array(sv.length);
      sq ??= new Float64Array(qv.length);
      for (let c = 0; c < sv.length; c++) {
        sum[c] += sv[c];
        sq[c] += qv[c];
      }
      count += perChannel;
    }
    const mean = sum!.map((v) => v / count);
    const variance = sq!.map((v, c) => Math.max(0, v / count - mean[c] * mean[c]));
    const weights = layers[j].getWeights();
    const replaced = [
      tf.tensor1d(Float32Array.from(mean)),
      tf.tensor1d(Float32Array.from(variance)),
    ];
    // BatchNormalization weights: [gamma?, beta?, movingMean, movingVariance].
    layers[j].setWeights([...weights.slice(0, weights.length - 2), ...replaced]);
    tf.dispose(replaced);
  }
}

async function accuracy(model: tf.LayersModel, data: Dataset): Promise<number> {
  const n = data.test.x.shape[0];
  let correct = 0;
  for (let start = 0; start < n; start += 500) {
    const size = Math.min(500, n - start);
    const c = tf.tidy(() => {
      const out = model.predict(tf.slice(data.test.x, start, size)) as tf.Tensor;
      return tf.sum(
        tf.cast(tf.equal(tf.argMax(out, -1), tf.slice(data.test.y, start, size)), "int32"),
      );
    });
    correct += (await c.data())[0];
    c.dispose();
  }
  return correct / n;
}

/**
 * Trains a paper model (smallCNN or largeCNN, batch-norm and ReLU, linear logits) on a
 * class-balanced subset of a dataset with the paper's preprocessing, Adam and
 * class-balanced batches, on the fastest CPU backend (`wasm`); then recalibrates the
 * batch-norm statistics and converts the model to a {@linkcode SplineNetwork}. Results are
 * memoized in-process by their settings: a second call with the same settings returns the
 * same model (so experiments of one run share it). Nothing is written to disk unless
 * `checkpointDir` is given.
 *
 * @param dataset `"mnist"`, `"fashion-mnist"` or `"cifar10"`.
 * @param options Architecture, subset sizes, epochs, learning rate, seed, cache, progress.
 * @returns The trained model, its data, spline network and history.
 *
 * @example Unknown datasets are rejected
 * ```ts
 * import { trainQuick } from "./_train_quick.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(trainQuick("imagenet" as "mnist"), /Cannot train a quick model/);
 * ```
 */
export function trainQuick(
  dataset: QuickDatasetName,
  options: QuickTrainOptions = {},
): Promise<QuickModel> {
  if (!NAMES.includes(dataset)) {
    return Promise.reject(
      new RangeError(
        `Cannot train a quick model: dataset is ${JSON.stringify(dataset)}, expected one of ${
          NAMES.map((n) => `"${n}"`).join(", ")
        }`,
      ),
    );
  }
  const settings = {
    dataset,
    architecture: options.architecture ?? "smallCNN",
    trainSize: options.trainSize ?? null,
    testSize: options.testSize ?? null,
    epochs: options.epochs ?? 1,
    stepsPerEpoch: options.stepsPerEpoch ?? null,
    batchSize: options.batchSize ?? 50,
    learningRate: options.learningRate ?? 1e-3,
    decay: options.decay ?? 1,
    recalibrationSize: options.recalibrationSize ?? 1000,
    seed: options.seed ?? 0,
    cacheDir: options.cacheDir ?? null,
    checkpointDir: options.checkpointDir ?? null,
  };
  if (settings.architecture !== "smallCNN" && settings.architecture !== "largeCNN") {
    return Promise.reject(
      new RangeError(
        `Cannot train a quick model: architecture is ${
          JSON.stringify(settings.architecture)
        }, expected "smallCNN" or "largeCNN"`,
      ),
    );
  }
  const key = JSON.stringify(settings);
  const cached = memo.get(key);
  if (cached) return cached;
  const run = (async (): Promise<QuickModel> => {
    const t0 = performance.now();
    const say = options.onProgress ?? (() => {});
    await selectBackend({ prefer: "wasm" });
    const data = await loadDataset(dataset, {
      trainSize: settings.trainSize ?? undefined,
      testSize: settings.testSize ?? undefined,
      seed: settings.seed,
      preprocess: "paper",
      ...(settings.cacheDir ? { cacheDir: settings.cacheDir } : {}),
    });
    const build = settings.architecture === "largeCNN" ? largeCNN : smallCNN;
    const model = build({
      inputShape: data.train.x.shape.slice(1),
      classes: data.classes,
      seed: settings.seed,
    });
    const nTrain = data.train.x.shape[0];
    const steps = settings.stepsPerEpoch ?? Math.floor(nTrain / settings.batchSize);
    say(
      `training ${settings.architecture} on ${nTrain} ${dataset} images: ${settings.epochs} epochs × ${steps} steps`,
    );
    const { history } = await train(model, {
      train: data.train,
      test: data.test,
      classes: data.classes,
    }, {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      stepsPerEpoch: steps,
      learningRate: settings.learningRate,
      schedule: settings.decay === 1
        ? { kind: "constant" }
        : { kind: "exponential", rate: settings.decay },
      seed: settings.seed,
      progress: options.progress ? "auto" : "silent",
      ...(settings.checkpointDir ? { checkpointDir: settings.checkpointDir } : {}),
    });
    const recal = Math.min(settings.recalibrationSize, nTrain);
    if (recal > 0 && model instanceof tf.Sequential) {
      const x = tf.slice(data.train.x, 0, recal);
      await recalibrateBatchNorm(model, x);
      x.dispose();
    }
    const testAccuracy = await accuracy(model, data);
    const net = fromLayersModel(model);
    const seconds = (performance.now() - t0) / 1000;
    const description =
      `${settings.architecture} (batch-norm, ReLU, max-pool) trained on ${nTrain} ` +
      `${dataset} images (${settings.epochs} epochs × ${steps} steps of ${settings.batchSize}, ` +
      `Adam lr ${settings.learningRate}${
        settings.decay === 1 ? "" : ` decaying ×${settings.decay}/epoch`
      }, seed ${settings.seed}` +
      `${recal > 0 ? `, batch-norm statistics recalibrated on ${recal} training images` : ""}); ` +
      `test accuracy ${(100 * testAccuracy).toFixed(1)}% on ${data.test.x.shape[0]} test images`;
    say(`${description} (${seconds.toFixed(1)} s)`);
    return {
      key,
      datasetName: dataset,
      dataset: data,
      model,
      net,
      history,
      testAccuracy,
      seconds,
      description,
    };
  })();
  memo.set(key, run);
  run.catch(() => memo.delete(key));
  return run;
}

/**
 * Forgets every memoized model and disposes its tensors (model weights and data).
 *
 * @returns The number of models disposed.
 *
 * @example
 * ```ts
 * import { clearQuickModels } from "./_train_quick.ts";
 * import { ok } from "node:assert/strict";
 * ok(await clearQuickModels() >= 0);
 * ```
 */
export async function clearQuickModels(): Promise<number> {
  const all = [...memo.values()];
  memo.clear();
  let count = 0;
  for (const p of all) {
    try {
      const m = await p;
      m.model.dispose();
      tf.dispose([m.dataset.train.x, m.dataset.train.y, m.dataset.test.x, m.dataset.test.y]);
      count++;
    } catch {
      // a failed run holds nothing
    }
  }
  return count;
}
