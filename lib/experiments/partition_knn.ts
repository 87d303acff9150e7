/**
 * The partition-distance experiment (Section 7.3, eq. 15, Figure 4): train the paper's
 * smallCNN without batch-norm, encode images by the partition region they fall in at each
 * of its 6 code layers (3 ReLU sign masks, 3 max-pool argmaxes), and look at each query's
 * nearest training images under the partition distance, layer by layer — against the same
 * network untrained. Max-pool codes of all-tie windows (dead ReLUs, all zero) agree by default
 * (first maximum), which inflates the similarity at max-pool layers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Claim, ExperimentOptions, ExperimentResult } from "./experiment.ts";
import { loadDataset } from "../data/load_dataset.ts";
import { preprocessPaper } from "../data/preprocess.ts";
import { smallCNN } from "../models/small_cnn.ts";
import { fromLayersModel } from "../network/from_layers_model.ts";
import { partitionCodes } from "../partition/codes.ts";
import { resolveBackend } from "../backend/backend.ts";
import type { CodeLayer, PartitionCodes } from "../partition/code_layer.ts";
import { nearestNeighbors } from "../partition/nearest_neighbors.ts";
import { selectBackend } from "../train/backend.ts";
import { type LearningRateSchedule, train } from "../train/train.ts";
import type { Figure } from "../plot/figure.ts";
import {
  type GridQuery,
  neighborGridFigure,
  partitionCurvesFigure,
} from "../plot/partition_knn.ts";

/** Options of {@linkcode runPartitionKnn}; unset sizes come from `scale`. */
export interface PartitionKnnOptions extends ExperimentOptions {
  /** Training images (class-balanced subset; full: all). */
  readonly trainSize?: number;
  /** Training epochs (full: 150). */
  readonly epochs?: number;
  /** Base set searched: the first `baseSize` training images (full: all). */
  readonly baseSize?: number;
  /** Query (test) images for the curves (class-balanced subset; full: 1,000). */
  readonly queries?: number;
  /** Queries drawn in the image grid, of distinct classes (default 4; tiny 2). */
  readonly shown?: number;
  /** Neighbours per query and layer, default 15 (the paper's). */
  readonly k?: number;
  /** Batch size (default 50), class balanced. */
  readonly batchSize?: number;
  /** Initial Adam learning rate (default 1e-3). */
  readonly learningRate?: number;
  /** Learning-rate schedule (full: ÷5 at epochs 60, 120, 160; else constant). */
  readonly schedule?: LearningRateSchedule;
  /** Folder with SVHN's `train_32x32.mat` and `test_32x32.mat`: also run on SVHN. Without
   * it SVHN is skipped with a note. */
  readonly svhnPath?: string;
  /** Images per partition-code batch (default 250). */
  readonly codeBatch?: number;
}

/** One code layer of the network. */
export interface KnnCodeLayer {
  /** 0-based index among the code layers. */
  readonly index: number;
  /** `relu` or `max-pool`. */
  readonly kind: string;
  /** Name of the network layer. */
  readonly name: string;
  /** D^(ℓ): entries of the code. */
  readonly units: number;
  /** Label used in figures, e.g. `ℓ=2 max-pool`. */
  readonly label: string;
}

/**
 * The baseline of Figure 4's trends: smallCNN without batch-norm built with the same seed as
 * the trained one (so its initial weights) and not trained, its codes and neighbours computed
 * the same way. What the trained curves add to it is what training adds.
 */
export interface KnnBaseline {
  /** `neighbors[ℓ][q]`: base indices of the k nearest, nearest first. */
  readonly neighbors: number[][][];
  /** `distances[ℓ][q]`: their partition distances (eq. 15), ascending. */
  readonly distances: number[][][];
  /** Per layer: fraction of neighbours (over all queries) of the query's class. */
  readonly classAgreement: number[];
  /** Per layer: mean Euclidean distance (preprocessed input space) query → neighbour. */
  readonly euclidean: number[];
}

