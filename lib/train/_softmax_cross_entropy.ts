/**
 * Softmax cross-entropy per example, `−Σ_c onehot(label)_c · (z_c − logsumexp(z))`, as one
 * kernel call forward and one backward (`MasokitSoftmaxCrossEntropy`,
 * `MasokitSoftmaxCrossEntropyGrad`: registered for `wasm` by lib/train/wasm_kernels.ts), where
 * `tf.losses.softmaxCrossEntropy` of a one-hot `tf.oneHot(labels)` runs ≈20 small kernels a
 * training step (the one-hot, the log-sum-exp, the products, their gradients): ≈1.2–1.6 ms of a
 * ≈21 ms smallCNN step at batch 10 on tfjs-wasm, where each small kernel costs tens of µs.
 *
 * The same formulas as tfjs's (`softmaxCrossEntropyWithLogits`): the loss `−Σ_c onehot_c (z_c −
 * lse)` (0 for a label outside `[0, C)`, whose one-hot row is all zeros; NaN where a logit is
 * NaN) and the gradient `dy · (exp(z_c − lse) − onehot_c)`, each row's log-sum-exp in float64
 * (tfjs: float32 operations), the results rounded to float32.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The forward kernel's name: inputs `logits` `[B, C]` (float32), `labels` `[B]`; output `[B]`. */
export const SOFTMAX_CROSS_ENTROPY = "MasokitSoftmaxCrossEntropy";
/** The gradient kernel's name: inputs `dy` `[B]`, `logits`, `labels`; output `[B, C]`. */
export const SOFTMAX_CROSS_ENTROPY_GRAD = "MasokitSoftmaxCrossEntropyGrad";

/** Switch for benchmarks and tests: the fused kernels where registered (tfjs's ops otherwise). */
export const fusedSoftmaxCrossEntropy = { enabled: true };

let gradientRegistered = false;

/**
 * Per-example softmax cross-entropy of `logits` `[B, C]` against integer `labels` `[B]`: one
 * {@linkcode SOFTMAX_CROSS_ENTROPY} kernel (and its gradient) where the active backend has it,
 * else `tf.losses.softmaxCrossEntropy` of `tf.oneHot(labels, C)` with no reduction.
 *
 * @param labels Class indices, int32.
 * @param logits The model's outputs (logits), float32.
 * @param classes C.
 * @returns The losses `[B]`.
 */
export function softmaxCrossEntropy(
  labels: tf.Tensor1D,
  logits: tf.Tensor,
  classes: number,
): tf.Tensor1D {
  const fused = fusedSoftmaxCrossEntropy.enabled && logits.rank === 2 &&
    logits.dtype === "float32" && logits.shape[1] === classes && labels.rank === 1 &&
    labels.shape[0] === logits.shape[0] &&
    tf.getKernel(SOFTMAX_CROSS_ENTROPY, tf.getBackend()) !== undefined;
  if (!fused) {
    return tf.losses.softmaxCrossEntropy(
      tf.oneHot(labels, classes),
      logits,
      undefined,
      undefined,
      tf.Reduction.NONE,
    ) as tf.Tensor1D;
  }
  if (!gradientRegistered) {
    tf.registerGradient({
      kernelName: SOFTMAX_CROSS_ENTROPY,
      inputsToSave: ["logits", "labels"],
      gradFunc: (dy, [z, y]) => ({
        logits: () =>
          tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD, {
            dy: dy as tf.Tensor,
            logits: z,
            labels: y,
          }) as tf.Tensor,
        labels: () => tf.zerosLike(y),
      }),
    });
    gradientRegistered = true;
  }
  return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, { logits, labels }) as tf.Tensor1D;
}

/**
 * Each row's `z_c − lse` (float64), handed to `emit(b, c, v, hot)` with whether `c` is the row's
 * label.
 */
function eachCost(
  z: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  emit: (b: number, c: number, cost: number, hot: boolean) => void,
): void {
  for (let b = 0; b < rows; b++) {
    const row = b * classes;
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, z[row + c]);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(z[row + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < classes; c++) emit(b, c, z[row + c] - lse, labels[b] === c);
  }
}

/**
 * The two kernels over plain arrays (a backend reads its inputs and writes its outputs around
 * them): the losses `[rows]` and the gradient `[rows, classes]`.
 */
export const softmaxCrossEntropyValues = {
  loss(
    z: ArrayLike<number>,
    labels: ArrayLike<number>,
    rows: number,
    classes: number,
    out: Float32Array,
  ): void {
    const sums = new Float64Array(rows);
    eachCost(z, labels, rows, classes, (b, _c, cost, hot) => (sums[b] -= (hot ? 1 : 0) * cost));
    out.set(sums);
  },
  grad(
    dy: ArrayLike<number>,
    z: ArrayLike<number>,
    labels: ArrayLike<number>,
    rows: number,
    classes: number,
    out: Float32Array,
  ): void {
    eachCost(z, labels, rows, classes, (b, c, cost, hot) => {
      out[b * classes + c] = dy[b] * (Math.exp(cost) - (hot ? 1 : 0));
    });
  },
};
