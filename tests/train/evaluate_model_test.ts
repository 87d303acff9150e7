import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects } from "../_assert.ts";
import { evaluateModel } from "../../lib/train/train.ts";

await tf.setBackend("cpu");

const model = tf.sequential({
  layers: [tf.layers.dense({ units: 2, inputShape: [2], useBias: false, weights: [tf.eye(2)] })],
});
const split = (labels: number[]) => ({
  x: tf.tensor2d([[1, 0], [0, 1], [2, 0], [0, 3]]),
  y: tf.tensor1d(labels, "int32"),
});

Deno.test("evaluateModel() checks its arguments", async (t) => {
  await t.step("labels in range: accuracy as computed by hand", async () => {
    const { accuracy } = await evaluateModel(model, split([0, 1, 0, 0]), 2, 3, true);
    assertEquals(accuracy, 0.75);
  });
  // a label ≥ C gave an all-zero one-hot row: loss 0 and a silently wrong accuracy
  await t.step("a label out of range is named", async () => {
    await assertRejects(
      () => evaluateModel(model, split([0, 1, 2, 0]), 2, 2, true),
      (e: Error) =>
        e instanceof RangeError &&
        e.message === "Cannot evaluate: split.y[2] is 2, expected an integer in [0, 2)",
    );
  });
  await t.step("x and y lengths differ", async () => {
    await assertRejects(
      () => evaluateModel(model, { x: tf.zeros([3, 2]), y: tf.tensor1d([0, 1]) }, 2, 2, true),
      /Cannot evaluate: split\.x has 3 examples, y has 2/,
    );
  });
  // batch size 0 looped forever (last: before the fix it hangs the process)
  for (const batchSize of [-1, 1.5, NaN, 0]) {
    await t.step(`batch size ${batchSize}`, async () => {
      await assertRejects(
        () => evaluateModel(model, split([0, 1, 0, 1]), 2, batchSize, true),
        (e: Error) =>
          e instanceof RangeError &&
          e.message === `Cannot evaluate: batchSize is ${batchSize}, expected an integer ≥ 1`,
      );
    });
  }
});
