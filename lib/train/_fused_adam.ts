/**
 * Adam's update as one kernel call a variable, on every backend that registers
 * `MasokitAdamUpdate` (lib/train/_webgpu_adam.ts for `webgpu`, lib/train/wasm_kernels.ts for
 * `wasm`), instead of tfjs 4.22's ≈12 elementwise ops a variable (two moments, the bias
 * corrections, the square root, the step), each a kernel call with its own overhead (a dispatch on
 * a GPU) and the JS numbers it uses (1 − β₁, −lr, ε, …) made into scalar tensors. The kernel
 * computes, in float32 and in tfjs's order of operations,
 *
 *   m′ = m·β₁ + g·(1 − β₁),  v′ = v·β₂ + g²·(1 − β₂),
 *   w′ = (m′ / (1 − β₁ᵗ)) / (√(v′ / (1 − β₂ᵗ)) + ε)·(−lr) + w.
 *
 * The optimizer's state (its moment variables, their names, the β powers, the iteration count)
 * is tfjs's own, so checkpoints (`getWeights` / `setWeights`) are unchanged.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Name of the fused Adam kernel: inputs w, m, v, g (one shape), accBeta1, accBeta2 (scalars:
 * β₁ᵗ, β₂ᵗ); attrs beta1, beta2, epsilon, learningRate; outputs m′, v′, w′.
 */
export const ADAM_UPDATE = "MasokitAdamUpdate";

/** The fields of tfjs's `AdamOptimizer` that its `applyGradients` uses. */
interface AdamLike {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  incrementIterations(): void;
}

type Gradients = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];
type Apply = (this: AdamLike, variableGradients: Gradients) => void;

const proto = tf.AdamOptimizer.prototype as unknown as { applyGradients: Apply };
let original: Apply | null = null;

/**
 * tfjs's `applyGradients`, with each variable's update as one {@link ADAM_UPDATE} kernel call
 * where the active backend has it and the variable, its gradient and the state are float32;
 * tfjs's own otherwise. The moments are created lazily as tfjs does (same names, same order).
 */
function fusedApply(this: AdamLike, variableGradients: Gradients): void {
  const tfjsApply = original!; // installed before this can run
  if (tf.getKernel(ADAM_UPDATE, tf.getBackend()) === undefined) {
    return tfjsApply.call(this, variableGradients);
  }
  const named = Array.isArray(variableGradients);
  const names = named ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  const gradientOf = (name: string, i: number): tf.Tensor | undefined =>
    named ? variableGradients[i].tensor : variableGradients[name];
  const variables = tf.engine().registeredVariables;
  const fusable = names.every((name, i) => {
    const g = gradientOf(name, i), w = variables[name];
    return w?.dtype === "float32" &&
      (g == null || (g.dtype === "float32" && tf.util.arraysEqual(g.shape, w.shape)));
  });
  if (!fusable) return tfjsApply.call(this, variableGradients);
  tf.tidy(() => {
    names.forEach((name, i) => {
      const value = variables[name];
      if (this.accumulatedFirstMoment[i] == null) {
        this.accumulatedFirstMoment[i] = {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      }
      if (this.accumulatedSecondMoment[i] == null) {
        this.accumulatedSecondMoment[i] = {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      }
      const gradient = gradientOf(name, i);
      if (gradient == null) return;
      const m = this.accumulatedFirstMoment[i].variable;
      const v = this.accumulatedSecondMoment[i].variable;
      const [m1, v1, w1] = tf.engine().runKernel(ADAM_UPDATE, {
        w: value,
        m,
        v,
        g: gradient,
        accBeta1: this.accBeta1,
        accBeta2: this.accBeta2,
      }, {
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        learningRate: this.learningRate,
      }) as tf.Tensor[];
      m.assign(m1);
      v.assign(v1);
      value.assign(w1);
    });
    this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
    this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
  });
  this.incrementIterations();
}

/**
 * Installs the fused `AdamOptimizer.prototype.applyGradients`, once (globally: every tfjs Adam
 * optimizer; where the active backend lacks {@link ADAM_UPDATE} it runs tfjs's own update, so a
 * backend's registration turns it off by removing its kernel).
 *
 * @returns Whether it was installed now (false: it already was).
 */
export function installFusedAdam(): boolean {
  if (original !== null) return false;
  original = proto.applyGradients;
  proto.applyGradients = fusedApply;
  return true;
}
