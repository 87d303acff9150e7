import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../_assert.ts";
import {
  lastEpochsMean,
  linspace,
  planSweep,
  readSweepResults,
  runSweep,
  shardRuns,
  summarizeSweep,
  type SweepSpec,
} from "../../lib/train/sweep.ts";
import { resolveShard, sweepMain } from "../../lib/train/_sweep_cli.ts";
import { blobs, toyRegistry } from "../../lib/train/_toy_registry.ts";

await tf.setBackend("cpu");

const registry = {
  models: toyRegistry.models,
  datasets: { small: () => blobs({ n: 36, classes: 3, seed: 2 }) },
};
const spec: SweepSpec = {
  architectures: ["mlp"],
  datasets: ["small"],
  lambdas: [0, 1.5],
  runs: 2,
  train: { epochs: 3, batchSize: 6, learningRate: 0.02, silent: true },
};

Deno.test("linspace() matches the paper's λ grid", () => {
  const g = linspace(0, 2, 10);
  g.forEach((v, i) => assertAllClose([v], [(2 * i) / 9], 1e-15));
  assertEquals(linspace(1, 1, 1), [1]);
  assertThrows(() => linspace(0, 1, 0), RangeError);
});

Deno.test("shardRuns() partitions the plan deterministically", () => {
  const plan = planSweep({
    ...spec,
    architectures: ["a", "b"],
    lambdas: linspace(0, 2, 10),
    runs: 15,
  });
  assertStrictEquals(plan.length, 2 * 10 * 15);
  assertStrictEquals(new Set(plan.map((r) => r.key)).size, plan.length);
  const shards = [0, 1, 2, 3, 4, 5, 6].map((i) => shardRuns(plan, { index: i, count: 7 }));
  const all = shards.flat().map((r) => r.index).sort((a, b) => a - b);
  assertEquals(all, plan.map((r) => r.index));
  for (const [i, s] of shards.entries()) assert(s.every((r) => r.index % 7 === i));
  assertEquals(planSweep({ ...spec }), planSweep({ ...spec }));
});

