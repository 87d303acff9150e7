/**
 * The paper's Proposition 5 and Figure 2: collinear templates and data-set memorization,
 * seen in the bimodality of ⟨A[x_n]_c, x_n⟩ between the true class and the others, on the
 * training images (Prop. 5 is about the training data at the global minimum).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { affineMap } from "../affine/affine_map.ts";
import { templateInnerProducts } from "../affine/template_inner_products.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import {
  memorizationFigure,
  type MemorizationFigureData,
  type MemorizationHistogram,
} from "../plot/memorization.ts";
import type { Claim, ExperimentOptions, ExperimentResult } from "./experiment.ts";
import { quickTrainPreset, trainQuick } from "./_train_quick.ts";

/** The datasets of Figure 2. */
export type MemorizationDataset = "mnist" | "cifar10";

/** Options of {@linkcode runMemorization}. */
export interface MemorizationOptions extends ExperimentOptions {
  /**
   * Images per split whose inner products are computed (test subset and training subset);
   * default 100 (tiny), 1000 (quick), 10 000 (full); at most the subset's size.
   */
  readonly examples?: number;
  /** Histogram bins, default 40. */
  readonly bins?: number;
}

/** Statistics of ⟨A[x_n]_c, x_n⟩ on one split. */
export interface MemorizationStats {
  /** N: images. */
  readonly count: number;
  /** Mean of the N true-class values ⟨A[x_n]_{y_n}, x_n⟩. */
  readonly meanTrue: number;
  /** Mean of the N·(C−1) other-class values. */
  readonly meanOther: number;
  /** Sample standard deviation of the true-class values. */
  readonly stdTrue: number;
  /** Sample standard deviation of the other-class values. */
  readonly stdOther: number;
  /** Pooled standard deviation √(((n₁−1)s₁² + (n₂−1)s₂²) / (n₁+n₂−2)). */
  readonly pooledStd: number;
  /** The bimodality statistic: (meanTrue − meanOther) / pooledStd. */
  readonly bimodality: number;
  /** Fraction of images whose true class has the largest ⟨A_c, x⟩. */
  readonly trueLargestFraction: number;
  /** Fraction of true-class values > 0 (eq. 12: +√((C−1)α/C)·‖x‖²). */
  readonly truePositiveFraction: number;
  /** Fraction of other-class values < 0 (eq. 12: −√(α/(C(C−1)))·‖x‖²). */
  readonly otherNegativeFraction: number;
  /** Mean of cos(A[x_n]_{y_n}, x_n) (eq. 12 at the global minimum: +1). */
  readonly meanCosTrue: number;
  /** Mean of cos(A[x_n]_c, x_n) over c ≠ y_n (eq. 12: −1). */
  readonly meanCosOther: number;
  /** Mean over n of ‖Σ_c A[x_n]_c‖ / Σ_c ‖A[x_n]_c‖ (eq. 12: 0, the rows cancel). */
  readonly meanTemplateSumRatio: number;
}

/** One dataset's result. */
export interface MemorizationDatasetResult extends MemorizationFigureData, MemorizationStats {
  /** The dataset. */
  readonly dataset: MemorizationDataset;
  /** The model and how it was trained. */
  readonly model: string;
  /** The model's test accuracy (inference mode). */
  readonly testAccuracy: number;
  /** C: classes. */
  readonly classes: number;
  /** True labels of the N training images (the first N of the training subset). */
  readonly labels: number[];
  /** ⟨A[x_n]_c, x_n⟩ of the training images, `[N][C]` (tfjs masked linear pass, float32). */
  readonly innerProducts: number[][];
  /** cos(A[x_n]_c, x_n) of the training images, `[N][C]` (A[x] by `affineMap` on tfjs). */
  readonly cosines: number[][];
  /** ‖Σ_c A[x_n]_c‖ / Σ_c ‖A[x_n]_c‖ of the training images, `[N]`. */
  readonly templateSumRatios: number[];
  /** The histogram of the training values (the figure's). */
  readonly histogram: MemorizationHistogram;
  /** The same statistics on the first N test images, for comparison. */
  readonly test: MemorizationStats;
}

