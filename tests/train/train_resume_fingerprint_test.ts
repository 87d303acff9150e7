import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects } from "../_assert.ts";
import { train, type TrainData, type TrainOptions } from "../../lib/train/train.ts";

await tf.setBackend("cpu");

/** Two Dense layers named by the caller (tfjs numbers default names per process). */
const model = () =>
  tf.sequential({
    layers: [
      tf.layers.dense({
        units: 3,
        inputShape: [4],
        name: "hidden",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 2,
        name: "head",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
const data: TrainData = {
  train: {
    x: tf.randomNormal([10, 4], 0, 1, "float32", 3),
    y: tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "int32"),
  },
  classes: 2,
};
const base = { batchSize: 2, silent: true, orthogonality: 0.5 } as const;

async function withCheckpoint(
  first: Partial<TrainOptions>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await train(model(), data, { ...base, ...first, epochs: 1, checkpointDir: dir });
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("train() refuses to resume with another penalized layer or fromLogits", async (t) => {
  await t.step("penaltyLayer changed from 'head' to 'hidden'", async () => {
    await withCheckpoint({ penaltyLayer: "head" }, async (dir) => {
      await assertRejects(
        () =>
          train(model(), data, {
            ...base,
            penaltyLayer: "hidden",
            epochs: 2,
            checkpointDir: dir,
          }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot resume from ${dir}: it was trained with penaltyWeightIndex 2, this call has 0`,
      );
    });
  });
  await t.step("fromLogits changed", async () => {
    await withCheckpoint({}, async (dir) => {
      await assertRejects(
        () => train(model(), data, { ...base, fromLogits: false, epochs: 2, checkpointDir: dir }),
        /trained with fromLogits true, this call has false/,
      );
    });
  });
  await t.step("the default layer named explicitly is the same layer", async () => {
    await withCheckpoint({}, async (dir) => {
      const r = await train(model(), data, {
        ...base,
        penaltyLayer: "head",
        epochs: 2,
        checkpointDir: dir,
      });
      assertEquals(r.resumedFrom, 1);
    });
  });
  await t.step("a checkpoint written before these keys were recorded still resumes", async () => {
    await withCheckpoint({}, async (dir) => {
      const { path } = JSON.parse(await Deno.readTextFile(`${dir}/latest.json`));
      const statePath = `${dir}/${path}/state.json`;
      const saved = JSON.parse(await Deno.readTextFile(statePath));
      delete saved.state.fingerprint.penaltyWeightIndex;
      delete saved.state.fingerprint.fromLogits;
      await Deno.writeTextFile(statePath, JSON.stringify(saved));
      const r = await train(model(), data, { ...base, epochs: 2, checkpointDir: dir });
      assertEquals(r.resumedFrom, 1);
    });
  });
});
