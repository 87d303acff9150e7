import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects } from "../_assert.ts";
import { runSweep, type SweepSpec } from "../../lib/train/sweep.ts";
import { blobs, toyRegistry } from "../../lib/train/_toy_registry.ts";

await tf.setBackend("cpu");

const registry = {
  models: toyRegistry.models,
  datasets: { small: () => blobs({ n: 36, classes: 3, seed: 2 }) },
};
const spec = (train: SweepSpec["train"]): SweepSpec => ({
  architectures: ["mlp"],
  datasets: ["small"],
  lambdas: [0],
  runs: 1,
  train,
});

Deno.test("runSweep() refuses to skip runs that a results file holds with other settings", async (t) => {
  const out = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    const first = { epochs: 1, batchSize: 6, learningRate: 0.02, silent: true };
    assertEquals((await runSweep(spec(first), { registry, out })).ran, 1);
    await t.step("more epochs: the 1-epoch run was reported as done", async () => {
      await assertRejects(
        () => runSweep(spec({ ...first, epochs: 3 }), { registry, out }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot run the sweep: ${out} holds run mlp|small|lambda=0|run=0|seed=0 trained ` +
              `with epochs 1, this sweep has 3; write to another results file`,
      );
    });
    await t.step("another schedule", async () => {
      await assertRejects(
        () =>
          runSweep(spec({ ...first, schedule: { kind: "exponential", rate: 0.5 } }), {
            registry,
            out,
          }),
        /trained with schedule \{"kind":"constant"\}, this sweep has/,
      );
    });
    await t.step("the same settings spelled out (defaults, progress) still skip", async () => {
      const same = { ...first, beta1: 0.9, schedule: { kind: "constant" as const } };
      const r = await runSweep(spec({ ...same, progress: "lines" }), { registry, out });
      assertEquals([r.ran, r.skipped], [0, 1]);
    });
    await t.step("results written before settings were recorded still skip", async () => {
      const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => {
        const { settings: _, ...rest } = JSON.parse(l);
        return JSON.stringify(rest);
      });
      await Deno.writeTextFile(out, lines.join("\n") + "\n");
      const r = await runSweep(spec({ ...first, epochs: 2 }), { registry, out });
      assertEquals([r.ran, r.skipped], [0, 1]);
    });
  } finally {
    await Deno.remove(out);
  }
});
