import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects } from "../_assert.ts";
import { train } from "../../lib/train/train.ts";

await tf.setBackend("cpu");

const dense = () =>
  tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], useBias: false })] });
const labels = (n: number) => tf.tensor1d(Array.from({ length: n }, (_, i) => i % 2), "int32");

Deno.test("train() checks every split's example shape against the model before training", async (t) => {
  const x = tf.randomNormal([10, 4], 0, 1, "float32", 1);
  await t.step("a test split of the wrong width fails before the first epoch", async () => {
    const model = dense();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    let epochs = 0;
    await assertRejects(
      () =>
        train(
          model,
          { train: { x, y: labels(10) }, test: { x: tf.zeros([3, 5]), y: labels(3) }, classes: 2 },
          { epochs: 1, batchSize: 2, silent: true, onEpochEnd: () => void epochs++ },
        ),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          "Cannot train: data.test.x has shape [3,5], the model takes examples of shape [4]",
    );
    assertEquals(epochs, 0);
    assertEquals(model.getWeights().map((w) => Array.from(w.dataSync())), before);
  });
  await t.step("training examples of the wrong rank are named as data.train.x", async () => {
    await assertRejects(
      () =>
        train(dense(), { train: { x: tf.zeros([10, 2, 2]), y: labels(10) }, classes: 2 }, {
          epochs: 1,
          batchSize: 2,
          silent: true,
        }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          "Cannot train: data.train.x has shape [10,2,2], the model takes examples of shape [4]",
    );
  });
  await t.step(
    "an empty training split says so, not 'value undefined at example NaN'",
    async () => {
      await assertRejects(
        () =>
          train(dense(), { train: { x: tf.zeros([0, 4]), y: labels(0) }, classes: 2 }, {
            epochs: 1,
            batchSize: 2,
            silent: true,
          }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message === "Cannot train: 0 steps per epoch (0 examples, batch 2), expected ≥ 1",
      );
    },
  );
  await t.step("a free (null) input dimension accepts any size", async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.globalAveragePooling1d({ inputShape: [null, 4] }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    const { history } = await train(
      model,
      { train: { x: tf.randomNormal([4, 3, 4]), y: labels(4) }, classes: 2 },
      { epochs: 1, batchSize: 2, silent: true },
    );
    assertEquals(history.length, 1);
  });
});

Deno.test("train() refuses option values that would be ignored or fail after an epoch", async (t) => {
  const data = { train: { x: tf.randomNormal([10, 4]), y: labels(10) }, classes: 2 };
  const cases: [string, Record<string, unknown>, string][] = [
    // "" trained without a single checkpoint
    [
      "checkpointDir ''",
      { checkpointDir: "" },
      `Cannot train: checkpointDir is "", expected a folder path`,
    ],
    // threw "options.onEpochEnd is not a function" only after the first epoch
    ["onEpochEnd 3", { onEpochEnd: 3 }, "Cannot train: onEpochEnd is number, not a function"],
    // could never stop the run
    ["signal {}", { signal: {} }, "Cannot train: signal is not an AbortSignal"],
  ];
  for (const [name, extra, message] of cases) {
    await t.step(name, async () => {
      const model = dense();
      const before = Array.from(model.getWeights()[0].dataSync());
      await assertRejects(
        () => train(model, data, { epochs: 1, batchSize: 2, silent: true, ...extra }),
        (e: Error) => e instanceof TypeError && e.message === message,
      );
      assertEquals(Array.from(model.getWeights()[0].dataSync()), before);
    });
  }
});
