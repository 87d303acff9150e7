import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import type { SplineNetwork } from "../../lib/network/spline_network.ts";
import type { Batch } from "../../lib/network/batch.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { assertAllClose, largestMagnitude } from "../_assert.ts";
import { randomArchitecture, randomInput } from "../_random_models.ts";

// tfjs' cpu backend is the oracle (the tfjs engine runs on it too)
await tf.setBackend("cpu");

/** Asserts closeness relative to the largest magnitude of `expected` (float32 scale). */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) {
  assertAllClose(actual, expected, tol, what, Math.max(largestMagnitude(expected), 1e-3));
}

/** Row c of each example's templates, `[N, D]`. */
function classTemplates(A: Float64Array, N: number, C: number, D: number, c: number) {
  const out = new Float64Array(N * D);
  for (let n = 0; n < N; n++) out.set(A.subarray((n * C + c) * D, (n * C + c + 1) * D), n * D);
  return out;
}

/**
 * ∂z_c/∂x by central differences of the float64 forward pass: exact for a piecewise-affine
 * network away from region boundaries (random inputs are).
 */
function centralDifferences(net: SplineNetwork, x: Batch, c: number): Float64Array {
  const N = x.shape[0], D = net.inputSize, C = net.outputSize, h = 1e-6;
  const g = new Float64Array(N * D);
  for (let d = 0; d < D; d++) {
    const up = x.data.slice(), down = x.data.slice();
    for (let n = 0; n < N; n++) {
      up[n * D + d] += h;
      down[n * D + d] -= h;
    }
    const fu = forward(net, { data: up, shape: x.shape }).data;
    const fd = forward(net, { data: down, shape: x.shape }).data;
    for (let n = 0; n < N; n++) g[n * D + d] = (fu[n * C + c] - fd[n * C + c]) / (2 * h);
  }
  return g;
}

Deno.test("fromLayersModel() of random architectures: forward, A·x+B and templates match tfjs", async (t) => {
  // seeds cover sequential and functional models, residual blocks (nested ones, three paths),
  // models nested as layers, every activation form, both paddings, and final softmaxes
  const seeds = Number(Deno.env.get("MASOKIT_FUZZ_SEEDS") ?? 30);
  for (let seed = 0; seed < seeds; seed++) {
    const arch = randomArchitecture(seed);
    const name = `seed ${seed} (${
      arch.functional ? "functional" : "sequential"
    } [${arch.inputShape}]): ${arch.description}`;
    await t.step(name, () => {
      const N = 3;
      const xt = randomInput(arch.inputShape, N, seed + 1000);
      const x: Batch = { data: Float64Array.from(xt.dataSync()), shape: xt.shape };
      const net = fromLayersModel(arch.model);
      const C = net.outputSize, D = net.inputSize;
      const logits = arch.logits(xt);
      const out = forward(net, x).data;
      close(out, logits.dataSync(), 1e-4, "forward vs tfjs");
      const { A, B } = affineMap(net, x, { backend: "cpu" });
      const recon = new Float64Array(N * C);
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          let s = B.data[n * C + c];
          for (let d = 0; d < D; d++) s += A.data[(n * C + c) * D + d] * x.data[n * D + d];
          recon[n * C + c] = s;
        }
      }
      close(recon, out, 1e-9, "A·x + B vs forward");
      const tfjs = affineMap(net, xt, { backend: "tfjs" });
      close(tfjs.A.dataSync(), A.data, 1e-4, "tfjs engine A");
      close(tfjs.B.dataSync(), B.data, 1e-4, "tfjs engine B");
      for (const c of new Set([0, C - 1])) {
        const mine = classTemplates(A.data, N, C, D, c);
        let grad: Float32Array | null = null;
        try {
          const g = tf.grad((v: tf.Tensor) =>
            tf.sum(tf.slice(arch.logits(v) as tf.Tensor2D, [0, c], [-1, 1]))
          )(xt);
          grad = g.dataSync() as Float32Array;
          g.dispose();
        } catch {
          // tfjs 4.22 cannot differentiate through an inference-mode BatchNormalization layer
        }
        // tfjs' own gradients of `same` pools disagree with its forward pass (average pools
        // divide by the full window, max-pools halve some): then central differences decide
        if (
          grad &&
          Math.max(...grad.map((g, i) => Math.abs(g - mine[i]))) <=
            1e-4 * Math.max(largestMagnitude(grad), 1e-3)
        ) {
          continue;
        }
        close(mine, centralDifferences(net, x, c), 1e-5, `template of class ${c}`);
      }
      for (const v of [xt, logits, tfjs.A, tfjs.B]) v.dispose();
    });
  }
});
