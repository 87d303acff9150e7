/**
 * The paper's smallCNN (Figures 3 and 4) as a tfjs model.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  convNet,
  integerList,
  MODEL_OPTION_KEYS,
  type ModelOptions,
  resolveModelOptions,
} from "./_model_options.ts";

/** Options of {@linkcode smallCNN}. */
export interface SmallCNNOptions extends ModelOptions {
  /** Filters of the three convolutions; default `[32, 64, 128]`. */
  readonly filters?: readonly [number, number, number];
}

const OPTION_KEYS: Readonly<Record<keyof SmallCNNOptions, true>> = {
  ...MODEL_OPTION_KEYS,
  filters: true,
};

/**
 * Builds the paper's smallCNN: conv3×3(32) → maxpool2 → conv3×3(64) → maxpool2 →
 * conv1×1(128) → maxpool2 → dense(C), every conv `valid` and followed by batch-norm (when
 * on; the conv then has no bias) and the activation, each its own layer. For a 32×32 input
 * the spatial sizes are 32→30→15→13→6→6→3 and the dense layer sees 3·3·128 = 1152 values
 * (28×28 MNIST: 28→26→13→11→5→5→2). The output is C logits (no bias, no softmax).
 *
 * Layers (`model.layers`, 14 with batch-norm, 11 without): `conv1, bn1, relu1, pool1,
 * conv2, bn2, relu2, pool2, conv3, bn3, relu3, pool3, flatten, logits`. Figure 4 uses
 * it without batch-norm: 6 code layers (3 ReLU, 3 max-pool). The authors' later code
 * (OMASO) ends with a global mean instead of the last max-pool and flatten; we follow the
 * paper's version in shared/PAPER_NOTES.md.
 *
 * @example A tiny MNIST-shaped smallCNN
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { smallCNN } from "./small_cnn.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const model = smallCNN({ inputShape: [28, 28, 1], filters: [2, 2, 2], seed: 1 });
 * equal(model.layers.length, 14);
 * deepEqual(model.getLayer("flatten").outputShape, [null, 2 * 2 * 2]);
 * const logits = model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor;
 * deepEqual(logits.shape, [3, 10]);
 * ```
 *
 * @param options `classes` (10), `inputShape` ([32, 32, 3]), `batchNorm` (true), `seed`,
 *   `activation` ("relu"), `alpha`, `filters` ([32, 64, 128]).
 * @returns An uncompiled sequential model.
 * @throws {RangeError} For bad options or an input smaller than 14×14.
 */
export function smallCNN(options: SmallCNNOptions = {}): tf.LayersModel {
  const resolved = resolveModelOptions("smallCNN", options, true, OPTION_KEYS);
  const [f1, f2, f3] = integerList("smallCNN", "filters", options.filters, [32, 64, 128], {
    length: 3,
  });
  return convNet("smallCNN", resolved, [
    { op: "conv", filters: f1, kernel: 3, padding: "valid" },
    { op: "pool" },
    { op: "conv", filters: f2, kernel: 3, padding: "valid" },
    { op: "pool" },
    { op: "conv", filters: f3, kernel: 1, padding: "valid" },
    { op: "pool" },
  ]);
}
