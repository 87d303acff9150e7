import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../_assert.ts";
import { mlp } from "../../lib/models/mlp.ts";
import {
  allWeights,
  batchNorm,
  dense,
  randomizeBatchNorm,
  randomizeBiases,
  relativeDifference,
} from "./_reference.ts";

Deno.test("mlp() builds flatten → (dense → BN → activation)* → logits", async (t) => {
  await t.step("defaults: [32, 32, 3] input, hidden [256, 256], 10 classes", () => {
    const model = mlp({ seed: 0 });
    assertEquals(model.layers.map((l) => l.name), [
      ...["flatten", "dense1", "bn1", "relu1", "dense2", "bn2", "relu2", "logits"],
    ]);
    assertEquals(model.getLayer("dense1").getWeights()[0].shape, [3072, 256]);
    assertEquals(model.getLayer("dense1").getConfig().useBias, false);
    assertEquals(model.getLayer("logits").getWeights().map((w) => w.shape), [[256, 10]]);
    assertEquals((model.predict(tf.zeros([4, 32, 32, 3])) as tf.Tensor).shape, [4, 10]);
  });
  await t.step("vector input, no batch-norm, leaky ReLU", () => {
    const model = mlp({ inputShape: [5], hidden: [4], batchNorm: false, activation: "leakyRelu" });
    assertEquals(model.layers.map((l) => l.getClassName()), ["Dense", "LeakyReLU", "Dense"]);
    assertEquals(model.getLayer("dense1").getConfig().useBias, true);
    assertEquals(model.getLayer("leaky_relu1").getConfig().alpha, 0.3);
  });
  await t.step("no hidden layers: a linear classifier", () => {
    const model = mlp({ inputShape: [28, 28, 1], hidden: [], classes: 2 });
    assertEquals(model.layers.map((l) => l.name), ["flatten", "logits"]);
  });
});

Deno.test("mlp() computes the documented forward pass for every activation", () => {
  const acts = {
    relu: (h: tf.Tensor2D) => tf.relu(h),
    leakyRelu: (h: tf.Tensor2D) => tf.leakyRelu(h, 0.2),
    abs: (h: tf.Tensor2D) => tf.abs(h),
  } as const;
  for (const bn of [true, false]) {
    for (const [activation, f] of Object.entries(acts)) {
      const model = mlp({
        inputShape: [3, 2],
        hidden: [5, 4],
        classes: 3,
        batchNorm: bn,
        activation: activation as keyof typeof acts,
        alpha: 0.2,
        seed: 8,
      });
      randomizeBatchNorm(model, 1);
      randomizeBiases(model, 2);
      const x = tf.randomNormal([6, 3, 2], 0, 1, "float32", 4);
      let h = tf.reshape(x, [6, 6]) as tf.Tensor2D;
      for (const i of [1, 2]) {
        h = dense(model, `dense${i}`, h);
        if (bn) h = batchNorm(model, `bn${i}`, h);
        h = f(h) as tf.Tensor2D;
      }
      const expected = dense(model, "logits", h);
      const err = relativeDifference(model.predict(x) as tf.Tensor, expected);
      assert(err < 1e-5, `${activation} batchNorm ${bn}: ${err}`);
    }
  }
});

Deno.test("mlp() seeds: same seed, same weights; layers and seeds differ", () => {
  const options = { inputShape: [8], hidden: [8, 8] };
  const a = allWeights(mlp({ ...options, seed: 1 }));
  assertEquals(a, allWeights(mlp({ ...options, seed: 1 })));
  assertNotEquals(a, allWeights(mlp({ ...options, seed: 2 })));
  const m = mlp({ ...options, seed: 1, batchNorm: false });
  assertNotEquals(
    m.getLayer("dense1").getWeights()[0].dataSync(),
    m.getLayer("dense2").getWeights()[0].dataSync(),
  );
});

Deno.test("mlp() rejects bad options", () => {
  assertThrows(() => mlp({ hidden: [4, 0] }), {
    name: "RangeError",
    message: /hidden is \[4, 0\]/,
  });
  assertThrows(() => mlp({ inputShape: [] }), {
    name: "RangeError",
    message: /inputShape is \[\]/,
  });
  assertThrows(() => mlp({ inputShape: [2, -1] }), { name: "RangeError", message: /\[2, -1\]/ });
  assertThrows(() => mlp({ classes: 1 }), { name: "RangeError", message: /classes is 1/ });
  assertThrows(() => mlp({ activation: "sigmoid" as "relu" }), {
    name: "RangeError",
    message: /activation is "sigmoid", expected one of "relu", "leakyRelu", "abs"/,
  });
  assertThrows(() => mlp({ alpha: -0.5 }), { name: "RangeError", message: /alpha is -0.5/ });
  assertThrows(() => mlp({ batchNorm: "yes" as unknown as boolean }), TypeError);
});
