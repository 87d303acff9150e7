/**
 * tfjs's `BatchNormalization` layer in training mode through one kernel where the active backend
 * has it (`MasokitBatchNormTrain`, lib/train/wasm_kernels.ts for `wasm`): the layer computes
 * `tf.moments` (Mean, Sub, Square, Mean) and then `FusedBatchNorm`, and its gradient runs
 * through all of them (≈12 elementwise ops and reductions over the activations); the kernel
 * gives y, the batch's mean and variance in three passes, and its gradient
 * (`MasokitBatchNormTrainGrad`) dx, dγ, dβ in two. The layer's `call` is replaced on its
 * prototype (globally, like the fused gradients of lib/train/_fused_gradients.ts), keeping
 * tfjs's own for inference, other axes, a layer without γ or β, other dtypes and backends
 * without the kernel; the moving statistics are updated exactly as tfjs does.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Name of the training pass's kernel: inputs x, scale, offset; outputs y, mean, variance. */
export const BATCH_NORM_TRAIN = "MasokitBatchNormTrain";
/**
 * Name of its gradient's kernel: inputs x, mean, variance, scale, dy, dMean, dVariance; outputs
 * dx, dScale, dOffset.
 */
export const BATCH_NORM_TRAIN_GRAD = "MasokitBatchNormTrainGrad";

/**
 * Name of the moving statistics' update in one kernel: inputs movingMean, mean, movingVariance,
 * variance; attr momentum; outputs the new moving mean and variance, each `m − (m − v)·(1 −
 * momentum)` in float32 as tfjs-layers computes it (three ops a statistic).
 */
export const MOVING_AVERAGES = "MasokitMovingAverages";

/**
 * Switches for benchmarks and tests: whether the replaced `call` takes the fused path, and
 * whether it updates the moving statistics by {@linkcode MOVING_AVERAGES} where the backend has
 * it.
 */
export const fusedBatchNormLayer = { enabled: true, movingAverages: true };

/**
 * The moving statistics' update over plain arrays, bit for bit tfjs's float32 ops (each result
 * rounded once: a float64 operation on float32 values rounded to float32 is the float32
 * operation's result).
 *
 * @param moving The moving statistic.
 * @param batch The batch's.
 * @param momentum The layer's momentum.
 * @param out The new moving statistic.
 */
export function movingAverage(
  moving: ArrayLike<number>,
  batch: ArrayLike<number>,
  momentum: number,
  out: Float32Array,
): void {
  const f = Math.fround(1 - momentum);
  for (let i = 0; i < out.length; i++) {
    out[i] = moving[i] - Math.fround(Math.fround(moving[i] - batch[i]) * f);
  }
}

/** The fields of tfjs-layers' `BatchNormalization` that its training pass reads. */
interface LayerVariable {
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: LayerVariable | null;
  beta: LayerVariable | null;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}
type Call = (
  this: BatchNormLayer,
  inputs: tf.Tensor | tf.Tensor[],
  kwargs: tf.serialization.ConfigDict,
) => tf.Tensor | tf.Tensor[];

/**
 * tfjs-layers' `BatchNormalization` prototype and its own `call`, found through the
 * serialization registry (an instance would take one of the layers' default names).
 */
let layerClass: { prototype: { call: Call }; originalCall: Call } | null = null;
function batchNormClass(): { prototype: { call: Call }; originalCall: Call } {
  if (layerClass === null) {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization;
    const prototype = entry?.[0]?.prototype as { call?: Call } | undefined;
    if (typeof prototype?.call !== "function") {
      throw new Error(
        "Cannot fuse batch-norm's training pass: tfjs-layers' BatchNormalization class is not registered",
      );
    }
    layerClass = { prototype: prototype as { call: Call }, originalCall: prototype.call };
  }
  return layerClass;
}

const gradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ["x", "scale"],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dMean, dVariance] = dys as tf.Tensor[];
    const [x, scale, mean, variance] = saved;
    const [dx, dScale, dOffset] = tf.engine().runKernel(
      BATCH_NORM_TRAIN_GRAD,
      { x, mean, variance, scale, dy, dMean, dVariance },
      { varianceEpsilon: attrs.varianceEpsilon },
    ) as tf.Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset };
  },
};

/** The replaced `call`: the fused training pass where it applies, tfjs's otherwise. */
function fusedCall(
  this: BatchNormLayer,
  inputs: tf.Tensor | tf.Tensor[],
  kwargs: tf.serialization.ConfigDict,
): tf.Tensor | tf.Tensor[] {
  const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
  const rank = input?.rank ?? 0;
  if (
    input === null || !kwargs?.training || !fusedBatchNormLayer.enabled || rank < 2 ||
    (this.axis >= 0 ? this.axis : this.axis + rank) !== rank - 1 || input.dtype !== "float32" ||
    this.gamma == null || this.beta == null ||
    tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) === undefined
  ) {
    return batchNormClass().originalCall.call(this, inputs, kwargs);
  }
  const gamma = this.gamma, beta = this.beta;
  return tf.tidy(() => {
    const [y, mean, variance] = tf.engine().runKernel(
      BATCH_NORM_TRAIN,
      { x: input, scale: gamma.read(), offset: beta.read() },
      { varianceEpsilon: this.epsilon },
    ) as tf.Tensor[];
    // tfjs-layers' moving averages, op for op (in one kernel where the backend has it)
    if (
      fusedBatchNormLayer.movingAverages &&
      tf.getKernel(MOVING_AVERAGES, tf.getBackend()) !== undefined
    ) {
      const [m, v] = tf.engine().runKernel(MOVING_AVERAGES, {
        movingMean: this.movingMean.read(),
        mean,
        movingVariance: this.movingVariance.read(),
        variance,
      }, { momentum: this.momentum }) as tf.Tensor[];
      this.movingMean.write(m);
      this.movingVariance.write(v);
      return y;
    }
    for (
      const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const
    ) {
      tf.tidy(() => {
        const original = variable.read();
        variable.write(tf.sub(original, tf.mul(tf.sub(original, value), 1 - this.momentum)));
      });
    }
    return y;
  });
}

let gradientRegistered = false;

/**
 * Installs (true) or restores (false) the fused training pass of `BatchNormalization` layers;
 * returns whether anything changed.
 *
 * @param on Install or restore.
 * @returns Whether the layer's `call` changed.
 */
export function setFusedBatchNormLayer(on: boolean): boolean {
  if (on && !gradientRegistered) {
    tf.registerGradient(gradConfig);
    gradientRegistered = true;
  }
  const { prototype, originalCall } = batchNormClass();
  const installed = prototype.call === fusedCall;
  if (on === installed) return false;
  prototype.call = on ? fusedCall : originalCall;
  return true;
}