/** The plain data of the memorization experiment. */
export interface MemorizationData {
  /** MNIST, then CIFAR-10. */
  readonly datasets: MemorizationDatasetResult[];
  /** Whether MNIST's training-image bimodality exceeded CIFAR-10's. */
  readonly mnistMoreBimodal: boolean;
}

const EXAMPLES = { tiny: 100, quick: 1000, full: 10000 } as const;

/** What is measured on one split: per image and class ⟨A_c, x⟩ and cos(A_c, x), per image ‖Σ_c A_c‖ / Σ_c ‖A_c‖. */
interface SplitValues {
  readonly values: Float32Array;
  readonly cosines: Float32Array;
  readonly sumRatios: Float32Array;
  readonly labels: Int32Array;
}

/** ⟨A[x_n]_c, x_n⟩ `[N·C]`, the cosines, the template-sum ratios and labels of the first `n` images, in chunks. */
async function measure(
  net: SplineNetwork,
  split: { x: tf.Tensor; y: tf.Tensor },
  n: number,
): Promise<SplitValues> {
  const C = net.outputSize, chunk = 250;
  const values = new Float32Array(n * C), cosines = new Float32Array(n * C);
  const sumRatios = new Float32Array(n);
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const x = tf.slice(split.x, start, size);
    const ip = templateInnerProducts(net, x, { backend: "tfjs" });
    const { A, B } = affineMap(net, x, { backend: "tfjs" });
    const [cos, ratio] = tf.tidy(() => {
      const rowNorms = tf.sqrt(tf.sum(tf.square(A), 2)); // [n, C]
      const xNorms = tf.sqrt(tf.sum(tf.square(tf.reshape(x, [size, -1])), 1, true)); // [n, 1]
      const sumNorms = tf.sqrt(tf.sum(tf.square(tf.sum(A, 1)), 1)); // [n]
      return [tf.div(ip, tf.mul(rowNorms, xNorms)), tf.div(sumNorms, tf.sum(rowNorms, 1))];
    });
    values.set(await ip.data(), start * C);
    cosines.set(await cos.data(), start * C);
    sumRatios.set(await ratio.data(), start);
    tf.dispose([x, ip, A, B, cos, ratio]);
  }
  const y = tf.slice(split.y, 0, n);
  const labels = Int32Array.from(await y.data());
  y.dispose();
  return { values, cosines, sumRatios, labels };
}

function statistics(split: SplitValues, C: number): MemorizationStats {
  const { values, labels, cosines, sumRatios } = split;
  const N = labels.length;
  let ct = 0, co = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      if (c === labels[n]) ct += cosines[n * C + c];
      else co += cosines[n * C + c];
    }
  }
  let st = 0, so = 0, largest = 0, pos = 0, neg = 0;
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let c = 0; c < C; c++) {
      const v = values[n * C + c];
      if (v > values[n * C + best]) best = c;
      if (c === labels[n]) {
        st += v;
        if (v > 0) pos++;
      } else {
        so += v;
        if (v < 0) neg++;
      }
    }
    if (best === labels[n]) largest++;
  }
  const nt = N, no = N * (C - 1);
  const meanTrue = st / nt, meanOther = so / no;
  let vt = 0, vo = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const v = values[n * C + c];
      if (c === labels[n]) vt += (v - meanTrue) ** 2;
      else vo += (v - meanOther) ** 2;
    }
  }
  const pooledStd = Math.sqrt((vt + vo) / Math.max(1, nt + no - 2));
  return {
    count: N,
    meanTrue,
    meanOther,
    stdTrue: Math.sqrt(vt / Math.max(1, nt - 1)),
    stdOther: Math.sqrt(vo / Math.max(1, no - 1)),
    pooledStd,
    bimodality: (meanTrue - meanOther) / pooledStd,
    trueLargestFraction: largest / N,
    truePositiveFraction: pos / nt,
    otherNegativeFraction: neg / no,
    meanCosTrue: ct / nt,
    meanCosOther: co / no,
    meanTemplateSumRatio: sumRatios.reduce((a, b) => a + b, 0) / N,
  };
}

