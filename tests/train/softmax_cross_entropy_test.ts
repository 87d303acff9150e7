import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import {
  fusedSoftmaxCrossEntropy,
  SOFTMAX_CROSS_ENTROPY,
  SOFTMAX_CROSS_ENTROPY_GRAD,
  softmaxCrossEntropy,
} from "../../lib/train/_softmax_cross_entropy.ts";
import { assert, assertAllClose, assertEquals } from "../_assert.ts";
import { fuzzRng, on } from "./_backends.ts";

registerWasmTrainingKernels();
// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Per-example losses and d(Σ_b w_b · loss_b)/dlogits in float64, tfjs's formulas. */
function reference(z: Float32Array, labels: number[], classes: number, w: Float32Array) {
  const rows = labels.length, loss = new Float64Array(rows), grad = new Float64Array(z.length);
  for (let b = 0; b < rows; b++) {
    const row = Array.from(z.subarray(b * classes, (b + 1) * classes));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    row.forEach((v, c) => {
      const hot = labels[b] === c ? 1 : 0;
      loss[b] -= hot * (v - lse);
      grad[b * classes + c] = w[b] * (Math.exp(v - lse) - hot);
    });
  }
  return { loss, grad };
}

Deno.test("softmax cross-entropy on wasm in two kernels equals tfjs's and a float64 reference", async (t) => {
  const rng = fuzzRng(7);
  const cases = [
    { rows: 10, classes: 10, labels: [3, 0, 9, 1, 2, 5, 5, 8, 7, 6], scale: 3 },
    // labels outside [0, C): a one-hot row of zeros (loss 0, gradient dy · softmax)
    { rows: 4, classes: 3, labels: [2, -1, 3, 0], scale: 1 },
    // large logits: the log-sum-exp must not overflow (exp(1000) does in float64)
    { rows: 2, classes: 5, labels: [4, 1], scale: 3000 },
    { rows: 1, classes: 2, labels: [1], scale: 1 },
  ];
  for (const c of cases) {
    await t.step(`${c.rows} × ${c.classes}, labels ${c.labels}`, async () => {
      const z = rng.values(c.rows * c.classes).map((v) => v * c.scale);
      const w = rng.values(c.rows, { offset: 1.5 });
      const run = () => {
        const labels = tf.tensor1d(c.labels, "int32"), weights = tf.tensor1d(w);
        const f = (logits: tf.Tensor) =>
          tf.sum(tf.mul(softmaxCrossEntropy(labels, logits, c.classes), weights));
        const logits = tf.tensor2d(z, [c.rows, c.classes]);
        return [softmaxCrossEntropy(labels, logits, c.classes), tf.grad(f)(logits)];
      };
      const kernels = await tf.setBackend("wasm").then(() => tf.profile(() => run()));
      await tf.setBackend("cpu");
      assert(kernels.kernelNames.includes(SOFTMAX_CROSS_ENTROPY), kernels.kernelNames.join());
      assert(kernels.kernelNames.includes(SOFTMAX_CROSS_ENTROPY_GRAD), kernels.kernelNames.join());
      tf.dispose(kernels.result as tf.Tensor[]);
      const [fused, cpu] = [await on("wasm", run), await on("cpu", run)];
      const ref = reference(z, c.labels, c.classes, w);
      assertAllClose(fused[0], ref.loss, 1e-6, "loss", 1 + c.scale);
      assertAllClose(fused[1], ref.grad, 1e-6, "gradient", 1);
      assertAllClose(fused[0], cpu[0], 1e-5, "loss against tfjs", 1 + c.scale);
      assertAllClose(fused[1], cpu[1], 1e-5, "gradient against tfjs", 1);
      c.labels.forEach((l, b) => {
        if (l < 0 || l >= c.classes) assertEquals(fused[0][b], 0, `row ${b}'s loss`);
      });
    });
  }
  await t.step("a NaN or −∞ logit gives its row NaN, as tfjs's ops do (0 · −∞)", async () => {
    const run = () => [
      softmaxCrossEntropy(
        tf.tensor1d([0, 1, 0], "int32"),
        tf.tensor2d([1, NaN, -Infinity, 2, 2, 0.5], [3, 2]),
        2,
      ),
    ];
    const [[fused], [cpu]] = [await on("wasm", run), await on("cpu", run)];
    for (const b of [0, 1]) {
      assert(Number.isNaN(fused[b]) && Number.isNaN(cpu[b]), `row ${b}: ${fused[b]} ${cpu[b]}`);
    }
    assertAllClose(fused.slice(2), cpu.slice(2), 1e-6, "row 2", 1);
  });
  await t.step("switched off, or on a backend without the kernels: tfjs's ops", async () => {
    const run = () => [softmaxCrossEntropy(tf.tensor1d([1], "int32"), tf.tensor2d([[0.5, 2]]), 2)];
    fusedSoftmaxCrossEntropy.enabled = false;
    try {
      await tf.setBackend("wasm");
      const { kernelNames } = await tf.profile(() => run());
      assert(!kernelNames.includes(SOFTMAX_CROSS_ENTROPY), kernelNames.join());
    } finally {
      fusedSoftmaxCrossEntropy.enabled = true;
      await tf.setBackend("cpu");
    }
    const { kernelNames } = await tf.profile(() => run());
    assert(!kernelNames.includes(SOFTMAX_CROSS_ENTROPY), kernelNames.join());
  });
});
