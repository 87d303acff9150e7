/**
 * A fully connected network (multilayer perceptron) as a tfjs model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  integerList,
  LayerMaker,
  MODEL_OPTION_KEYS,
  type ModelOptions,
  resolveModelOptions,
} from "./_model_options.ts";

/** Options of {@linkcode mlp}. */
export interface MLPOptions extends ModelOptions {
  /** Widths of the hidden layers, in order; `[]` gives a linear classifier. Default `[256, 256]`. */
  readonly hidden?: readonly number[];
}

const OPTION_KEYS: Readonly<Record<keyof MLPOptions, true>> = {
  ...MODEL_OPTION_KEYS,
  hidden: true,
};

/**
 * Builds a fully connected network: `flatten` (when the input has rank > 1) → for each
 * hidden width i: `dense<i>` → `bn<i>` (when on; the dense layer then has no bias) →
 * `<activation><i>` → `logits` (dense C, linear, no bias, no softmax). Every layer is a
 * MASO of the paper's Propositions 1–2; the activation is `relu`, `leakyRelu` or `abs`.
 *
 * @example A two-hidden-layer MLP for MNIST with |x| activations
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlp } from "./mlp.ts";
 * import { deepEqual } from "node:assert/strict";
 * const model = mlp({ inputShape: [28, 28, 1], hidden: [16, 8], activation: "abs", seed: 3 });
 * deepEqual(model.layers.map((l) => l.name), [
 *   "flatten", "dense1", "bn1", "abs1", "dense2", "bn2", "abs2", "logits",
 * ]);
 * deepEqual((model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape, [2, 10]);
 * ```
 *
 * @param options `classes` (10), `inputShape` ([32, 32, 3]; any rank), `batchNorm` (true),
 *   `seed`, `activation` ("relu"), `alpha` (0.3), `hidden` ([256, 256]).
 * @returns An uncompiled sequential model.
 * @throws {RangeError} For bad options.
 */
export function mlp(options: MLPOptions = {}): tf.LayersModel {
  const resolved = resolveModelOptions("mlp", options, false, OPTION_KEYS);
  const hidden = integerList("mlp", "hidden", options.hidden, [256, 256]);
  const make = new LayerMaker(resolved);
  const layers: tf.layers.Layer[] = [];
  const first = () => layers.length === 0 ? { inputShape: resolved.inputShape } : {};
  if (resolved.inputShape.length > 1) {
    layers.push(tf.layers.flatten({ name: "flatten", ...first() }));
  }
  hidden.forEach((units, j) => {
    const i = j + 1;
    layers.push(make.dense(`dense${i}`, { units, bias: !resolved.batchNorm, ...first() }));
    if (resolved.batchNorm) layers.push(tf.layers.batchNormalization({ name: `bn${i}` }));
    layers.push(make.activation("", `${i}`));
  });
  layers.push(make.dense("logits", { units: resolved.classes, bias: false, ...first() }));
  return tf.sequential({ name: "mlp", layers });
}
