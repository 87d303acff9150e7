/**
 * Seeded random tfjs models covering every layer kind the spline engine supports, for
 * property tests against tfjs' own forward pass.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, 1) samples. */
export function normals(n: number, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** Replaces every weight with seeded random values (batch-norm variances positive). */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const r = rng(seed);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(ws.map((w, i) => {
      const vals = normals(w.size, r);
      const name = layer.weights[i].name;
      if (name.includes("moving_variance")) {
        for (let j = 0; j < vals.length; j++) vals[j] = 0.5 + r();
      } else if (name.includes("gamma")) {
        for (let j = 0; j < vals.length; j++) vals[j] = 0.5 + r();
      } else if (name.includes("kernel")) {
        const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
        for (let j = 0; j < vals.length; j++) vals[j] *= Math.sqrt(2 / fanIn);
      } else for (let j = 0; j < vals.length; j++) vals[j] *= 0.3;
      return tf.tensor(vals, w.shape);
    }));
  }
}

/** A random batch `[n, ...shape]` with seeded normal values. */
export function randomInput(shape: number[], n: number, seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normals(n * size, rng(seed)), [n, ...shape]);
}

/** An MLP: dense-relu, dense, leaky ReLU, dense. */
export function mlpModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [7], units: 16, activation: "relu" }),
      tf.layers.dense({ units: 12 }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 5, activation: "softmax" }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/** A CNN with strides, both paddings, BN, zero padding, max and average pooling. */
export function cnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [11, 9, 3],
        filters: 4,
        kernelSize: 3,
        padding: "same",
        useBias: false,
      }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: "same" }),
      tf.layers.zeroPadding2d({ padding: 1 }),
      tf.layers.conv2d({ filters: 5, kernelSize: [2, 3], strides: [1, 2] }),
      tf.layers.leakyReLU({ alpha: 0.1 }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * Dense layers on the last axis of an image (tfjs maps `[..., in]` to `[..., units]`): a
 * per-pixel dense with ReLU, a max-pool, a conv, a per-pixel dense without bias and a leaky
 * ReLU, then the classifier.
 */
export function denseOnAxisModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5, 4, 3], units: 6, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.conv2d({ filters: 4, kernelSize: 2 }),
      tf.layers.reLU(),
      tf.layers.dense({ units: 5, useBias: false }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * A smallCNN-like stack of conv → ReLU → disjoint max-pool blocks with 12 classes: channel
 * counts that are multiples of 4 after the first layer (the tfjs-wasm engine's fused
 * conv/ReLU/pool kernels and its few-outputs transpose to the input's 3 channels), padding, a
 * non-square kernel,
 * odd pooled sizes, a conv without bias and a max-pool without a ReLU before it.
 */
export function pooledCnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [12, 11, 3], filters: 8, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 12, kernelSize: [3, 2], padding: "same", useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }),
      tf.layers.maxPooling2d({ poolSize: [2, 1] }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 12 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * Convs of 16 and more channels, as the WebGPU engine runs by Winograd (3×3, stride 1): a
 * first conv from 3 channels (not one of them), asymmetric zero padding then a valid conv
 * (as largeCNN's "full" convs), a conv → ReLU → disjoint max-pool block, a conv without bias with
 * batch norm and a leaky ReLU, a valid conv, and a dense layer to 5 classes.
 */
export function wideCnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 9, 3], filters: 16, kernelSize: 3, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.zeroPadding2d({ padding: [[2, 1], [0, 2]] }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 20, kernelSize: 3, padding: "same", useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.1 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/** A functional model with a pre-activation residual block and a downsampling block. */
export function residualModel(seed: number): tf.LayersModel {
  const inp = tf.input({ shape: [8, 8, 2] });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    l.apply(x) as tf.SymbolicTensor;
  let x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), inp);
  // identity block
  let h = apply(tf.layers.batchNormalization(), x);
  h = apply(tf.layers.reLU(), h);
  h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), h);
  h = apply(tf.layers.batchNormalization(), h);
  h = apply(tf.layers.reLU(), h);
  h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), h);
  x = apply(tf.layers.add(), [x, h]);
  // downsampling block
  let b = apply(tf.layers.batchNormalization(), x);
  b = apply(tf.layers.reLU(), b);
  b = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same" }), b);
  b = apply(tf.layers.averagePooling2d({ poolSize: 2 }), b);
  let s = apply(tf.layers.conv2d({ filters: 6, kernelSize: 1 }), x);
  s = apply(tf.layers.averagePooling2d({ poolSize: 2 }), s);
  x = apply(tf.layers.add(), [b, s]);
  x = apply(tf.layers.reLU(), x);
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  const out = apply(tf.layers.dense({ units: 3 }), x);
  const m = tf.model({ inputs: inp, outputs: out });
  randomizeWeights(m, seed);
  return m;
}
