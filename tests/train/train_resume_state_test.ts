import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { train, type TrainData } from "../../lib/train/train.ts";
import { CheckpointError } from "../../lib/train/checkpoint.ts";

await tf.setBackend("cpu");

const model = (seed: number) =>
  tf.sequential({
    layers: [
      tf.layers.dense({
        units: 2,
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
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
const opts = { batchSize: 2, silent: true, learningRate: 0.1 } as const;
const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** A checkpoint after one epoch, edited by `edit(checkpointFolder)`; returns the folder. */
async function damaged(edit: (ckpt: string) => Promise<void>): Promise<[string, string]> {
  const dir = await Deno.makeTempDir();
  await train(model(1), data, { ...opts, epochs: 1, checkpointDir: dir });
  const { path } = JSON.parse(await Deno.readTextFile(`${dir}/latest.json`));
  await edit(`${dir}/${path}`);
  return [dir, `${dir}/${path}`];
}

async function editState(ckpt: string, f: (state: Record<string, unknown>) => void) {
  const saved = JSON.parse(await Deno.readTextFile(`${ckpt}/state.json`));
  f(saved.state);
  await Deno.writeTextFile(`${ckpt}/state.json`, JSON.stringify(saved));
}

Deno.test("train() refuses a damaged training state, naming state.json, model untouched", async (t) => {
  const cases: [string, (s: Record<string, unknown>) => void, string][] = [
    // trained on from epoch "1" (epoch + 1 === "11"), then failed to save step "11"
    ["epoch a string", (s) => s.epoch = "1", `has epoch "1", expected an integer ≥ 0`],
    // crashed with "Cannot read properties of null (reading 'push')" after an epoch
    ["history null", (s) => s.history = null, "has a history of null, expected 1 epochs"],
    ["history too short", (s) => s.history = [], "has a history of 0 epochs, expected 1 epochs"],
    ["sampler state zero", (s) => s.rng = [0, 0, 0, 0], "has a bad sampler state"],
    ["fingerprint missing", (s) => delete s.fingerprint, "has fingerprint undefined"],
  ];
  for (const [name, edit, message] of cases) {
    await t.step(name, async () => {
      const [dir, ckpt] = await damaged((c) => editState(c, edit));
      try {
        const m = model(2);
        const before = weights(m);
        await assertRejects(
          () => train(m, data, { ...opts, epochs: 2, checkpointDir: dir }),
          (e: Error) =>
            e instanceof CheckpointError && e.path === `${ckpt}/state.json` &&
            e.message.startsWith(`Cannot resume: the training state ${ckpt}/state.json ${message}`),
        );
        assertEquals(weights(m), before);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("train() refusing to resume leaves the model's weights as they were", async (t) => {
  await t.step("another seed", async () => {
    const [dir] = await damaged(async () => {});
    try {
      const m = model(2);
      const before = weights(m);
      await assertRejects(
        () => train(m, data, { ...opts, epochs: 2, seed: 5, checkpointDir: dir }),
        /trained with seed 0, this call has 5/,
      );
      // the checkpoint's weights were set into the model before the refusal
      assertEquals(weights(m), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("a checkpoint without optimizer state", async () => {
    const [dir] = await damaged((c) => Deno.remove(`${c}/optimizer.json`));
    try {
      const m = model(2);
      const before = weights(m);
      const error = await train(m, data, { ...opts, epochs: 2, checkpointDir: dir }).catch((e) =>
        e
      );
      assert(String(error).includes("it holds no optimizer state"), String(error));
      assertEquals(weights(m), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
