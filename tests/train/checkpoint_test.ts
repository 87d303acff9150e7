import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../_assert.ts";
import {
  CheckpointError,
  fileIO,
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
} from "../../lib/train/checkpoint.ts";
import { orthogonalTemplates } from "../../lib/train/orthogonality.ts";
import { train } from "../../lib/train/train.ts";

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

Deno.test("a damaged checkpoint file gives a CheckpointError naming it", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const m = model(3);
    const optimizer = tf.train.adam(0.01);
    optimizer.minimize(() => tf.sum(m.predict(tf.ones([2, 3])) as tf.Tensor));
    const ckpt = await saveCheckpoint(dir, { model: m, optimizer, step: 1, state: { epoch: 1 } });
    const y = tf.tensor1d([0, 1, 0, 1, 0, 1], "int32");
    const data = { train: { x: tf.randomUniform([6, 3]), y }, classes: 2 };
    const cases: [string, string | Uint8Array, RegExp][] = [
      ["latest.json", '{"step": 1, "pa', /latest\.json is not valid JSON/],
      ["latest.json", "null", /latest\.json: it holds null, expected \{"step"/],
      ["latest.json", '{"step": 1, "path": "../x"}', /latest\.json: it holds .*expected/],
      ["model.json", '{"modelTopology": {', /model\.json is not valid JSON/],
      ["model.json", "[]", /model\.json is not a tfjs model\.json/],
      ["state.json", '{"step": 1, "st', /state\.json is not valid JSON/],
      ["state.json", "null", /state\.json holds null, expected \{"step", "state"\}/],
      ["optimizer.json", "{", /optimizer\.json is not valid JSON/],
      ["optimizer.json", "7", /optimizer\.json holds 7, expected an object with className/],
      ["optimizer.bin", new Uint8Array(3), /optimizer\.bin \(3 bytes, crc32 \d+\) does not match/],
      ["weights.bin", new Uint8Array(5), /weights\.bin \(5 bytes, crc32 \d+\) does not match/],
    ];
    for (const [file, damage, reason] of cases) {
      await t.step(`${file}: ${typeof damage === "string" ? damage : "wrong bytes"}`, async () => {
        const path = file === "latest.json" ? `${dir}/${file}` : `${ckpt}/${file}`;
        const good = await Deno.readFile(path);
        if (typeof damage === "string") await Deno.writeTextFile(path, damage);
        else await Deno.writeFile(path, damage);
        try {
          for (
            const load of [
              () => loadCheckpoint(dir),
              () => restoreCheckpoint(dir, { model: model(4), optimizer: tf.train.adam(0.01) }),
              () =>
                train(model(4), data, {
                  epochs: 2,
                  batchSize: 2,
                  silent: true,
                  checkpointDir: dir,
                }),
            ]
          ) {
            await assertRejects(load, (e: Error) => {
              assert(e instanceof CheckpointError, `${e.name}: ${e.message}`);
              assertStrictEquals(e.path, path);
              assert(e.message.includes(path), e.message);
              assert(reason.test(e.message), e.message);
              return true;
            });
          }
        } finally {
          await Deno.writeFile(path, good);
        }
      });
    }
    await t.step("the restored files load again", async () => {
      assertEquals((await loadCheckpoint(dir))?.state, { epoch: 1 });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveCheckpoint() with a state it cannot serialise leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(dir, { model: model(5), step: 1, state: { epoch: 1 } });
    const before = await listDir(dir);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const state of [{ n: 1n }, circular]) {
      await assertRejects(
        () => saveCheckpoint(dir, { model: model(5), step: 2, state }),
        (e: Error) => e instanceof TypeError && /state is not JSON-serializable/.test(e.message),
      );
      assertEquals(await listDir(dir), before);
    }
    assertEquals((await loadCheckpoint(dir))?.state, { epoch: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