/** The results on one dataset. */
export interface PartitionKnnDataset {
  /** `cifar10` or `svhn`. */
  readonly dataset: string;
  /** Class names. */
  readonly labels: string[];
  /** The 6 code layers. */
  readonly layers: KnnCodeLayer[];
  /** Epochs trained. */
  readonly epochs: number;
  /** Training images. */
  readonly trainSize: number;
  /** Training accuracy of the last epoch. */
  readonly trainAccuracy: number;
  /** Accuracy on the query images. */
  readonly testAccuracy: number;
  /** Base images searched. */
  readonly baseSize: number;
  /** Neighbours per query and layer. */
  readonly k: number;
  /** Class of each query `[Q]`. */
  readonly queryLabels: number[];
  /** `neighbors[ℓ][q]`: base indices of the k nearest, nearest first. */
  readonly neighbors: number[][][];
  /** `distances[ℓ][q]`: their partition distances (eq. 15), ascending. */
  readonly distances: number[][][];
  /** `neighborLabels[ℓ][q]`: their classes. */
  readonly neighborLabels: number[][][];
  /** Per layer: fraction of neighbours (over all queries) of the query's class. */
  readonly classAgreement: number[];
  /** Per layer: mean Euclidean distance (preprocessed input space) query → neighbour. */
  readonly euclidean: number[];
  /** Mean over queries of the fraction of base images of the query's class. */
  readonly chanceAgreement: number;
  /** Mean Euclidean distance from a query to a base image (all pairs). */
  readonly randomEuclidean: number;
  /** The same measurements with the same architecture untrained (see {@linkcode KnnBaseline}). */
  readonly untrained: KnnBaseline;
  /** Indices (into the queries) of the queries drawn in the grid. */
  readonly shownQueries: number[];
  /** Seconds spent: training, partition codes, nearest-neighbour search, untrained baseline. */
  readonly seconds: { train: number; codes: number; search: number; untrained: number };
  /** Codes per second of {@linkcode partitionCodes}. */
  readonly codesPerSecond: number;
  /** The engine that computed the codes (`"auto"`: tfjs on a tfjs-wasm backend). */
  readonly codesEngine: "cpu" | "tfjs";
}

/** What {@linkcode runPartitionKnn} returns. */
export interface PartitionKnnResult extends ExperimentResult {
  /** One entry per dataset run (CIFAR-10, and SVHN when given). */
  readonly datasets: PartitionKnnDataset[];
  /** Notes, e.g. a skipped SVHN. */
  readonly notes: string[];
}

/** The sizes of one scale of {@linkcode runPartitionKnn} (unset: the whole training set). */
export interface PartitionKnnPreset {
  /** Training images (unset: all). */
  readonly trainSize?: number;
  /** Training epochs. */
  readonly epochs: number;
  /** Base images searched (unset: all training images). */
  readonly baseSize?: number;
  /** Query (test) images. */
  readonly queries: number;
  /** Queries drawn in the grid. */
  readonly shown: number;
  /** Learning-rate schedule. */
  readonly schedule: LearningRateSchedule;
}

/** The presets of the scales `tiny`, `quick` and `full`. */
export const PARTITION_KNN_PRESETS: Readonly<
  Record<"tiny" | "quick" | "full", PartitionKnnPreset>
> = {
  tiny: {
    trainSize: 500,
    epochs: 1,
    baseSize: 300,
    queries: 20,
    shown: 2,
    schedule: { kind: "constant" },
  },
  quick: {
    trainSize: 10000,
    epochs: 5,
    baseSize: 5000,
    queries: 200,
    shown: 4,
    schedule: { kind: "constant" },
  },
  full: {
    epochs: 150,
    queries: 1000,
    shown: 4,
    schedule: { kind: "step", epochs: [60, 120, 160], factor: 0.2 },
  },
};

function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(
      `Cannot run the partition-distance experiment: ${name} is ${v}, expected an integer ≥ 1`,
    );
  }
}

