/**
 * The paper's largeCNN (Figures 2 and 3) as a tfjs model.
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

/** Options of {@linkcode largeCNN}. */
export interface LargeCNNOptions extends ModelOptions {
  /** Filters of the first three and of the last six convolutions; default `[96, 192]`. */
  readonly filters?: readonly [number, number];
}

const OPTION_KEYS: Readonly<Record<keyof LargeCNNOptions, true>> = {
  ...MODEL_OPTION_KEYS,
  filters: true,
};

/**
 * Builds the paper's largeCNN: conv3(96, same) → conv3(96, full) → conv3(96, full) →
 * maxpool2 → conv3(192, valid) → conv3(192, full) → conv3(192, valid) → maxpool2 →
 * conv3(192, valid) → conv1×1(192, with bias, never batch-norm) → maxpool2 → dense(C).
 * `full` padding is a zero-padding layer of k−1 = 2 on each side followed by a valid
 * conv. Every other conv is followed by batch-norm (when on; the conv then has no bias);
 * every conv by the activation, each its own layer. For a 32×32 input the spatial sizes
 * are 32→32→34→36→18→16→18→16→8→6→6→3 (28×28: 28→28→30→32→16→14→16→14→7→5→5→2). The
 * output is C logits (no bias, no softmax).
 *
 * Layers (`model.layers`, 31 with batch-norm, 24 without): `conv1, bn1, relu1, pad2,
 * conv2, bn2, relu2, pad3, conv3, bn3, relu3, pool1, conv4, bn4, relu4, pad5, conv5, bn5,
 * relu5, conv6, bn6, relu6, pool2, conv7, bn7, relu7, conv8, relu8, pool3, flatten,
 * logits` (`pad<i>` is the `full` padding of `conv<i>`).
 *
 * @example A narrow largeCNN
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { largeCNN } from "./large_cnn.ts";
 * import { deepEqual } from "node:assert/strict";
 * const model = largeCNN({ filters: [2, 2], classes: 3, seed: 7 });
 * deepEqual(model.getLayer("flatten").outputShape, [null, 3 * 3 * 2]);
 * deepEqual((model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor).shape, [1, 3]);
 * ```
 *
 * @param options `classes` (10), `inputShape` ([32, 32, 3]), `batchNorm` (true), `seed`,
 *   `activation` ("relu"), `alpha`, `filters` ([96, 192]).
 * @returns An uncompiled sequential model.
 * @throws {RangeError} For bad options or an input too small for the three poolings.
 */
export function largeCNN(options: LargeCNNOptions = {}): tf.LayersModel {
  const resolved = resolveModelOptions("largeCNN", options, true, OPTION_KEYS);
  const [a, b] = integerList("largeCNN", "filters", options.filters, [96, 192], { length: 2 });
  return convNet("largeCNN", resolved, [
    { op: "conv", filters: a, kernel: 3, padding: "same" },
    { op: "conv", filters: a, kernel: 3, padding: "full" },
    { op: "conv", filters: a, kernel: 3, padding: "full" },
    { op: "pool" },
    { op: "conv", filters: b, kernel: 3, padding: "valid" },
    { op: "conv", filters: b, kernel: 3, padding: "full" },
    { op: "conv", filters: b, kernel: 3, padding: "valid" },
    { op: "pool" },
    { op: "conv", filters: b, kernel: 3, padding: "valid" },
    { op: "conv", filters: b, kernel: 1, padding: "valid", batchNorm: false },
    { op: "pool" },
  ]);
}