Deno.test("runSweep() sharded over two files and merged equals one unsharded sweep", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const whole = await runSweep(spec, { registry, out: `${dir}/all.jsonl` });
    assertStrictEquals(whole.ran, 4);
    const s0 = await runSweep(spec, {
      registry,
      out: `${dir}/s0.jsonl`,
      shard: { index: 0, count: 2 },
    });
    const s1 = await runSweep(spec, {
      registry,
      out: `${dir}/s1.jsonl`,
      shard: { index: 1, count: 2 },
    });
    assertEquals([s0.ran, s1.ran], [2, 2]);
    const merged = await readSweepResults([
      `${dir}/s0.jsonl`,
      `${dir}/s1.jsonl`,
      `${dir}/s0.jsonl`,
    ]);
    assertStrictEquals(merged.duplicates, 2);
    const byKey = (rs: { key: string; testAccuracy: number }[]) =>
      Object.fromEntries(rs.map((r) => [r.key, r.testAccuracy]));
    // Runs are seeded: the same run gives the same accuracy on whichever shard it ran.
    assertEquals(byKey(merged.results), byKey(whole.results));
    // Each run's statistic is its test accuracy averaged over the last 3 epochs.
    for (const r of merged.results) {
      const h = r.history.map((e) => e.testAccuracy!);
      assertAllClose([r.testAccuracy], [(h[0] + h[1] + h[2]) / 3], 1e-12);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSweep() skips finished runs and survives a torn last line", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/r.jsonl`;
  try {
    const first = await runSweep(spec, { registry, out, shard: { index: 0, count: 2 } });
    assertStrictEquals(first.ran, 2);
    const again = await runSweep(spec, { registry, out, shard: { index: 0, count: 2 } });
    assertEquals([again.ran, again.skipped], [0, 2]);
    // A writer killed mid-line leaves a torn line; the next append must start on a new line.
    await Deno.writeTextFile(out, '{"key":"mlp|small|lam', { append: true });
    const rest = await runSweep(spec, { registry, out });
    assertEquals([rest.ran, rest.skipped], [2, 2]);
    const { results, skipped } = await readSweepResults([out]);
    assertEquals([results.length, skipped], [4, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summarizeSweep() gives mean, sample std and max per (arch, dataset, λ)", () => {
  const rows = [
    { arch: "a", dataset: "d", lambda: 1, testAccuracy: 0.5 },
    { arch: "a", dataset: "d", lambda: 0, testAccuracy: 0.2 },
    { arch: "a", dataset: "d", lambda: 1, testAccuracy: 0.9 },
    { arch: "a", dataset: "d", lambda: 1, testAccuracy: 0.7 },
  ];
  const [l0, l1] = summarizeSweep(rows);
  assertEquals([l0.lambda, l0.runs, l0.mean, l0.std, l0.max], [0, 1, 0.2, 0, 0.2]);
  const v = [0.5, 0.9, 0.7], m = (0.5 + 0.9 + 0.7) / 3;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / 2);
  assertAllClose([l1.mean, l1.std, l1.max], [m, sd, 0.9], 1e-12);
});

Deno.test("lastEpochsMean() averages the last n epochs", () => {
  const h = [{ testAccuracy: 0.1 }, { testAccuracy: 0.3 }];
  assertStrictEquals(lastEpochsMean(h), 0.2);
  assertStrictEquals(lastEpochsMean(h, { n: 1 }), 0.3);
  assert(Number.isNaN(lastEpochsMean([])));
});

Deno.test("resolveShard() reads SLURM / Kubernetes indices", async (t) => {
  await t.step("--shard wins", () => {
    assertEquals(resolveShard({ shard: "2/5", shards: "9" }, { SLURM_ARRAY_TASK_ID: "1" }), {
      index: 2,
      count: 5,
    });
  });
  await t.step("SLURM_ARRAY_TASK_ID", () => {
    assertEquals(resolveShard({ shards: "4" }, { SLURM_ARRAY_TASK_ID: "3" }), {
      index: 3,
      count: 4,
    });
  });
  await t.step("JOB_COMPLETION_INDEX", () => {
    assertEquals(resolveShard({ shards: "4" }, { JOB_COMPLETION_INDEX: "0" }), {
      index: 0,
      count: 4,
    });
  });
  await t.step("index out of range", () => {
    assertThrows(() => resolveShard({ shards: "4" }, { SLURM_ARRAY_TASK_ID: "4" }), RangeError);
  });
  await t.step("no index anywhere", () => {
    assertThrows(() => resolveShard({ shards: "4" }, {}), /SLURM_ARRAY_TASK_ID/);
  });
  await t.step("no sharding", () => assertStrictEquals(resolveShard({}, {}), undefined));
});

Deno.test("sweepMain() plans a shard and reports a bad architecture", async () => {
  const lines: string[] = [];
  const print = (s: string) => lines.push(s);
  const code = await sweepMain(
    [
      "plan",
      "--archs",
      "mlp",
      "--datasets",
      "blobs",
      "--lambda-grid",
      "0:2:10",
      "--runs",
      "3",
      "--shards",
      "4",
    ],
    { registry: toyRegistry, env: { JOB_COMPLETION_INDEX: "1" }, print, error: print },
  );
  assertStrictEquals(code, 0);
  assertStrictEquals(lines.at(-1), "8 of 30 runs");
  assert(lines[0].startsWith("1\tmlp|blobs|lambda=0|run=1|seed=1"), lines[0]);
  const bad = await sweepMain([
    "run",
    "--archs",
    "nope",
    "--datasets",
    "blobs",
    "--out",
    "/dev/null",
  ], {
    registry: toyRegistry,
    env: {},
    print,
    error: print,
  });
  assertStrictEquals(bad, 2);
  assert(lines.at(-1)!.includes("no model builder 'nope'"), lines.at(-1) ?? "");
  // plan checks the names too (a wrong case used to print a plan and exit 0)
  for (
    const [flag, name, what] of [["--archs", "MLP", "model builder"], [
      "--datasets",
      "Blobs",
      "dataset loader",
    ]]
  ) {
    const args = { "--archs": "mlp", "--datasets": "blobs", [flag]: name };
    const status = await sweepMain(["plan", ...Object.entries(args).flat()], {
      registry: toyRegistry,
      env: {},
      print,
      error: print,
    });
    assertStrictEquals(status, 2);
    assert(lines.at(-1)!.includes(`no ${what} '${name}' (registry has:`), lines.at(-1) ?? "");
  }
});

Deno.test("runSweep() refuses a dataset without a test split before training", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const noTest = {
      models: registry.models,
      datasets: {
        small: () => ({ ...blobs({ n: 36, classes: 3, seed: 2 }), test: undefined }),
      },
    };
    await assertRejects(
      () => runSweep(spec, { registry: noTest, out: `${dir}/r.jsonl` }),
      (e: Error) =>
        e instanceof RangeError &&
        /dataset 'small' has no test split, and each run's result is its test accuracy/.test(
          e.message,
        ),
    );
    assertStrictEquals(await Deno.readTextFile(`${dir}/r.jsonl`).catch(() => ""), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSweep() counts a run with a NaN test accuracy as done", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/r.jsonl`;
  try {
    // No epoch trained: no accuracy to average, the statistic is NaN (stored as null).
    const empty: SweepSpec = { ...spec, train: { ...spec.train, epochs: 0 } };
    const first = await runSweep(empty, { registry, out });
    assertEquals([first.ran, first.skipped], [4, 0]);
    assert(first.results.every((r) => Number.isNaN(r.testAccuracy)));
    const again = await runSweep(empty, { registry, out });
    assertEquals([again.ran, again.skipped], [0, 4]);
    assertStrictEquals((await Deno.readTextFile(out)).trim().split("\n").length, 4);
    const { results, skipped } = await readSweepResults([out]);
    assertEquals([results.length, skipped], [4, 0]);
    assert(results.every((r) => Number.isNaN(r.testAccuracy) && Number.isNaN(r.trainAccuracy)));
    const [row] = summarizeSweep(results);
    assertEquals([row.runs, row.nonFinite], [2, 2]);
    assert([row.mean, row.std, row.max].every(Number.isNaN));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summarizeSweep() leaves NaN accuracies out of the statistics and counts them", () => {
  const rows = [0.5, NaN, 0.7].map((testAccuracy) => ({
    arch: "a",
    dataset: "d",
    lambda: 0,
    testAccuracy,
  }));
  const [row] = summarizeSweep(rows);
  assertEquals([row.runs, row.nonFinite, row.max], [3, 1, 0.7]);
  assertAllClose([row.mean, row.std], [0.6, Math.SQRT2 * 0.1], 1e-12);
});

Deno.test("readSweepResults() and sweep merge name a results file that does not exist", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/typo.jsonl`;
    await assertRejects(
      () => readSweepResults([missing]),
      (e: Error) =>
        e instanceof Deno.errors.NotFound &&
        e.message === `Cannot read sweep results ${missing}: no such file`,
    );
    const lines: string[] = [];
    const print = (s: string) => lines.push(s);
    const code = await sweepMain(["merge", missing], {
      registry: toyRegistry,
      env: {},
      print,
      error: print,
    });
    assertStrictEquals(code, 2);
    assertEquals(lines, [`Cannot read sweep results ${missing}: no such file`]);
    // A sweep's own output before its first run may be read as empty, when asked for.
    const none = await readSweepResults([missing], { allowMissing: true });
    assertEquals([none.results.length, none.skipped, none.duplicates], [0, 0, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runSweep() stores each final model's inference-mode accuracy on a training subset", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // the builder keeps, before the sweep disposes each model, its accuracy computed by hand
    const expected: { accuracy: number; images: number }[] = [];
    const data = registry.datasets.small();
    const counting = {
      models: {
        mlp: async (ctx: Parameters<typeof toyRegistry.models.mlp>[0]) => {
          const model = await toyRegistry.models.mlp(ctx);
          const dispose = model.dispose.bind(model);
          model.dispose = (() => {
            const images = Math.min(data.test!.x.shape[0], 2000, data.train.x.shape[0]);
            const logits = model.predict(tf.slice(data.train.x, 0, images)) as tf.Tensor;
            const predicted = logits.argMax(-1).dataSync();
            const labels = data.train.y.dataSync();
            let right = 0;
            for (let i = 0; i < images; i++) right += predicted[i] === labels[i] ? 1 : 0;
            expected.push({ accuracy: right / images, images });
            return dispose();
          }) as typeof model.dispose;
          return model;
        },
      },
      datasets: { small: () => data },
    };
    const res = await runSweep(spec, { registry: counting, out: `${dir}/r.jsonl` });
    assertEquals(res.results.length, expected.length);
    res.results.forEach((r, i) => {
      assertEquals(r.evalTrainImages, expected[i].images);
      assertAllClose([r.evalTrainAccuracy!], [expected[i].accuracy], 1e-9);
    });
    // and they are read back from the results file
    const read = (await readSweepResults([`${dir}/r.jsonl`])).results;
    assertEquals(read.map((r) => r.evalTrainAccuracy), res.results.map((r) => r.evalTrainAccuracy));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