/** Concatenates the codes of consecutive batches, layer by layer. */
function concatCodes(parts: PartitionCodes[]): PartitionCodes {
  return parts[0].map((first, l): CodeLayer => {
    const layers = parts.map((p) => p[l]);
    const count = layers.reduce((a, c) => a + c.count, 0);
    const bits = new Uint32Array(count * first.words);
    const argmax = new Uint16Array(first.kind === "max-pool" ? count * first.units : 0);
    let ob = 0, oa = 0;
    for (const c of layers) {
      bits.set(c.bits, ob);
      ob += c.bits.length;
      argmax.set(c.argmax, oa);
      oa += c.argmax.length;
    }
    return { ...first, count, bits, argmax };
  });
}

/** Partition codes of `x` in batches (the default engine: tfjs on tfjs-wasm). */
function codesOf(
  net: ReturnType<typeof fromLayersModel>,
  x: tf.Tensor,
  batch: number,
  log: (m: string) => void,
  what: string,
): PartitionCodes {
  const n = x.shape[0];
  const parts: PartitionCodes[] = [];
  for (let s = 0; s < n; s += batch) {
    const xb = tf.slice(x, s, Math.min(batch, n - s));
    try {
      parts.push(partitionCodes(net, xb));
    } finally {
      xb.dispose();
    }
    if (n > batch) log(`partition_knn: codes of ${what}: ${Math.min(n, s + batch)}/${n}`);
  }
  return concatCodes(parts);
}

/** The codes of base and queries under `net`, and each query's k nearest base images per layer. */
function searchLayers(
  net: ReturnType<typeof fromLayersModel>,
  xBase: tf.Tensor,
  xTest: tf.Tensor,
  k: number,
  codeBatch: number,
  log: (m: string) => void,
  what: string,
): {
  neighbors: number[][][];
  distances: number[][][];
  codeSeconds: number;
  searchSeconds: number;
} {
  let t = performance.now();
  const baseCodes = codesOf(net, xBase, codeBatch, log, `${what}: ${xBase.shape[0]} base images`);
  const queryCodes = codesOf(net, xTest, codeBatch, log, `${what}: ${xTest.shape[0]} queries`);
  const codeSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const neighbors: number[][][] = [], distances: number[][][] = [];
  for (let l = 0; l < baseCodes.length; l++) {
    const { indices, distances: d } = nearestNeighbors(queryCodes, baseCodes, { layer: l, k });
    neighbors.push(indices.arraySync());
    distances.push(d.arraySync());
    tf.dispose([indices, d]);
  }
  return { neighbors, distances, codeSeconds, searchSeconds: (performance.now() - t) / 1000 };
}

/** Mean Euclidean distance between every query and every base row, chunked on tfjs. */
function meanPairDistance(q: tf.Tensor2D, b: tf.Tensor2D): number {
  const n = b.shape[0];
  let sum = 0;
  for (let s = 0; s < n; s += 4096) {
    sum += tf.tidy(() => {
      const bc = tf.slice(b, s, Math.min(4096, n - s));
      const qn = tf.sum(tf.square(q), 1, true);
      const bn = tf.sum(tf.square(bc), 1).reshape([1, -1]);
      const d2 = tf.sub(tf.add(qn, bn), tf.mul(2, tf.matMul(q, bc, false, true)));
      return tf.sum(tf.sqrt(tf.relu(d2))).dataSync()[0];
    });
  }
  return sum / (q.shape[0] * n);
}

function toBytes(x: Float32Array, from: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.round(255 * Math.max(0, Math.min(1, x[from + i])));
  return out;
}

