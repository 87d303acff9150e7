import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertAllClose, assertStrictEquals, assertThrows } from "../_assert.ts";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import {
  fusedOrthogonalityPenalty,
  ORTHOGONALITY_PENALTY,
  ORTHOGONALITY_PENALTY_GRAD,
} from "../../lib/train/_orthogonality_kernel.ts";
import {
  orthogonalityPenalty,
  OrthogonalTemplates,
  orthogonalTemplates,
} from "../../lib/train/orthogonality.ts";
import { train } from "../../lib/train/train.ts";
import { Rng } from "../../lib/util/rng.ts";

registerWasmTrainingKernels();
await tf.setBackend("cpu");

/**
 * Runs `check` on tfjs-cpu (tfjs's ops), on wasm (the fused kernels: checked to have run, the
 * gradient's too where `gradient`) and on wasm with them switched off.
 */
async function onEachPath(
  check: (path: string) => void | Promise<void>,
  gradient = false,
): Promise<void> {
  for (const [backend, fused] of [["cpu", true], ["wasm", true], ["wasm", false]] as const) {
    await tf.setBackend(backend);
    fusedOrthogonalityPenalty.enabled = fused;
    try {
      const path = `${backend}${fused ? "" : ", fused off"}`;
      const { kernelNames } = await tf.profile(() => check(path));
      const ran = kernelNames.includes(ORTHOGONALITY_PENALTY);
      assertStrictEquals(ran, backend === "wasm" && fused, `${path}: ${kernelNames}`);
      const gradRan = kernelNames.includes(ORTHOGONALITY_PENALTY_GRAD);
      assertStrictEquals(gradRan, gradient && ran, `${path}, its gradient: ${kernelNames}`);
    } finally {
      fusedOrthogonalityPenalty.enabled = true;
      await tf.setBackend("cpu");
    }
  }
}

/** Eq. (13) in float64, straight from the formula: W_c is column c of the [in, C] kernel. */
function penaltyF64(w: Float64Array, inputs: number, classes: number): number {
  let s = 0;
  for (let c1 = 0; c1 < classes; c1++) {
    for (let c2 = 0; c2 < classes; c2++) {
      if (c1 === c2) continue;
      let dot = 0;
      for (let i = 0; i < inputs; i++) dot += w[i * classes + c1] * w[i * classes + c2];
      s += dot * dot;
    }
  }
  return s;
}

function randomKernel(rng: Rng, inputs: number, classes: number): Float64Array {
  return Float64Array.from({ length: inputs * classes }, () => rng.next() * 2 - 1);
}

Deno.test("orthogonalityPenalty() matches eq. (13) computed by brute force", async () => {
  await onEachPath((path) => {
    const rng = new Rng(11);
    for (const [inputs, classes] of [[5, 3], [7, 10], [2, 4], [1, 1], [1152, 10]]) {
      const w = randomKernel(rng, inputs, classes);
      const got = orthogonalityPenalty(tf.tensor2d(Float32Array.from(w), [inputs, classes]));
      const what = `${inputs}x${classes}, ${path}`;
      assertAllClose(got.dataSync(), [penaltyF64(w, inputs, classes)], 1e-5, what);
    }
  });
});

Deno.test("orthogonalityPenalty() is 0 for orthogonal class rows", async (t) => {
  await t.step("scaled identity columns", () =>
    onEachPath(() => {
      const w = tf.tensor2d([[2, 0, 0], [0, -3, 0], [0, 0, 0.5], [0, 0, 0]]);
      assertStrictEquals(orthogonalityPenalty(w).dataSync()[0], 0);
    }));
  await t.step("a single class has no pair", () =>
    onEachPath(() => {
      assertStrictEquals(orthogonalityPenalty(tf.tensor2d([[1], [2]])).dataSync()[0], 0);
    }));
  await t.step("rotated orthonormal rows", () =>
    onEachPath(() => {
      const a = 0.3;
      const w = tf.tensor2d([[Math.cos(a), -Math.sin(a)], [Math.sin(a), Math.cos(a)]]);
      assert(orthogonalityPenalty(w).dataSync()[0] < 1e-12);
    }));
  await t.step("an infinite weight: NaN, as tfjs's mask (∞ · 0) gives", () =>
    onEachPath((path) => {
      const w = tf.tensor2d([[Infinity, 1], [0, 1]]); // off the diagonal ∞, not NaN
      assert(Number.isNaN(orthogonalityPenalty(w).dataSync()[0]), path);
    }));
});

Deno.test("orthogonalityPenalty() gradient matches float64 finite differences", async () => {
  await onEachPath((path) => {
    const rng = new Rng(5);
    for (const [inputs, classes] of [[6, 4], [40, 10]]) {
      const w = randomKernel(rng, inputs, classes);
      // 2.5 × the penalty: its gradient scales dy
      const grad = tf.grad((k: tf.Tensor) => tf.mul(2.5, orthogonalityPenalty(k)))(
        tf.tensor2d(Float32Array.from(w), [inputs, classes]),
      );
      const h = 1e-6;
      const fd = new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) {
        const p = w.slice(), m = w.slice();
        p[i] += h;
        m[i] -= h;
        fd[i] = 2.5 * (penaltyF64(p, inputs, classes) - penaltyF64(m, inputs, classes)) / (2 * h);
      }
      // float32 autodiff vs float64 central differences
      assertAllClose(grad.dataSync(), fd, 1e-4, `d penalty / dW, ${inputs}x${classes}, ${path}`);
    }
  }, true);
});

