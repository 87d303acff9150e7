/**
 * The orthogonality penalty of eq. (13), `Σ_{i≠j} (WᵀW)_ij²` for a final layer's weights `W`
 * `[K, C]`, as one kernel call forward and one backward (`MasokitOrthogonalityPenalty`,
 * `MasokitOrthogonalityPenaltyGrad`: registered for `wasm` by lib/train/wasm_kernels.ts), where
 * tfjs's ops (the Gram matrix, the off-diagonal mask, the square, the sum, and their gradients)
 * are ≈14 small kernels: 0.7–1.5 ms of a ≈19 ms smallCNN step at batch 10 on tfjs-wasm (a
 * scratch A/B, `bench/train_step_bench.ts --ab=orthogonality` measures it in a step).
 *
 * The Gram matrix `G = WᵀW` and the gradient `dW = W · H`, `H = 4·dy·(G ⊙ (1 − I))`, by the
 * small products' SIMD kernel (lib/train/_wasm_small_matmul.ts, float32), the penalty's sum in
 * float64. A non-finite diagonal entry makes the penalty NaN, as tfjs's mask (`G ⊙ (1 − I)`,
 * where ∞ · 0 is NaN) does.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The forward kernel's name: input `kernel` `[K, C]` (float32); output a scalar. */
export const ORTHOGONALITY_PENALTY = "MasokitOrthogonalityPenalty";
/** The gradient kernel's name: inputs `dy` (scalar), `kernel`; output `[K, C]`. */
export const ORTHOGONALITY_PENALTY_GRAD = "MasokitOrthogonalityPenaltyGrad";

/** Switch for benchmarks and tests: the fused kernels where registered (tfjs's ops otherwise). */
export const fusedOrthogonalityPenalty = { enabled: true };

let gradientRegistered = false;

/**
 * The penalty of a float32 `[K, C]` kernel by {@linkcode ORTHOGONALITY_PENALTY} (and its
 * gradient) where switched on and the active backend has it; null otherwise (the caller runs
 * tfjs's ops).
 *
 * @param kernel The weights, already checked to be `[K, C]`.
 * @returns The penalty, or null.
 */
export function fusedPenalty(kernel: tf.Tensor): tf.Scalar | null {
  if (
    !fusedOrthogonalityPenalty.enabled || kernel.dtype !== "float32" || kernel.rank !== 2 ||
    tf.getKernel(ORTHOGONALITY_PENALTY, tf.getBackend()) === undefined
  ) return null;
  if (!gradientRegistered) {
    tf.registerGradient({
      kernelName: ORTHOGONALITY_PENALTY,
      inputsToSave: ["kernel"],
      gradFunc: (dy, [w]) => ({
        kernel: () =>
          tf.engine().runKernel(ORTHOGONALITY_PENALTY_GRAD, {
            dy: dy as tf.Tensor,
            kernel: w,
          }) as tf.Tensor,
      }),
    });
    gradientRegistered = true;
  }
  return tf.engine().runKernel(ORTHOGONALITY_PENALTY, { kernel }) as tf.Scalar;
}

/**
 * The kernels' scalar parts, around the Gram matrix `G = WᵀW` `[c, c]` (the backend computes it
 * and `dW = W · H`): the penalty from `G`, and the gradient's factor `H = 4·dy·(G ⊙ (1 − I))`.
 */
export const orthogonalityPenaltyValues = {
  penalty(g: ArrayLike<number>, c: number): number {
    let s = 0;
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < c; j++) {
        const v = g[i * c + j] * (i === j ? 0 : 1); // ∞ · 0 on the diagonal: NaN, as tfjs's mask
        s += v * v;
      }
    }
    return s;
  },
  gradFactor(g: ArrayLike<number>, c: number, dy: number, out: Float32Array): void {
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < c; j++) out[i * c + j] = 4 * dy * g[i * c + j] * (i === j ? 0 : 1);
    }
  },
};