async function runOne(
  dataset: "cifar10" | "svhn",
  settings:
    & Required<
      Pick<
        PartitionKnnOptions,
        | "epochs"
        | "queries"
        | "shown"
        | "k"
        | "batchSize"
        | "learningRate"
        | "schedule"
        | "codeBatch"
      >
    >
    & {
      trainSize?: number;
      baseSize?: number;
      seed: number;
      cacheDir?: string;
      path?: string;
      progress: boolean;
    },
  log: (m: string) => void,
): Promise<{ result: PartitionKnnDataset; figures: Figure[] }> {
  const { k, seed } = settings;
  const raw = await loadDataset(dataset, {
    trainSize: settings.trainSize,
    testSize: settings.queries,
    seed,
    preprocess: "none",
    cacheDir: settings.cacheDir,
    path: settings.path,
  });
  const tensors: tf.Tensor[] = [raw.train.x, raw.train.y, raw.test.x, raw.test.y];
  let model: tf.LayersModel | null = null, untrainedModel: tf.LayersModel | null = null;
  try {
    const xTrain = preprocessPaper(raw.train.x);
    const xTest = preprocessPaper(raw.test.x);
    tensors.push(xTrain, xTest);
    const nTrain = xTrain.shape[0];
    const baseSize = settings.baseSize ?? nTrain;
    if (baseSize > nTrain) {
      throw new RangeError(
        `Cannot run the partition-distance experiment: baseSize ${baseSize} exceeds the ${nTrain} training images`,
      );
    }
    if (k > baseSize) {
      throw new RangeError(
        `Cannot run the partition-distance experiment: k ${k} exceeds the ${baseSize} base images`,
      );
    }
    const [H, W, C] = xTrain.shape.slice(1);
    model = smallCNN({ inputShape: [H, W, C], classes: raw.classes, batchNorm: false, seed });
    log(
      `partition_knn: ${dataset}: training smallCNN (no batch-norm) on ${nTrain} images, ${settings.epochs} epoch${
        settings.epochs === 1 ? "" : "s"
      }`,
    );
    const t = performance.now();
    const { history } = await train(model, {
      train: { x: xTrain, y: raw.train.y },
      test: { x: xTest, y: raw.test.y },
      classes: raw.classes,
    }, {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      schedule: settings.schedule,
      seed,
      progress: settings.progress ? "auto" : "silent",
    });
    const trainSeconds = (performance.now() - t) / 1000;
    const last = history.at(-1);
    const net = fromLayersModel(model);
    if (net.codeLayers.length !== 6) {
      throw new RangeError(
        `Cannot run the partition-distance experiment: smallCNN has ${net.codeLayers.length} code layers, expected 6`,
      );
    }
    const layers: KnnCodeLayer[] = net.codeLayers.map((c, i) => ({
      index: i,
      kind: c.kind,
      name: c.name,
      units: c.units,
      label: `ℓ=${i + 1} ${c.kind === "max-pool" ? "max-pool" : "ReLU"}`,
    }));

    const xBase = baseSize === nTrain ? xTrain : tf.slice(xTrain, 0, baseSize);
    if (xBase !== xTrain) tensors.push(xBase);
    const Q = xTest.shape[0];
    const search = (n: ReturnType<typeof fromLayersModel>, which: string) =>
      searchLayers(n, xBase, xTest, k, settings.codeBatch, log, `${dataset} (${which})`);
    const trained = search(net, "trained");
    const codesPerSecond = (baseSize + Q) / trained.codeSeconds;
    log(`partition_knn: ${dataset}: codes at ${codesPerSecond.toFixed(0)} images/s`);
    // The baseline: the same architecture and seed (the trained net's initial weights), untrained.
    untrainedModel = smallCNN({
      inputShape: [H, W, C],
      classes: raw.classes,
      batchNorm: false,
      seed,
    });
    const baseline = search(fromLayersModel(untrainedModel), "untrained");
    const { neighbors, distances } = trained;

    const baseLabels = (await raw.train.y.data()).subarray(0, baseSize) as Int32Array;
    const queryLabels = Array.from(await raw.test.y.data() as Int32Array);
    const D = H * W * C;
    const qData = await xTest.data() as Float32Array;
    const bData = await xBase.data() as Float32Array;
    const euclid = (qi: number, bi: number) => {
      let s = 0;
      for (let i = 0, a = qi * D, b = bi * D; i < D; i++) {
        const v = qData[a + i] - bData[b + i];
        s += v * v;
      }
      return Math.sqrt(s);
    };
    const curves = (nb: number[][][]) => ({
      classAgreement: nb.map((rows) => {
        let same = 0;
        rows.forEach((r, q) =>
          r.forEach((i) => (same += baseLabels[i] === queryLabels[q] ? 1 : 0))
        );
        return same / (Q * k);
      }),
      euclidean: nb.map((rows) => {
        let s = 0;
        rows.forEach((r, q) => r.forEach((i) => (s += euclid(q, i))));
        return s / (Q * k);
      }),
    });
    const neighborLabels = neighbors.map((rows) => rows.map((r) => r.map((i) => baseLabels[i])));
    const { classAgreement, euclidean } = curves(neighbors);
    const untrained: KnnBaseline = {
      neighbors: baseline.neighbors,
      distances: baseline.distances,
      ...curves(baseline.neighbors),
    };
    const classCounts = new Array(raw.classes).fill(0);
    for (const c of baseLabels) classCounts[c]++;
    const chanceAgreement = queryLabels.reduce((a, c) => a + classCounts[c] / baseSize, 0) / Q;
    const randomEuclidean = tf.tidy(() =>
      meanPairDistance(
        xTest.reshape([Q, D]) as tf.Tensor2D,
        xBase.reshape([baseSize, D]) as tf.Tensor2D,
      )
    );

    // Grid: the first queries of distinct classes.
    const shownQueries: number[] = [];
    const seen = new Set<number>();
    for (let q = 0; q < Q && shownQueries.length < settings.shown; q++) {
      if (!seen.has(queryLabels[q])) {
        seen.add(queryLabels[q]);
        shownQueries.push(q);
      }
    }
    const rawTest = await raw.test.x.data() as Float32Array;
    const rawTrain = await raw.train.x.data() as Float32Array;
    const names = [...raw.labels];
    const gridQueries: GridQuery[] = shownQueries.map((q) => ({
      image: toBytes(rawTest, q * D, D),
      label: names[queryLabels[q]],
      neighbors: layers.map((_, l) =>
        neighbors[l][q].map((i, j) => ({
          image: toBytes(rawTrain, i * D, D),
          label: names[baseLabels[i]],
          sameClass: baseLabels[i] === queryLabels[q],
          distance: distances[l][q][j],
        }))
      ),
    }));
    const labelsOfLayers = layers.map((l) => l.label);
    const figures = [
      neighborGridFigure({
        dataset,
        height: H,
        width: W,
        channels: C,
        layers: labelsOfLayers,
        queries: gridQueries,
      }),
      partitionCurvesFigure({
        dataset,
        layers: labelsOfLayers,
        classAgreement,
        euclidean,
        chanceAgreement,
        randomEuclidean,
        untrainedClassAgreement: untrained.classAgreement,
        untrainedEuclidean: untrained.euclidean,
      }),
    ];
    return {
      result: {
        dataset,
        labels: names,
        layers,
        epochs: settings.epochs,
        trainSize: nTrain,
        trainAccuracy: last?.trainAccuracy ?? NaN,
        testAccuracy: last?.testAccuracy ?? NaN,
        baseSize,
        k,
        queryLabels,
        neighbors,
        distances,
        neighborLabels,
        classAgreement,
        euclidean,
        chanceAgreement,
        randomEuclidean,
        untrained,
        shownQueries,
        seconds: {
          train: trainSeconds,
          codes: trained.codeSeconds,
          search: trained.searchSeconds,
          untrained: baseline.codeSeconds + baseline.searchSeconds,
        },
        codesPerSecond,
        codesEngine: resolveBackend(xTest, {}),
      },
      figures,
    };
  } finally {
    model?.dispose();
    untrainedModel?.dispose();
    tf.dispose(tensors);
  }
}