Deno.test("orthogonalTemplates() rejects invalid λ and kernels", async (t) => {
  await t.step(
    "λ < 0",
    () => assertThrows(() => orthogonalTemplates({ lambda: -0.1 }), RangeError),
  );
  await t.step("λ NaN", () => assertThrows(() => orthogonalTemplates({ lambda: NaN }), RangeError));
  await t.step("λ Infinity", () => {
    assertThrows(() => orthogonalTemplates({ lambda: Infinity }), RangeError);
  });
  await t.step("λ not a number", () => {
    assertThrows(() => orthogonalTemplates({ lambda: "1" as unknown as number }), TypeError);
  });
  await t.step("λ = 0 is allowed", () => {
    assertStrictEquals(orthogonalTemplates({ lambda: 0 }).apply(tf.ones([2, 2])).dataSync()[0], 0);
  });
  await t.step("rank-4 (conv) kernel", () => {
    assertThrows(() => orthogonalityPenalty(tf.zeros([3, 3, 1, 2])), /shape \[3,3,1,2\]/);
  });
});

function headModel(lambda: number, seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 6,
        inputShape: [4],
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        units: 3,
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
        kernelRegularizer: lambda >= 0 ? orthogonalTemplates({ lambda }) : undefined,
      }),
    ],
  });
}

Deno.test("OrthogonalTemplates round-trips through toJSON / modelFromJSON", async () => {
  const model = headModel(0.7, 1);
  const json = model.toJSON(null, false) as Record<string, unknown>;
  const text = JSON.stringify(json);
  assert(text.includes('"class_name":"OrthogonalTemplates"'), text);
  const loaded = await tf.models.modelFromJSON({ modelTopology: JSON.parse(text) });
  const reg = (loaded.layers[1] as unknown as { kernelRegularizer: unknown }).kernelRegularizer;
  assert(reg instanceof OrthogonalTemplates);
  assertStrictEquals((reg as OrthogonalTemplates).lambda, 0.7);
  loaded.setWeights(model.getWeights());
  loaded.predict(tf.zeros([1, 4]));
  model.predict(tf.zeros([1, 4]));
  const [a] = loaded.calculateLosses(), [b] = model.calculateLosses();
  const kernel = model.layers[1].getWeights()[0];
  const expected = 0.7 * penaltyF64(Float64Array.from(kernel.dataSync()), 6, 3);
  assertAllClose(a.dataSync(), [expected], 1e-5, "loaded model loss");
  assertAllClose(b.dataSync(), [expected], 1e-5, "original model loss");
});

Deno.test("model.fit() adds λ · penalty to the loss it reports", async () => {
  const lambda = 0.4;
  const model = headModel(lambda, 2);
  model.compile({ optimizer: tf.train.sgd(0), loss: "meanSquaredError" });
  const rng = new Rng(3);
  const x = tf.tensor2d(Float32Array.from({ length: 32 }, () => rng.next()), [8, 4]);
  const y = tf.tensor2d(Float32Array.from({ length: 24 }, () => rng.next()), [8, 3]);
  const h = await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
  const pred = (model.predict(x) as tf.Tensor).dataSync(), target = y.dataSync();
  let mse = 0;
  for (let i = 0; i < pred.length; i++) mse += (pred[i] - target[i]) ** 2;
  mse /= pred.length;
  const kernel = Float64Array.from(model.layers[1].getWeights()[0].dataSync());
  const expected = mse + lambda * penaltyF64(kernel, 6, 3);
  assertAllClose([h.history.loss[0] as number], [expected], 1e-5, "fit loss");
});

Deno.test("train() adds the kernelRegularizer penalty (same as its orthogonality option)", async () => {
  const rng = new Rng(8);
  const n = 30;
  const x = tf.tensor2d(Float32Array.from({ length: n * 4 }, () => rng.next() * 2 - 1), [n, 4]);
  const y = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % 3), "int32");
  const data = { train: { x, y }, classes: 3 };
  const opts = { epochs: 2, batchSize: 6, learningRate: 0.05, seed: 4, silent: true };
  const withReg = headModel(2, 9);
  const r1 = await train(withReg, data, opts);
  const withOption = headModel(-1, 9); // no regularizer in the model
  const r2 = await train(withOption, data, { ...opts, orthogonality: 2 });
  const plain = headModel(-1, 9);
  await train(plain, data, opts);
  const w1 = withReg.getWeights().map((t) => Array.from(t.dataSync()));
  const w2 = withOption.getWeights().map((t) => Array.from(t.dataSync()));
  const w3 = plain.getWeights().map((t) => Array.from(t.dataSync()));
  for (let i = 0; i < w1.length; i++) assertAllClose(w1[i], w2[i], 1e-6, `weight ${i}`);
  assert(JSON.stringify(w1) !== JSON.stringify(w3), "the penalty changed nothing");
  assert(r1.history[0].trainPenalty > 0);
  assertAllClose([r1.history[0].trainPenalty], [r2.history[0].trainPenalty], 1e-6);
});
