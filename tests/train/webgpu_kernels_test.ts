import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import {
  registerWebGpuTrainingKernels,
  unregisterWebGpuTrainingKernels,
} from "../../lib/train/webgpu_kernels.ts";
import { assert, assertAllClose, assertEquals } from "../_assert.ts";
import { on } from "./_backends.ts";

/** Deterministic pseudo-random values in [-1, 1), plus an offset (a mean far from 0). */
function values(n: number, seed: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = offset + ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string) {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  assertAllClose(actual, expected, tol, what, Math.max(scale, 1e-30));
}

await tf.ready();
const hasWebGpu = await tf.setBackend("webgpu").then((ok) => ok, () => false);
await tf.setBackend("cpu");
if (!hasWebGpu) console.warn("webgpu_kernels_test: no WebGPU adapter, webgpu tests ignored");
registerWebGpuTrainingKernels();

Deno.test("registerWebGpuTrainingKernels() is idempotent and can be undone", () => {
  assertEquals(registerWebGpuTrainingKernels(), { replaced: [], alreadyRegistered: true });
  const mine = tf.getKernel("Mean", "webgpu");
  assertEquals(unregisterWebGpuTrainingKernels().sort(), ["Mean", "Sum"]);
  const original = tf.getKernel("Mean", "webgpu");
  assert(original !== undefined && original !== mine, "the original Mean kernel is back");
  assertEquals(unregisterWebGpuTrainingKernels(), []);
  assertEquals(registerWebGpuTrainingKernels().replaced.sort(), ["Mean", "Sum"]);
  assert(tf.getKernel("Mean", "webgpu") !== original, "masokit's Mean is registered again");
});

Deno.test({
  name: "Sum and Mean over leading axes on webgpu equal the cpu backend's",
  ignore: !hasWebGpu,
  fn: async (t) => {
    const cases: { shape: number[]; axes: number[]; keepDims?: boolean }[] = [
      { shape: [64, 30, 30, 32], axes: [0, 1, 2] }, // smallCNN's first BN: two stages
      { shape: [3, 5, 4, 6], axes: [0, 1, 2], keepDims: true }, // one stage
      { shape: [7, 130], axes: [0] }, // three column tiles, last one partial
      { shape: [5000, 1], axes: [0] }, // one column, many groups
      { shape: [6, 4, 9], axes: [0, 1] },
      { shape: [4, 5, 6], axes: [1, 2] }, // not leading: the original kernel
      { shape: [4, 5], axes: [0, 1] }, // all axes: the original kernel
    ];
    for (const { shape, axes, keepDims } of cases) {
      await t.step(`${shape.join("×")} over [${axes}]${keepDims ? ", keepDims" : ""}`, async () => {
        const xv = values(size(shape), size(shape) % 97 + 1, 3);
        const run = () => {
          const x = tf.tensor(xv, shape);
          return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
        };
        const cpu = await on("cpu", run);
        const gpu = await on("webgpu", run);
        // float32 sums of up to 57,600 terms in different orders.
        assertClose(gpu[0], cpu[0], 1e-5, "sum");
        assertClose(gpu[1], cpu[1], 1e-5, "mean");
      });
    }
  },
});

Deno.test({
  name: "batch-norm training gradients on webgpu with these kernels equal the cpu backend's",
  ignore: !hasWebGpu,
  fn: async () => {
    const shape = [8, 10, 10, 12];
    const xv = values(size(shape), 5, 0.5), wv = values(size(shape), 6);
    const gv = values(12, 7, 1), bv = values(12, 8);
    const run = () => {
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const y = tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
        return tf.sum(tf.mul(y, tf.tensor(wv, shape)));
      };
      const x = tf.tensor(xv, shape);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return [mean, variance, ...tf.grads(f)([x, tf.tensor1d(gv), tf.tensor1d(bv)])];
    };
    const cpu = await on("cpu", run);
    const gpu = await on("webgpu", run);
    const names = ["mean", "variance", "dx", "dγ", "dβ"];
    for (let i = 0; i < cpu.length; i++) assertClose(gpu[i], cpu[i], 1e-4, names[i]);
  },
});