/** How far above the untrained baseline the deepest layers' class agreement must reach. */
export const AGREEMENT_MARGIN = 0.1;

/**
 * Slack of the bar comparison: class agreements are fractions of Q·k neighbours, so a value
 * exactly at the bar (e.g. 30% against untrained 20% + 10 points, which is
 * 0.30000000000000004 in floating point) must count as reaching it; 1e-9 is far below the
 * resolution 1/(Q·k) of any run.
 */
const BAR_SLACK = 1e-9;

/**
 * Percentages of `value` and `bar` with one decimal, or more (up to 4) where one decimal
 * would show a value below its bar as equal to it.
 */
function pctAgainst(value: number, bar: number): [string, number] {
  let digits = 1;
  const p = (x: number) => `${(100 * x).toFixed(digits)}%`;
  while (digits < 4 && value < bar - BAR_SLACK && p(value) === p(bar)) digits++;
  return [p(value), digits];
}

/** Change of `v` from the first to the last layer of `kind` (ReLU or max-pool layers only). */
function rise(v: readonly number[], layers: readonly KnnCodeLayer[], kind: string): number {
  const at = layers.filter((l) => l.kind === kind).map((l) => l.index);
  return v[at[at.length - 1]] - v[at[0]];
}

/**
 * Figure 4's three claims on one dataset, each judged within a layer type (ReLU layers 1/3/5,
 * max-pool layers 2/4/6: the curves zig-zag between the types, since max-pool codes of
 * all-zero windows agree by default) and against the same network untrained. A pure function
 * of the dataset's numbers (`layers`, `classAgreement`, `euclidean`, `chanceAgreement`,
 * `untrained`; the rest only enters the `measured` texts):
 * (1) the class agreement rises from the first to the last layer of each type, by more than
 * untrained; (2) at the deepest layer of each type it is ≥ the untrained network's plus
 * {@linkcode AGREEMENT_MARGIN} and ≥ twice chance; (3) the same as (1) for the Euclidean distance.
 *
 * @param d One dataset's result of {@linkcode runPartitionKnn}.
 * @returns The three claims, in that order.
 */
