/**
 * `MasokitAdamUpdate` (lib/train/_fused_adam.ts) on tfjs's `webgpu` backend: each of m′, v′ and
 * w′ one dispatch that reads m, v, g, w and the accumulated β powers (on the GPU): three
 * dispatches a variable instead of ≈12.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { FlatProgram, type KernelArgs, runFlat } from "./_webgpu_programs.ts";

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