function histogram(
  values: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  bins: number,
): MemorizationHistogram {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
  }
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const trueCounts = new Array(bins).fill(0), otherCounts = new Array(bins).fill(0);
  for (let n = 0; n < labels.length; n++) {
    for (let c = 0; c < C; c++) {
      const v = values[n * C + c];
      const b = Math.min(bins - 1, Math.floor((v - lo) / width));
      (c === labels[n] ? trueCounts : otherCounts)[b]++;
    }
  }
  return { edges, trueCounts, otherCounts };
}

/**
 * The memorization experiment's two claims, a pure function of the datasets' numbers:
 * (1) on every dataset's training images `meanTrue` > 0 and `meanOther` < 0 (the signs of
 * eq. 12); (2) MNIST's training-image `bimodality` exceeds CIFAR-10's.
 *
 * @param datasets The datasets of {@linkcode runMemorization}: MNIST, then CIFAR-10.
 * @returns The two claims, in that order.
 */
export function memorizationClaims(datasets: readonly MemorizationDatasetResult[]): Claim[] {
  const [mnist, cifar] = datasets;
  const mnistMoreBimodal = mnist.bimodality > cifar.bimodality;
  const f = (v: number) => v.toFixed(2);
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  // Two decimals, or more (up to 6) where two would print different values as equal.
  const apart = (a: number, b: number) => {
    let digits = 2;
    while (digits < 6 && a !== b && a.toFixed(digits) === b.toFixed(digits)) digits++;
    return [a.toFixed(digits), b.toFixed(digits)];
  };
  const [bimodalMnist, bimodalCifar] = apart(mnist.bimodality, cifar.bimodality);
  return [
    {
      claim:
        "Prop. 5 / Fig. 2: on the training images, ⟨A[x_n]_c, x_n⟩ is bimodal: positive for the true class, negative for the others on average (the signs of eq. 12)",
      measured:
        datasets.map((d) =>
          `${d.dataset} (${d.count} training images): mean true ${f(d.meanTrue)} vs other ${
            f(d.meanOther)
          }, gap ${f(d.bimodality)} pooled std; true > 0 in ${pct(d.truePositiveFraction)}, ` +
          `others < 0 in ${pct(d.otherNegativeFraction)}; true class largest in ${
            pct(d.trueLargestFraction)
          }; eq. 12's shape (+1, −1, 0 at the global optimum): mean cos(A_c, x) true ${
            f(d.meanCosTrue)
          }, other ${f(d.meanCosOther)}, ‖Σ_c A_c‖ / Σ_c ‖A_c‖ ${f(d.meanTemplateSumRatio)} ` +
          `(test images: means ${f(d.test.meanTrue)} / ${f(d.test.meanOther)}, gap ${
            f(d.test.bimodality)
          }, cos ${f(d.test.meanCosTrue)} / ${f(d.test.meanCosOther)}, ratio ${
            f(d.test.meanTemplateSumRatio)
          })`
        ).join("; ") +
        "; a model trained a few epochs is far from Prop. 5's idealized global optimum, so only the signs are claimed",
      held: datasets.every((d) => d.meanTrue > 0 && d.meanOther < 0),
    },
    {
      claim:
        "Fig. 2: the easier the classification problem (MNIST), the more bimodal the distribution (training images)",
      measured:
        `bimodality (mean_true − mean_other) / pooled std on training images: MNIST ${bimodalMnist}, CIFAR-10 ${bimodalCifar} (test images: ${
          f(mnist.test.bimodality)
        }, ${f(cifar.test.bimodality)}); test accuracy ${pct(mnist.testAccuracy)} vs ${
          pct(cifar.testAccuracy)
        }`,
      held: mnistMoreBimodal,
    },
  ];
}