export function figure4Claims(d: PartitionKnnDataset): Claim[] {
  const a = d.classAgreement, e = d.euclidean, u = d.untrained;
  const kinds = ["relu", "max-pool"];
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const pp = (x: number) => `${(100 * x).toFixed(1)} pp`; // a difference of percentages
  const list = (v: number[], f: (x: number) => string) => v.map(f).join(", ");
  const rises = (v: number[], w: number[], f: (x: number) => string) =>
    kinds.map((t) => `${t} ${f(rise(v, d.layers, t))} (untrained ${f(rise(w, d.layers, t))})`)
      .join(", ");
  const deepest = kinds.map((t) => d.layers.filter((l) => l.kind === t).at(-1)!.index);
  const bar = (l: number) =>
    Math.max(u.classAgreement[l] + AGREEMENT_MARGIN, 2 * d.chanceAgreement);
  const signed = (f: (x: number) => string) => (x: number) => `${x >= 0 ? "+" : ""}${f(x)}`;
  return [
    {
      claim:
        `Fig. 4: partition-distance neighbours share the query's class more often at deeper layers, ` +
        `within each layer type and more than in the same network untrained (${d.dataset})`,
      measured: `same class among the ${d.k} nearest, layers 1–6: ${list(a, pct)}; untrained: ` +
        `${list(u.classAgreement, pct)}; change first → last layer of a type: ` +
        `${rises(a, u.classAgreement, signed(pp))} (chance ${pct(d.chanceAgreement)})`,
      held: kinds.every((t) =>
        rise(a, d.layers, t) > 0 && rise(a, d.layers, t) > rise(u.classAgreement, d.layers, t)
      ),
    },
    {
      claim:
        `Fig. 4: later-layer neighbours mainly come from the query's class: at the deepest ReLU ` +
        `and max-pool layers ≥ ${100 * AGREEMENT_MARGIN} points above the untrained network ` +
        `and ≥ twice chance (${d.dataset})`,
      measured: deepest.map((l) => {
        const [shown, digits] = pctAgainst(a[l], bar(l));
        const p = (x: number) => `${(100 * x).toFixed(digits)}%`;
        return `${d.layers[l].label}: ${shown} (untrained ${p(u.classAgreement[l])}, bar ${
          p(bar(l))
        })`;
      }).join("; ") +
        `; chance ${pct(d.chanceAgreement)}; ${d.queryLabels.length} queries, ${d.baseSize} ` +
        `base images, net test accuracy ${pct(d.testAccuracy)}`,
      held: deepest.every((l) => a[l] >= bar(l) - BAR_SLACK),
    },
    {
      claim: `Fig. 4: deeper-layer neighbours are further from the query in Euclidean distance, ` +
        `within each layer type and more than in the same network untrained (${d.dataset})`,
      measured: `mean Euclidean distance to the query (preprocessed inputs), layers 1–6: ` +
        `${list(e, (x) => x.toFixed(2))}; untrained: ${list(u.euclidean, (x) => x.toFixed(2))}; ` +
        `change first → last layer of a type: ${
          rises(e, u.euclidean, signed((x) => x.toFixed(2)))
        } ` +
        `(random base image: ${d.randomEuclidean.toFixed(2)})`,
      held: kinds.every((t) =>
        rise(e, d.layers, t) > 0 && rise(e, d.layers, t) > rise(u.euclidean, d.layers, t)
      ),
    },
  ];
}

