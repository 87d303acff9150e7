/**
 * `train()` on tfjs-webgpu (`selectBackend({ prefer: "webgpu" })`) with masokit's training kernels (batch-norm reductions and gradients,
 * the fused Adam update, writeBuffer uploads) against the same training on tfjs-cpu with tfjs's
 * own kernels, gradients and Adam: same data, seed and initial weights, so the two runs differ
 * only by float32 rounding.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import { selectBackend } from "../../lib/train/backend.ts";
import { train, type TrainData } from "../../lib/train/train.ts";
import { Rng } from "../../lib/util/rng.ts";
import { assert, assertAllClose, assertEquals } from "../_assert.ts";

await tf.ready();
const hasWebGpu = await tf.setBackend("webgpu").then((ok) => ok, () => false);
await tf.setBackend("cpu");
if (!hasWebGpu) console.warn("train_webgpu_test: no WebGPU adapter, test ignored");

/** 3 classes of 6×6×1 images: a class-dependent pattern plus noise. */
function toyData(seed: number, n: number): TrainData {
  const rng = new Rng(seed);
  const means = Array.from({ length: 3 }, () => Array.from({ length: 36 }, () => rng.next()));
  const make = (m: number) => {
    const x = new Float32Array(m * 36), y = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      y[i] = (i * 5) % 3;
      for (let j = 0; j < 36; j++) x[i * 36 + j] = means[y[i]][j] + rng.next() - 0.5;
    }
    return { x: tf.tensor4d(x, [m, 6, 6, 1]), y: tf.tensor1d(y, "int32") };
  };
  return { train: make(n), test: make(12), classes: 3 };
}

/** conv → batch-norm → ReLU → max-pool → dense, seeded. */
function model(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [6, 6, 1],
        filters: 4,
        kernelSize: 3,
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }),
      }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 3,
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }),
      }),
    ],
  });
}

async function trainOn(backend: "cpu" | "webgpu") {
  // webgpu as a user asks for it: masokit's kernels registered, the device shared
  const choice = await selectBackend({ prefer: backend });
  assertEquals(choice.backend, backend);
  try {
    const data = toyData(5, 36);
    const m = model();
    const result = await train(m, data, {
      epochs: 3,
      batchSize: 6,
      learningRate: 0.01,
      orthogonality: 0.5,
      seed: 3,
      silent: true,
    });
    const weights = await Promise.all(m.getWeights().map((w) => w.data() as Promise<Float32Array>));
    tf.dispose([data.train.x, data.train.y, data.test!.x, data.test!.y]);
    return { weights, history: result.history };
  } finally {
    await tf.setBackend("cpu");
  }
}

Deno.test({
  name: "train() on webgpu with masokit's kernels follows train() on cpu",
  ignore: !hasWebGpu,
  fn: async () => {
    const cpu = await trainOn("cpu");
    const gpu = await trainOn("webgpu");
    assertEquals(gpu.weights.length, cpu.weights.length);
    // weights after 18 Adam steps, moving statistics included (they agree within ≈1e-5)
    for (let i = 0; i < cpu.weights.length; i++) {
      let scale = 0;
      for (const v of cpu.weights[i]) scale = Math.max(scale, Math.abs(v));
      assertAllClose(gpu.weights[i], cpu.weights[i], 1e-4, `weight ${i}`, scale);
    }
    for (let e = 0; e < cpu.history.length; e++) {
      const [a, b] = [gpu.history[e], cpu.history[e]];
      assert(
        Math.abs(a.trainLoss - b.trainLoss) <= 1e-3 * Math.abs(b.trainLoss),
        `epoch ${e} loss ${a.trainLoss} vs ${b.trainLoss}`,
      );
    }
  },
});