/**
 * Reproduces the paper's Figure 2 (Proposition 5): trains a CNN with batch-norm and bias
 * units on MNIST and on CIFAR-10 (smallCNN on subsets at scales tiny and quick, largeCNN on
 * the whole sets at full), computes ⟨A[x_n]_c, x_n⟩ for every class on N training images in
 * one masked linear pass each (`templateInnerProducts`, tfjs) — Proposition 5 is about the
 * training data at the global minimum — and compares the true class's values with the
 * others': histograms, and the bimodality statistic (mean_true − mean_other) / pooled std per
 * dataset. The paper: the values are bimodal (eq. 12: positive for the true class, negative
 * for the others), more so on the easier problem (MNIST). Also measured, from A[x_n]
 * (`affineMap`, tfjs): the mean cos(A[x_n]_c, x_n) per group (eq. 12: +1 and −1) and
 * ‖Σ_c A[x_n]_c‖ / Σ_c ‖A[x_n]_c‖ (eq. 12: 0). A model trained a few epochs (tiny, quick) is
 * far from Prop. 5's idealized global optimum, so only the signs are claimed. The same
 * statistics on N test images are reported for comparison.
 *
 * @param options Scale, seed, cache, progress; `examples`, `bins`.
 * @returns The claims, one figure per dataset, and the data.
 *
 * @example A bad bin count is rejected
 * ```ts
 * import { runMemorization } from "./memorization.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(runMemorization({ bins: 0 }), /bins is 0/);
 * ```
 */
export async function runMemorization(
  options: MemorizationOptions = {},
): Promise<ExperimentResult & MemorizationData> {
  const t0 = performance.now();
  const scale = options.scale ?? "quick";
  quickTrainPreset(scale, { dataset: "mnist" }); // validates the scale
  const bins = options.bins ?? 40;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(
      `Cannot run the memorization experiment: bins is ${bins}, expected an integer ≥ 1`,
    );
  }
  const requested = options.examples ?? EXAMPLES[scale];
  if (!Number.isInteger(requested) || requested < 1) {
    throw new RangeError(
      `Cannot run the memorization experiment: examples is ${requested}, expected an integer ≥ 1`,
    );
  }
  const datasets: MemorizationDatasetResult[] = [];
  for (const dataset of ["mnist", "cifar10"] as const) {
    const qm = await trainQuick(dataset, {
      ...quickTrainPreset(scale, { dataset }),
      seed: options.seed ?? 0,
      cacheDir: options.cacheDir,
      progress: options.progress,
      onProgress: options.onProgress,
    });
    const { net, dataset: data } = qm;
    const C = net.outputSize;
    const nTest = Math.min(requested, data.test.x.shape[0]);
    const nTrain = Math.min(requested, data.train.x.shape[0]);
    options.onProgress?.(
      `memorization: ⟨A[x]_c, x⟩ on ${nTrain} training and ${nTest} test ${dataset} images`,
    );
    const train = await measure(net, data.train, nTrain);
    const test = await measure(net, data.test, nTest);
    const rows = (v: Float32Array) =>
      Array.from({ length: nTrain }, (_, n) => Array.from(v.subarray(n * C, (n + 1) * C)));
    datasets.push({
      dataset,
      model: qm.description,
      testAccuracy: qm.testAccuracy,
      classes: C,
      ...statistics(train, C),
      labels: Array.from(train.labels),
      innerProducts: rows(train.values),
      cosines: rows(train.cosines),
      templateSumRatios: Array.from(train.sumRatios),
      histogram: histogram(train.values, train.labels, C, bins),
      test: statistics(test, C),
    });
  }
  const [mnist, cifar] = datasets;
  const mnistMoreBimodal = mnist.bimodality > cifar.bimodality;
  return {
    id: "memorization",
    title: "Collinear templates and memorization (Proposition 5, Figure 2)",
    scale: `${scale}: ${datasets.map((d) => d.model).join("; ")}; ⟨A[x]_c, x⟩ on ${
      datasets.map((d) => `${d.count} ${d.dataset}`).join(" and ")
    } training images (and as many test images for comparison)`,
    claims: memorizationClaims(datasets),
    figures: datasets.map((d) => memorizationFigure({ ...d, split: "training images" })),
    seconds: (performance.now() - t0) / 1000,
    datasets,
    mnistMoreBimodal,
  };
}
