import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import { type EpochRecord, train, type TrainData } from "../../lib/train/train.ts";
import { Rng } from "../../lib/util/rng.ts";

await tf.setBackend("cpu");

/** 3 classes of 4×4×1 "images": a class-dependent mean pattern plus uniform noise. */
function toyData(seed: number, n = 60, classes = 3): TrainData {
  const rng = new Rng(seed);
  const means = Array.from({ length: classes }, () => Array.from({ length: 16 }, () => rng.next()));
  const make = (m: number) => {
    const x = new Float32Array(m * 16), y = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      y[i] = (i * 7) % classes;
      for (let j = 0; j < 16; j++) x[i * 16 + j] = means[y[i]][j] + rng.next() - 0.5;
    }
    return { x: tf.tensor4d(x, [m, 4, 4, 1]), y: tf.tensor1d(y, "int32") };
  };
  return { train: make(n), test: make(30), classes };
}

/** ~200 parameters, with batch-norm (non-trainable moving statistics included). */
function tinyModel(seed: number, classes = 3): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({ units: 8, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.dense({
        units: classes,
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((t) => Array.from(t.dataSync()));
}

const withoutTime = (h: EpochRecord[]) => h.map(({ seconds: _, ...r }) => r);

Deno.test("train() is reproducible: same seed gives identical weights", async (t) => {
  const data = toyData(1);
  const opts = { epochs: 2, batchSize: 6, learningRate: 0.01, silent: true, orthogonality: 0.5 };
  const a = tinyModel(3), b = tinyModel(3), c = tinyModel(3);
  const ra = await train(a, data, { ...opts, seed: 7 });
  const rb = await train(b, data, { ...opts, seed: 7 });
  await t.step("identical weights and history", () => {
    assertEquals(weightsOf(a), weightsOf(b));
    assertEquals(withoutTime(ra.history), withoutTime(rb.history));
  });
  await t.step("another seed gives other weights", async () => {
    await train(c, data, { ...opts, seed: 8 });
    assert(JSON.stringify(weightsOf(a)) !== JSON.stringify(weightsOf(c)));
  });
});

Deno.test("train() learns and records per-epoch history", async () => {
  const data = toyData(2);
  const { history, resumedFrom, stopped } = await train(tinyModel(5), data, {
    epochs: 6,
    batchSize: 6,
    learningRate: 0.02,
    schedule: { kind: "exponential", rate: 0.9 },
    silent: true,
  });
  assertStrictEquals(resumedFrom, 0);
  assertStrictEquals(stopped, false);
  assertEquals(history.map((r) => r.epoch), [1, 2, 3, 4, 5, 6]);
  history.forEach((r, e) => assertAllClose([r.learningRate], [0.02 * 0.9 ** e], 1e-12));
  assert(history[5].trainLoss < history[0].trainLoss, JSON.stringify(history));
  assert(history[5].testAccuracy! > 0.8, `test accuracy ${history[5].testAccuracy}`);
  // trainAccuracy counts whole batches: a multiple of 1/(steps·batch) = 1/60.
  for (const r of history) assertAllClose([r.trainAccuracy * 60 % 1], [0], 1e-9);
});

Deno.test("train() test metrics equal an independent evaluation", async () => {
  const data = toyData(3);
  const model = tinyModel(2);
  const { history } = await train(model, data, { epochs: 1, batchSize: 6, silent: true });
  const logits = model.predict(data.test!.x) as tf.Tensor2D;
  const rows = logits.arraySync(), y = data.test!.y.dataSync();
  let ce = 0, correct = 0;
  rows.forEach((z, i) => {
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    ce += lse - z[y[i]];
    if (z.indexOf(Math.max(...z)) === y[i]) correct++;
  });
  assertAllClose([history[0].testLoss!], [ce / rows.length], 1e-5);
  assertStrictEquals(history[0].testAccuracy, correct / rows.length);
});

Deno.test("train() step schedule divides the learning rate at the given epochs", async () => {
  const { history } = await train(tinyModel(1), toyData(4, 12), {
    epochs: 5,
    batchSize: 6,
    learningRate: 1e-3,
    schedule: { kind: "step", epochs: [2, 4], factor: 0.2 },
    silent: true,
  });
  assertAllClose(history.map((r) => r.learningRate), [1e-3, 1e-3, 2e-4, 2e-4, 4e-5], 1e-12);
});

Deno.test("train() takes one Adam step (β1 0.9, β2 0.999, ε 1e-8) as the formula says", async () => {
  // First Adam step: m̂ = g, v̂ = g², so w1 = w0 − lr·g/(|g| + ε).
  const x = tf.tensor2d([[1, 2], [0.5, -1], [-1, 0.3], [2, 1]]);
  const y = tf.tensor1d([0, 1, 0, 1], "int32");
  const make = () =>
    tf.sequential({
      layers: [tf.layers.dense({
        units: 2,
        inputShape: [2],
        useBias: false,
        kernelInitializer: tf.initializers.constant({ value: 0.1 }),
      })],
    });
  const model = make();
  const w0 = model.getWeights()[0];
  const g = tf.grad((w: tf.Tensor) =>
    tf.losses.softmaxCrossEntropy(tf.oneHot(y, 2), tf.matMul(x, w as tf.Tensor2D))
  )(w0).dataSync();
  const w0v = w0.dataSync();
  const lr = 0.01;
  await train(model, { train: { x, y }, classes: 2 }, {
    epochs: 1,
    batchSize: 4,
    learningRate: lr,
    sampling: "shuffle",
    silent: true,
  });
  const expected = Array.from(w0v, (w, i) => w - lr * g[i] / (Math.abs(g[i]) + 1e-8));
  assertAllClose(model.getWeights()[0].dataSync(), expected, 1e-6);
});

Deno.test("train() resumed after a stop equals an uninterrupted run exactly", async () => {
  const data = toyData(5);
  const dir = await Deno.makeTempDir();
  try {
    const opts = {
      batchSize: 6,
      learningRate: 0.01,
      seed: 3,
      silent: true,
      orthogonality: 0.3,
      schedule: { kind: "exponential" as const, rate: 0.5 },
    };
    const straight = tinyModel(4);
    const full = await train(straight, data, { ...opts, epochs: 2 });
    // "Kill" after epoch 1: abort at the next step, the checkpoint of epoch 1 is on disk.
    const ac = new AbortController();
    const first = await train(tinyModel(4), data, {
      ...opts,
      epochs: 2,
      checkpointDir: dir,
      signal: ac.signal,
      onEpochEnd: () => ac.abort(),
    });
    assertStrictEquals(first.stopped, true);
    assertStrictEquals(first.history.length, 1);
    // A fresh process would build a fresh model (other init): the checkpoint overrides it.
    const resumedModel = tinyModel(99);
    const resumed = await train(resumedModel, data, { ...opts, epochs: 2, checkpointDir: dir });
    assertStrictEquals(resumed.resumedFrom, 1);
    assertEquals(weightsOf(resumedModel), weightsOf(straight));
    assertEquals(withoutTime(resumed.history), withoutTime(full.history));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train() resumes exactly after the process is killed (SIGKILL)", async () => {
  const dir = await Deno.makeTempDir();
  const root = new URL("../../", import.meta.url);
  // The child and this test build the same data and model from this shared fixture.
  const fixture = `${dir}/fixture.ts`;
  await Deno.writeTextFile(
    fixture,
    `import * as tf from "@tensorflow/tfjs";
import { Rng } from "${new URL("lib/util/rng.ts", root).href}";
export function data() {
  const rng = new Rng(12);
  const n = 36, x = new Float32Array(n * 5), y = new Int32Array(n);
  for (let i = 0; i < n; i++) { y[i] = i % 3; for (let j = 0; j < 5; j++) x[i * 5 + j] = rng.next() + (j === y[i] ? 1 : 0); }
  return { train: { x: tf.tensor2d(x, [n, 5]), y: tf.tensor1d(y, "int32") }, classes: 3 };
}
export function model(seed) {
  return tf.sequential({ layers: [
    tf.layers.dense({ units: 6, inputShape: [5], activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
  ] });
}
export const options = { epochs: 3, batchSize: 6, learningRate: 0.02, seed: 5, silent: true, orthogonality: 0.1 };
`,
  );
  const child = `${dir}/child.ts`;
  await Deno.writeTextFile(
    child,
    `import * as tf from "@tensorflow/tfjs";
import { train } from "${new URL("lib/train/train.ts", root).href}";
import { data, model, options } from "./fixture.ts";
await tf.setBackend("cpu");
await train(model(1), data(), { ...options, checkpointDir: Deno.args[0], onEpochEnd: async (r) => {
  if (r.epoch === 1) { console.log("EPOCH1"); await new Promise(() => setInterval(() => {}, 1000)); }
} });
`,
  );
  try {
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        `--config=${new URL("deno.json", root).pathname}`,
        child,
        `${dir}/ckpt`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("EPOCH1")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    proc.kill("SIGKILL");
    const status = await proc.status;
    await reader.cancel();
    assert(seen.includes("EPOCH1"), `child output: ${seen}`);
    assertStrictEquals(status.success, false);
    const fx = await import(new URL(`file://${fixture}`).href);
    const straight = fx.model(1);
    await train(straight, fx.data(), fx.options);
    const resumedModel = fx.model(50);
    const r = await train(resumedModel, fx.data(), { ...fx.options, checkpointDir: `${dir}/ckpt` });
    assertStrictEquals(r.resumedFrom, 1);
    assertEquals(weightsOf(resumedModel), weightsOf(straight));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train() rejects bad input with a message quoting it", async (t) => {
  const data = toyData(6, 12);
  await t.step("batch not a multiple of the classes", async () => {
    await assertRejects(
      () => train(tinyModel(1), data, { epochs: 1, batchSize: 4, silent: true }),
      /batchSize 4 is not a multiple of the 3 classes/,
    );
  });
  await t.step("label out of range", async () => {
    const bad = {
      ...data,
      train: { x: data.train.x, y: tf.tensor1d(new Array(12).fill(3), "int32") },
    };
    await assertRejects(
      () => train(tinyModel(1), bad, { epochs: 1, batchSize: 6, silent: true }),
      /data\.train\.y\[0\] is 3, expected an integer in \[0, 3\)/,
    );
  });
  await t.step("x and y lengths differ", async () => {
    const bad = { ...data, train: { x: data.train.x, y: tf.tensor1d([0, 1], "int32") } };
    await assertRejects(
      () => train(tinyModel(1), bad, { epochs: 1, batchSize: 6, silent: true }),
      /x has 12 examples, y has 2/,
    );
  });
  await t.step("a non-finite input value, named by example and index", async () => {
    for (const [which, value] of [["train", NaN], ["test", Infinity]] as const) {
      const clean = which === "train" ? data.train : data.test!;
      const values = clean.x.dataSync().slice() as Float32Array;
      values[2 * 16 + 7] = value; // example 2, pixel (1, 3)
      const split = { x: tf.tensor(values, clean.x.shape), y: clean.y };
      const dir = await Deno.makeTempDir();
      try {
        await assertRejects(
          () =>
            train(tinyModel(1), { ...data, [which]: split }, {
              epochs: 1,
              batchSize: 6,
              silent: true,
              checkpointDir: dir,
            }),
          (e: Error) =>
            e instanceof RangeError &&
            e.message ===
              `Cannot train: data.${which}.x value ${value} at example 2, index 7 is not finite`,
        );
        assertEquals([...Deno.readDirSync(dir)], []);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  });
  await t.step("classes differ from the model's outputs", async () => {
    for (const sampling of ["balanced", "shuffle"] as const) {
      await assertRejects(
        () => train(tinyModel(1, 2), data, { epochs: 1, batchSize: 6, silent: true, sampling }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message === "Cannot train: model outputs 2 logits, data.classes is 3",
      );
    }
    await assertRejects(
      () =>
        train(tinyModel(1, 4), data, { epochs: 1, batchSize: 6, silent: true, fromLogits: false }),
      /model outputs 4 probabilities, data\.classes is 3/,
    );
  });
  await t.step("negative λ", async () => {
    await assertRejects(
      () => train(tinyModel(1), data, { epochs: 1, batchSize: 6, silent: true, orthogonality: -1 }),
      RangeError,
    );
  });
  await t.step("resume with other options", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await train(tinyModel(1), data, {
        epochs: 1,
        batchSize: 6,
        silent: true,
        checkpointDir: dir,
      });
      await assertRejects(
        () =>
          train(tinyModel(1), data, {
            epochs: 2,
            batchSize: 6,
            seed: 9,
            silent: true,
            checkpointDir: dir,
          }),
        /trained with seed 0, this call has 9/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
