import { assertEquals, assertRejects } from "../_assert.ts";
import { readSweepResults, summarizeSweep } from "../../lib/train/sweep.ts";

const result = (run: number, settings: Record<string, unknown> | undefined, acc: number) => ({
  key: `mlp|small|lambda=0|run=${run}|seed=${run}`,
  arch: "mlp",
  dataset: "small",
  lambda: 0,
  run,
  seed: run,
  testAccuracy: acc,
  ...(settings ? { settings } : {}),
});

async function files(...contents: object[][]): Promise<string[]> {
  const paths: string[] = [];
  for (const lines of contents) {
    const f = await Deno.makeTempFile({ suffix: ".jsonl" });
    await Deno.writeTextFile(f, lines.map((l) => JSON.stringify(l) + "\n").join(""));
    paths.push(f);
  }
  return paths;
}

Deno.test("readSweepResults() refuses to merge runs trained with other settings", async (t) => {
  const base = { epochs: 1, batchSize: 6, schedule: { kind: "constant" } };
  const paths = await files(
    [result(0, base, 0.5), result(1, base, 0.7)],
    [result(2, { ...base, epochs: 3 }, 0.9)],
    [result(2, { batchSize: 6, schedule: { kind: "constant" }, epochs: 1 }, 0.6)],
    [result(3, undefined, 0.4)],
    [result(4, { ...base, lastEpochs: 3 }, 0.4)],
  );
  try {
    await t.step("shards of one setup merge (key order in the settings aside)", async () => {
      const { results } = await readSweepResults([paths[0], paths[2]]);
      assertEquals(summarizeSweep(results)[0].runs, 3);
    });
    await t.step("a shard with more epochs is named with both values", async () => {
      await assertRejects(
        () => readSweepResults([paths[0], paths[1]]),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot merge sweep results: ${paths[1]} holds run mlp|small|lambda=0|run=2|seed=2 ` +
              `trained with epochs 3, but ${paths[0]} holds runs trained with 1; merge the ` +
              `results of one setup at a time`,
      );
    });
    await t.step("a setting only one side records differs too", async () => {
      await assertRejects(() => readSweepResults([paths[0], paths[4]]), /lastEpochs 3, but/);
    });
    await t.step("results written before settings were recorded merge", async () => {
      const { results } = await readSweepResults([paths[0], paths[3]]);
      assertEquals(results.length, 3);
    });
  } finally {
    for (const p of paths) await Deno.remove(p);
  }
});
