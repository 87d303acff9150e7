/**
 * Adam's update on tfjs's `webgpu` backend in three dispatches a variable instead of ≈12.
 *
 * tfjs 4.22's `AdamOptimizer.applyGradients` records, for each variable, about twelve
 * elementwise ops (two moments, the bias corrections, the square root, the step) and uploads the
 * JS numbers it uses (1 − β₁, −lr, ε, …) as scalar tensors; on tfjs-webgpu each op is a dispatch.
 * Here each of m′, v′ and w′ is one dispatch of `MasokitAdamUpdate` that reads m, v, g, w and the
 * accumulated β powers (on the GPU) and computes, in float32 and in tfjs's order of operations,
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
import { FlatProgram, type KernelArgs, runFlat } from "./_webgpu_programs.ts";

/** Name of the fused Adam kernel (registered for `webgpu` by lib/train/webgpu_kernels.ts). */
export const ADAM_UPDATE = "MasokitAdamUpdate";

/** Which of the three results a dispatch computes. */
type Part = "m" | "v" | "w";

/** One of m′, v′, w′ for every element (inputs w, m, v, g and the β powers [1]). */
class AdamProgram extends FlatProgram {
  variableNames = ["w", "m", "v", "g", "accBeta1", "accBeta2"];
  uniforms = "beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, " +
    "epsilon : f32, negLr : f32,";
  shaderKey: string;
  #part: Part;
  constructor(total: number, part: Part) {
    super(total);
    this.#part = part;
    this.shaderKey = `masokit_adam_${part}`;
  }
  value(): string {
    return `adam${this.#part.toUpperCase()}(index)`;
  }
  override getUserCode(): string {
    return `
      fn adamM(i : i32) -> f32 {
        return f32(m[i]) * uniforms.beta1 + f32(g[i]) * uniforms.oneMinusBeta1;
      }
      fn adamV(i : i32) -> f32 {
        let gi = f32(g[i]);
        return f32(v[i]) * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;
      }
      fn adamW(i : i32) -> f32 {
        let mHat = adamM(i) / (1.0 - f32(accBeta1[0]));
        let vHat = adamV(i) / (1.0 - f32(accBeta2[0]));
        return (mHat / (sqrt(vHat) + uniforms.epsilon)) * uniforms.negLr + f32(w[i]);
      }
      fn main(index : i32) {
        // every input statically used: WebGPU's automatic bind-group layout leaves out the
        // buffers a shader does not use, and tfjs binds all of them
        _ = f32(w[0]) + f32(m[0]) + f32(v[0]) + f32(g[0]) + f32(accBeta1[0]) + f32(accBeta2[0]);
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${this.value()});
        }
      }
    `;
  }
}

/**
 * `MasokitAdamUpdate` on webgpu: inputs w, m, v, g (one shape), accBeta1, accBeta2 (scalars);
 * attrs beta1, beta2, epsilon, learningRate; outputs m′, v′, w′.
 */
export function adamUpdate(args: KernelArgs): tf.TensorInfo[] {
  const { inputs: { w, m, v, g, accBeta1, accBeta2 }, backend, attrs } = args;
  const [beta1, beta2, epsilon, lr] = ["beta1", "beta2", "epsilon", "learningRate"].map((k) =>
    attrs[k] as number
  );
  const uniforms = [beta1, 1 - beta1, beta2, 1 - beta2, epsilon, -lr].map((x) => ({
    type: "float32",
    data: [x],
  }));
  const total = tf.util.sizeFromShape(w.shape);
  return (["m", "v", "w"] as const).map((part) =>
    runFlat(
      backend,
      new AdamProgram(total, part),
      [w, m, v, g, accBeta1, accBeta2],
      uniforms,
      w.shape,
    )
  );
}

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
  const backend = tf.getBackend();
  if (original === null) throw new Error("Cannot apply Adam's fused update: it is not installed");
  if (tf.getKernel(ADAM_UPDATE, backend) === undefined) {
    return original.call(this, variableGradients);
  }
  const named = Array.isArray(variableGradients);
  const names = named ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  const gradientOf = (name: string, i: number): tf.Tensor | undefined =>
    named ? variableGradients[i].tensor : variableGradients[name];
  const variables = tf.engine().registeredVariables;
  const allF32 = names.every((name, i) => {
    const g = gradientOf(name, i);
    return variables[name]?.dtype === "float32" && (g == null || g.dtype === "float32");
  });
  if (!allF32) return original.call(this, variableGradients);
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
 * Installs (true) or restores (false) the fused `AdamOptimizer.prototype.applyGradients`
 * (globally: every tfjs Adam optimizer; where the active backend lacks {@link ADAM_UPDATE} it
 * runs tfjs's own update).
 *
 * @param on Install or restore.
 * @returns Whether anything changed.
 */
export function setFusedAdam(on: boolean): boolean {
  if (on && original === null) {
    original = proto.applyGradients;
    proto.applyGradients = fusedApply;
    return true;
  }
  if (!on && original !== null) {
    proto.applyGradients = original;
    original = null;
    return true;
  }
  return false;
}