/**
 * Runs the partition-distance experiment (Section 7.3, eq. 15, Figure 4): trains smallCNN
 * without batch-norm (its 6 code layers: ReLU and max-pool alternating), computes the
 * partition codes of a base set of training images and of query test images, and finds
 * each query's k = 15 nearest base images under d(t^(ℓ)(x₁), t^(ℓ)(x₂)) = 1 − (fraction of
 * equal code entries) at every layer ℓ. Reports per layer the fraction of neighbours of
 * the query's class and their mean Euclidean distance to the query (in the network's
 * preprocessed input space), with the chance level and the mean distance to a random base
 * image; figures: the neighbour grid and the two curves. CIFAR-10 always; SVHN when
 * `svhnPath` is given.
 *
 * The same is measured for the same architecture untrained (built with the same seed: the
 * trained network's initial weights; no training, so it costs only its codes and search), and
 * the claims are about what training adds to it. They are judged within a layer type, ReLU
 * layers 1/3/5 and max-pool layers 2/4/6, since the curves zig-zag between the types: a
 * max-pool code records the first maximum of each window (ties to the first, see
 * `lib/backend/cpu/max_pool.ts`), so the windows of dead ReLUs — all zero — get the same code 0
 * in every image and agree by default, which inflates the eq. (15) similarity at max-pool
 * layers (an untrained smallCNN already reaches ≈ 21% class agreement against 10% chance, and
 * its Euclidean curve already rises from layer 1 to 6). Claims: (1) the class agreement rises
 * from the first to the last layer of each type, by more than untrained; (2) at the deepest
 * layer of each type it is ≥ {@linkcode AGREEMENT_MARGIN} above the untrained network's and ≥
 * twice chance ("later layer neighbors mainly come from the same class"); (3) the Euclidean
 * distance rises within each type, by more than untrained.
 *
 * Scales: `tiny` (500 training images, 1 epoch, 300 base images, 20 queries), `quick`
 * (10,000 images, 5 epochs, 5,000 base, 200 queries), `full` (all 50,000 images, 150 epochs,
 * all as base, 1,000 queries). Codes come from {@linkcode partitionCodes} with its default
 * engine: the tfjs engine (float32) on tfjs-wasm, ≈1,000 images/s for smallCNN without
 * batch-norm here, the float64 CPU engine on tfjs' own `cpu` backend.
 *
 * @param options Scale, sizes, seed, SVHN folder, progress.
 * @returns Claims, figures, and per dataset the neighbours, distances and curves.
 * @example Two layers of the tiny run
 * ```ts
 * import { runPartitionKnn } from "./partition_knn.ts";
 * import { equal, ok } from "node:assert/strict";
 * const result = await runPartitionKnn({ scale: "tiny" });
 * const [cifar] = result.datasets;
 * equal(cifar.classAgreement.length, 6);
 * ok(cifar.distances[0].every((row) => row.length === 15 && row.every((d) => d >= 0 && d <= 1)));
 * ```
 */
