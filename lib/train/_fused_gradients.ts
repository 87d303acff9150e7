/**
 * Batch-norm's training gradients through fused kernels, for every backend that registers them
 * (`MasokitBatchNormGrad`, `MasokitBroadcastLeading`: lib/train/wasm_kernels.ts for `wasm`,
 * lib/train/webgpu_kernels.ts for `webgpu`): the gradients of `FusedBatchNorm` and of
 * `Mean`/`Sum` over leading axes, replaced in tfjs's (global) gradient registry by versions that
 * call those kernels where the active backend has them and tfjs's own gradients otherwise; and
 * ReLU's gradient the same way (`MasokitReluGrad`, `wasm` only).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Name of the fused batch-norm gradient kernel (its `wasm` and `webgpu` versions). */
export const BATCH_NORM_GRAD = "MasokitBatchNormGrad";
/** Name of the broadcast kernel used by the Mean/Sum gradients over leading axes. */
export const BROADCAST_LEADING = "MasokitBroadcastLeading";
/** Name of ReLU's gradient kernel, `dy · step(x)` in one pass (its `wasm` version). */
export const RELU_GRAD = "MasokitReluGrad";

/** The gradient configs replaced by {@link fusedGradients}, for fallbacks and restoring. */
const originalGrads = new Map<string, tf.GradConfig>();
const ourGrads = new Map<string, tf.GradConfig>();

function fallbackGrad(name: string): tf.GradConfig {
  const g = originalGrads.get(name);
  if (g === undefined) throw new Error(`Cannot fall back to the gradient of '${name}': none saved`);
  return g;
}

/** True when the active backend has kernel `name` (wasm_kernels.ts and webgpu_kernels.ts register them). */
function activeBackendHas(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

const isF32 = (t: tf.Tensor | undefined | null) => t == null || t.dtype === "float32";

/**
 * FusedBatchNorm's gradient through one {@link BATCH_NORM_GRAD} kernel where the active backend
 * has it and μ, σ², γ are per-channel vectors; tfjs's own gradient otherwise.
 */
const batchNormGradConfig: tf.GradConfig = {
  kernelName: "FusedBatchNorm",
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const d = dy as tf.Tensor;
    const c = mean.shape[0];
    const fusable = activeBackendHas(BATCH_NORM_GRAD) && mean.rank === 1 &&
      variance.rank === 1 && variance.shape[0] === c && x.rank >= 2 &&
      x.shape[x.rank - 1] === c && (scale == null || (scale.rank === 1 && scale.shape[0] === c)) &&
      tf.util.arraysEqual(d.shape, x.shape) && [x, mean, variance, scale, d].every(isF32);
    if (!fusable) return fallbackGrad("FusedBatchNorm").gradFunc(dy, saved, attrs);
    const inputs: tf.NamedTensorMap = scale == null
      ? { x, mean, variance, dy: d }
      : { x, mean, variance, scale, dy: d };
    const [dx, dMean, dVariance, dScale, dOffset] = tf.engine().runKernel(
      BATCH_NORM_GRAD,
      inputs,
      { varianceEpsilon: attrs.varianceEpsilon },
    ) as tf.Tensor[];
    return {
      x: () => dx,
      mean: () => dMean,
      variance: () => dVariance,
      scale: () => dScale,
      offset: () => dOffset,
    };
  },
};

/**
 * Mean's and Sum's gradient over leading axes (batch-norm's moments): one
 * {@link BROADCAST_LEADING} pass instead of ones × dy ÷ n; tfjs's own gradient otherwise.
 */
function leadingReduceGradConfig(name: "Mean" | "Sum"): tf.GradConfig {
  return {
    kernelName: name,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) =>
        a - b
      );
      const k = axes.length;
      const leading = k > 0 && k < x.rank && axes.every((a, i) => a === i);
      if (!leading || !isF32(x) || !isF32(d) || !activeBackendHas(BROADCAST_LEADING)) {
        return fallbackGrad(name).gradFunc(dy, saved, attrs);
      }
      const rows = tf.util.sizeFromShape(x.shape.slice(0, k));
      return {
        x: () =>
          tf.engine().runKernel(BROADCAST_LEADING, { x: d }, {
            shape: x.shape,
            divisor: name === "Mean" ? rows : 1,
          }) as tf.Tensor,
      };
    },
  };
}

/** ReLU's gradient through one {@link RELU_GRAD} kernel; tfjs's (`Step`, `Multiply`) otherwise. */
const reluGradConfig: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const d = dy as tf.Tensor;
    if (
      !activeBackendHas(RELU_GRAD) || !isF32(x) || !isF32(d) ||
      !tf.util.arraysEqual(d.shape, x.shape)
    ) {
      return fallbackGrad("Relu").gradFunc(dy, saved, attrs);
    }
    return { x: () => tf.engine().runKernel(RELU_GRAD, { x, dy: d }) as tf.Tensor };
  },
};

const fusedGradients: tf.GradConfig[] = [
  batchNormGradConfig,
  leadingReduceGradConfig("Mean"),
  leadingReduceGradConfig("Sum"),
  reluGradConfig,
];

/**
 * Installs (true) or restores (false) the fused gradients, globally in tfjs's gradient registry;
 * returns the names changed.
 *
 * @param on Install or restore.
 * @returns The gradients' kernel names that changed.
 */
export function setFusedGradients(on: boolean): string[] {
  const changed: string[] = [];
  for (const config of fusedGradients) {
    const name = config.kernelName;
    const current = tf.getGradient(name);
    const isOursNow = current !== undefined && current === ourGrads.get(name);
    if (on && !isOursNow) {
      if (current === undefined) continue; // nothing to fall back to
      originalGrads.set(name, current);
      tf.registerGradient(config);
      ourGrads.set(name, config);
      changed.push(name);
    } else if (!on && isOursNow) {
      tf.registerGradient(fallbackGrad(name));
      ourGrads.delete(name);
      changed.push(name);
    }
  }
  return changed;
}
