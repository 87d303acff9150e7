import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../_assert.ts";
import {
  fileIO,
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
} from "../../lib/train/checkpoint.ts";
import { orthogonalTemplates } from "../../lib/train/orthogonality.ts";

await tf.setBackend("cpu");

function model(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 5,
        inputShape: [3],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.batchNormalization({
        movingMeanInitializer: tf.initializers.randomUniform({ seed }),
      }),
      tf.layers.dense({
        units: 2,
        useBias: false,
        kernelRegularizer: orthogonalTemplates({ lambda: 0.25 }),
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

const values = (m: tf.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("fileIO() saves model.json + weights.bin and loads the same model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = model(1);
    await m.save(fileIO(dir));
    assertEquals(await listDir(dir), ["model.json", "weights.bin"]);
    const loaded = await tf.loadLayersModel(fileIO(dir));
    assertEquals(values(loaded), values(m));
    const x = tf.tensor2d([[0.1, -2, 3], [1, 1, 1]]);
    assertEquals(
      (loaded.predict(x) as tf.Tensor).arraySync(),
      (m.predict(x) as tf.Tensor).arraySync(),
    );
    const reg = (loaded.layers[2] as unknown as { kernelRegularizer: { lambda: number } })
      .kernelRegularizer;
    assertStrictEquals(reg.lambda, 0.25);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileIO() detects weights that do not belong to model.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await model(1).save(fileIO(dir));
    const bytes = await Deno.readFile(`${dir}/weights.bin`);
    bytes[0] ^= 0xff; // as if a save was killed between the two renames
    await Deno.writeFile(`${dir}/weights.bin`, bytes);
    await assertRejects(() => tf.loadLayersModel(fileIO(dir)), /does not match model\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveCheckpoint() keeps the newest checkpoints and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = model(2);
    for (const step of [1, 2, 3]) {
      await saveCheckpoint(dir, { model: m, step, state: { step }, keep: 2 });
    }
    const names = await listDir(dir);
    assertStrictEquals(names.filter((n) => n.startsWith("ckpt-000002-")).length, 1);
    assertStrictEquals(names.filter((n) => n.startsWith("ckpt-000003-")).length, 1);
    assertStrictEquals(names.length, 3, names.join(", ")); // + latest.json
    assert(!names.some((n) => n.includes("tmp")));
    const ckpt = await loadCheckpoint(dir);
    assertStrictEquals(ckpt?.step, 3);
    assertEquals(ckpt?.state, { step: 3 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restoreCheckpoint() restores Adam exactly: the next steps match", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2], [0, 0, 1], [2, -1, 0]]);
    const y = tf.tensor2d([[1, 0], [0, 1], [1, 0], [0, 1]]);
    const stepFn = (m: tf.LayersModel, opt: tf.Optimizer) => {
      const vars = m.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
      opt.minimize(
        () => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor),
        false,
        vars,
      );
    };
    const a = model(3), optA = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    // After 2 steps, tfjs's own setWeights would set β2ᵗ = pow(0.999, 3), which differs in the
    // last float32 bit from the product accumulated step by step: the saved value must be used.
    for (let i = 0; i < 2; i++) stepFn(a, optA);
    await saveCheckpoint(dir, { model: a, optimizer: optA, step: 2 });
    const b = model(42), optB = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    const r = await restoreCheckpoint(dir, { model: b, optimizer: optB });
    assertStrictEquals(r?.step, 2);
    assertEquals(values(b), values(a));
    for (let i = 0; i < 5; i++) {
      stepFn(a, optA);
      stepFn(b, optB);
    }
    assertEquals(values(b), values(a));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restoreCheckpoint() refuses a model of another shape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(dir, { model: model(1), step: 1 });
    const other = tf.sequential({ layers: [tf.layers.dense({ units: 5, inputShape: [4] })] });
    await assertRejects(
      () => restoreCheckpoint(dir, { model: other }),
      /it has 7 weights, the model has 2/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
