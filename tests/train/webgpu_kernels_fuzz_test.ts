import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import { registerWebGpuTrainingKernels } from "../../lib/train/webgpu_kernels.ts";
import { assertAllClose, largestMagnitude } from "../_assert.ts";
import { fuzzRng as rng, on } from "./_backends.ts";

await tf.ready();
const hasWebGpu = await tf.setBackend("webgpu").then((ok) => ok, () => false);
await tf.setBackend("cpu");
if (!hasWebGpu) console.warn("webgpu_kernels_fuzz_test: no WebGPU adapter, webgpu tests ignored");
registerWebGpuTrainingKernels();

Deno.test({
  name: "Sum, Mean and batch-norm gradients on webgpu equal tfjs-cpu on random shapes",
  ignore: !hasWebGpu,
  fn: async (t) => {
    const r = rng(20261127);
    for (let it = 0; it < 10; it++) {
      const rank = r.int(2, 4);
      // odd sizes, channels not multiples of 4 or of the column tile, sometimes many rows
      // (one leading axis up to 600 for several stage-1 groups; at most ≈60k values: llvmpipe)
      const shape = Array.from({ length: rank - 1 }, () => r.int(1, 12));
      shape[r.int(0, rank - 2)] = r.pick([r.int(1, 12), r.int(100, 600)]);
      shape.push(r.pick([r.int(1, 17), r.int(60, 140)]));
      if (shape.reduce((a, b) => a * b) > 60_000) shape[rank - 1] = r.int(1, 17);
      const k = r.int(1, rank - 1), keepDims = r.pick([true, false]);
      const axes = shape.slice(0, k).map((_, i) => i);
      const n = shape.reduce((a, b) => a * b), c = shape[rank - 1];
      const xv = r.values(n, { offset: r.pick([0, 3]) }), wv = r.values(n);
      const gv = r.values(c, { offset: 1 }), bv = r.values(c);
      await t.step(`[${shape}] over [${axes}]${keepDims ? ", keepDims" : ""}`, async () => {
        const all = shape.slice(0, -1).map((_, i) => i);
        const run = () => {
          const x = tf.tensor(xv, shape);
          const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
            const { mean, variance } = tf.moments(a, all);
            const y = tf.batchNorm(a, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
            return tf.sum(tf.mul(y, tf.tensor(wv, shape)));
          };
          return [
            tf.sum(x, axes, keepDims),
            tf.mean(x, axes, keepDims),
            ...tf.grads(f)([x, tf.tensor1d(gv), tf.tensor1d(bv)]),
          ];
        };
        const cpu = await on("cpu", run);
        const gpu = await on("webgpu", run);
        const tols = [1e-5, 1e-5, 1e-4, 1e-4, 1e-4]; // float32 sums in different orders
        cpu.forEach((expected, i) =>
          assertAllClose(
            gpu[i],
            expected,
            tols[i],
            `output ${i}`,
            Math.max(largestMagnitude(expected), 1e-30),
          )
        );
      });
    }
  },
});
