/**
 * The property-test cases: seeded random tfjs models and inputs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  cnnModel,
  denseOnAxisModel,
  mlpModel,
  pooledCnnModel,
  randomInput,
  residualModel,
  wideCnnModel,
} from "./_random_models.ts";

/** A model with a batch of inputs. */
export interface Case {
  readonly name: string;
  readonly model: tf.LayersModel;
  readonly x: tf.Tensor;
}

/** The random models of the property tests, each with a seeded batch. */
export function cases(seed = 1): Case[] {
  return [
    {
      name: "MLP (dense, relu, leaky relu, dropout, softmax)",
      model: mlpModel(seed),
      x: randomInput([7], 6, seed + 100),
    },
    {
      name: "CNN (strides, paddings, BN, max/avg pool, zero pad)",
      model: cnnModel(seed),
      x: randomInput([11, 9, 3], 4, seed + 200),
    },
    {
      name: "residual (pre-activation and downsampling blocks)",
      model: residualModel(seed),
      x: randomInput([8, 8, 2], 3, seed + 300),
    },
    {
      name: "dense on the last axis of an image",
      model: denseOnAxisModel(seed),
      x: randomInput([5, 4, 3], 3, seed + 600),
    },
    {
      name: "pooled CNN (conv-ReLU-pool blocks, 12 classes)",
      model: pooledCnnModel(seed),
      x: randomInput([12, 11, 3], 3, seed + 400),
    },
    {
      name: "wide CNN (16+ channels, zero padding into a conv, BN, leaky ReLU)",
      model: wideCnnModel(seed),
      x: randomInput([10, 9, 3], 3, seed + 500),
    },
  ];
}

/**
 * The model's logits computed by tfjs itself: `predict`, except that a final Dense with a
 * softmax activation is evaluated without it (same weights).
 */
export function tfjsLogits(model: tf.LayersModel, x: tf.Tensor): tf.Tensor {
  const last = model.layers.at(-1)!;
  if (last.getConfig().activation !== "softmax") return model.predict(x) as tf.Tensor;
  return tf.tidy(() => {
    const h = model.layers.slice(0, -1).reduce((v, l) => l.apply(v) as tf.Tensor, x);
    const [k, b] = last.getWeights();
    return tf.add(tf.matMul(h, k), b);
  });
}
