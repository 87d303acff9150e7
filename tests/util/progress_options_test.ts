import * as tf from "@tensorflow/tfjs";
import { assertRejects, assertStrictEquals, assertThrows } from "../_assert.ts";
import { ProgressBar, type ProgressMode } from "../../lib/util/progress.ts";
import { train } from "../../lib/train/train.ts";

Deno.test("ProgressBar refuses an unknown mode and a bad width, naming them", async (t) => {
  await t.step("mode 'termnal' (a typo) drew nothing; now it is refused", () => {
    assertThrows(
      () => new ProgressBar(3, { mode: "termnal" as ProgressMode, write: () => {} }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          `Cannot create a progress bar: mode is "termnal", expected one of "auto", ` +
            `"terminal", "jupyter", "lines", "silent"`,
    );
  });
  await t.step("width -1 threw from the first redraw; now the constructor names it", () => {
    assertThrows(
      () => new ProgressBar(3, { mode: "terminal", width: -1, write: () => {} }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message === "Cannot create a progress bar: width is -1, expected an integer ≥ 0",
    );
  });
  await t.step("width 0 still draws", async () => {
    let out = "";
    const bar = new ProgressBar(2, { mode: "terminal", width: 0, write: (s) => out += s });
    await bar.finish();
    assertStrictEquals(out.startsWith("\r[] 2/2 100%"), true, out);
  });
  await t.step("train() with progress 'bar' is refused before a step is taken", async () => {
    await tf.setBackend("cpu");
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
    const before = Array.from(model.getWeights()[0].dataSync());
    const x = tf.tensor2d([[1, 0], [0, 1], [1, 1], [0, 0]]);
    const y = tf.tensor1d([0, 1, 0, 1], "int32");
    await assertRejects(
      () =>
        train(model, { train: { x, y }, classes: 2 }, {
          epochs: 1,
          batchSize: 2,
          progress: "bar" as ProgressMode,
        }),
      /mode is "bar"/,
    );
    assertStrictEquals(
      JSON.stringify(Array.from(model.getWeights()[0].dataSync())),
      JSON.stringify(before),
    );
  });
});