export async function runPartitionKnn(
  options: PartitionKnnOptions = {},
): Promise<PartitionKnnResult> {
  const t0 = performance.now();
  const scale = options.scale ?? "quick";
  const preset = PARTITION_KNN_PRESETS[scale];
  if (!preset) {
    throw new RangeError(
      `Cannot run the partition-distance experiment: scale is '${scale}', expected tiny, quick or full`,
    );
  }
  for (
    const name of [
      "trainSize",
      "epochs",
      "baseSize",
      "queries",
      "shown",
      "k",
      "batchSize",
      "codeBatch",
    ] as const
  ) {
    positiveInt(name, options[name]);
  }
  const log = options.onProgress ?? (() => {});
  const choice = await selectBackend({ prefer: "wasm" });
  const settings = {
    trainSize: options.trainSize ?? preset.trainSize,
    epochs: options.epochs ?? preset.epochs,
    baseSize: options.baseSize ?? preset.baseSize,
    queries: options.queries ?? preset.queries,
    shown: options.shown ?? preset.shown,
    k: options.k ?? 15,
    batchSize: options.batchSize ?? 50,
    learningRate: options.learningRate ?? 1e-3,
    schedule: options.schedule ?? preset.schedule,
    codeBatch: options.codeBatch ?? 250,
    seed: options.seed ?? 0,
    cacheDir: options.cacheDir,
    progress: options.progress ?? false,
  };
  if (
    settings.baseSize !== undefined && settings.trainSize !== undefined &&
    settings.baseSize > settings.trainSize
  ) {
    throw new RangeError(
      `Cannot run the partition-distance experiment: baseSize ${settings.baseSize} exceeds trainSize ${settings.trainSize}`,
    );
  }
  const notes: string[] = [];
  const runs: { name: "cifar10" | "svhn"; path?: string }[] = [{ name: "cifar10" }];
  if (options.svhnPath !== undefined) runs.push({ name: "svhn", path: options.svhnPath });
  else {notes.push(
      "SVHN skipped: no svhnPath given (the folder with train_32x32.mat and test_32x32.mat)",
    );}

  const datasets: PartitionKnnDataset[] = [];
  const figures: Figure[] = [];
  const claims: Claim[] = [];
  for (const r of runs) {
    const { result, figures: figs } = await runOne(r.name, { ...settings, path: r.path }, log);
    datasets.push(result);
    figures.push(...figs);
    claims.push(...figure4Claims(result));
  }
  const d0 = datasets[0];
  return {
    id: "partition_knn",
    title: "Partition-based distance (Figure 4)",
    scale:
      `${scale}: smallCNN without batch-norm trained on ${d0.trainSize} ${
        runs.map((r) => r.name).join("/")
      } ` +
      `images for ${settings.epochs} epoch${
        settings.epochs === 1 ? "" : "s"
      } (batch ${settings.batchSize}, Adam lr ${settings.learningRate}); ` +
      `${d0.baseSize} base training images, ${d0.queryLabels.length} test queries, k = ${settings.k}; ` +
      `baseline: the same smallCNN and seed untrained; ` +
      `codes by the ${d0.codesEngine === "cpu" ? "float64 CPU engine" : "tfjs engine (float32)"} (${
        d0.codesPerSecond.toFixed(0)
      } images/s); tfjs ${choice.backend}`,
    claims,
    figures,
    seconds: (performance.now() - t0) / 1000,
    datasets,
    notes,
  };
}
