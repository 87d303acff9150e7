/**
 * Reference forward passes for the model tests, written with tfjs ops (not layers)
 * from the documented architecture, reading weights from the built model by layer name.
 */
import * as tf from "@tensorflow/tfjs";

/** Weights of a named layer. */
export function weights(model: tf.LayersModel, name: string): tf.Tensor[] {
  return model.getLayer(name).getWeights();
}

/** conv2d with the layer's kernel (and bias when it has one), stride 1. */
export function conv(
  model: tf.LayersModel,
  name: string,
  x: tf.Tensor4D,
  padding: "valid" | "same",
): tf.Tensor4D {
  const [k, b] = weights(model, name);
  const y = tf.conv2d(x, k as tf.Tensor4D, 1, padding);
  return b ? tf.add(y, b) : y;
}

/** Inference-mode batch-norm with the layer's gamma, beta, moving mean and variance. */
export function batchNorm<T extends tf.Tensor>(model: tf.LayersModel, name: string, x: T): T {
  const [gamma, beta, mean, variance] = weights(model, name);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3) as T;
}

/** x·W (+ b) with a dense layer's weights. */
export function dense(model: tf.LayersModel, name: string, x: tf.Tensor2D): tf.Tensor2D {
  const [w, b] = weights(model, name);
  const y = tf.matMul(x, w as tf.Tensor2D);
  return (b ? tf.add(y, b) : y) as tf.Tensor2D;
}

/** Gives every batch-norm layer random (non-trivial) statistics and affine parameters. */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const [gamma] = layer.getWeights();
    const n = gamma.shape[0]!;
    layer.setWeights([
      tf.randomUniform([n], 0.5, 1.5, "float32", seed++),
      tf.randomUniform([n], -0.5, 0.5, "float32", seed++),
      tf.randomUniform([n], -0.5, 0.5, "float32", seed++),
      tf.randomUniform([n], 0.5, 2, "float32", seed++),
    ]);
  }
}

/** Gives every bias random values (they are initialised to zero). */
export function randomizeBiases(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    const w = layer.getWeights();
    if (w.length === 2 && ["Conv2D", "Dense"].includes(layer.getClassName())) {
      layer.setWeights([w[0], tf.randomUniform(w[1].shape, -0.3, 0.3, "float32", seed++)]);
    }
  }
}

/** The output shapes of every layer, by name, without the batch dimension. */
export function shapesByName(model: tf.LayersModel): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const l of model.layers) out[l.name] = (l.outputShape as number[]).slice(1);
  return out;
}

/** All weights of a model as flat arrays. */
export function allWeights(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** Largest |a − b| over two equally shaped tensors, relative to max |b|. */
export function relativeDifference(a: tf.Tensor, b: tf.Tensor): number {
  const da = a.dataSync(), db = b.dataSync();
  if (da.length !== db.length) throw new Error(`size ${da.length} vs ${db.length}`);
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < da.length; i++) {
    diff = Math.max(diff, Math.abs(da[i] - db[i]));
    scale = Math.max(scale, Math.abs(db[i]));
  }
  return diff / scale;
}
