/**
 * A tiny built-in sweep registry (a synthetic dataset and a small MLP) so that
 * the sweep CLI runs end to end before the paper's models and datasets are
 * wired in. Not a paper experiment.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import type { SweepRegistry } from "./sweep.ts";
import type { TrainData } from "./train.ts";

/**
 * Gaussian blobs as 4×4×1 "images": class c has mean pattern μ_c (fixed by a
 * seed) plus N(0, 0.8²) noise per pixel (Box–Muller from {@linkcode Rng}).
 */
export function blobs(options: { n: number; classes: number; seed: number }): TrainData {
  const { n, classes, seed } = options;
  const rng = new Rng(seed);
  const means = Array.from(
    { length: classes },
    () => Array.from({ length: 16 }, () => rng.next() * 2 - 1),
  );
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const make = (count: number) => {
    const x = new Float32Array(count * 16), y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      y[i] = i % classes;
      for (let j = 0; j < 16; j++) x[i * 16 + j] = means[y[i]][j] + 0.8 * gauss();
    }
    return { x: tf.tensor4d(x, [count, 4, 4, 1]), y: tf.tensor1d(y, "int32") };
  };
  return { train: make(n), test: make(Math.max(classes, Math.floor(n / 4))), classes };
}

/** The toy registry: dataset `blobs` (3 classes, 300 examples), model `mlp` (16-16-C). */
export const toyRegistry: SweepRegistry = {
  datasets: { blobs: () => blobs({ n: 300, classes: 3, seed: 1 }) },
  models: {
    mlp: ({ inputShape, classes, seed }) =>
      tf.sequential({
        layers: [
          tf.layers.flatten({ inputShape }),
          tf.layers.dense({
            units: 16,
            activation: "relu",
            kernelInitializer: tf.initializers.glorotUniform({ seed }),
          }),
          tf.layers.dense({
            units: classes,
            useBias: false,
            kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
          }),
        ],
      }),
  },
};
