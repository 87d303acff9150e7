import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { sweepMain } from "../../lib/train/_sweep_cli.ts";
import { workerArgs } from "../../lib/train/_sweep_cli_workers.ts";
import { toyRegistry } from "../../lib/train/_toy_registry.ts";
import {
  planSweep,
  readSweepResults,
  shardRuns,
  subShard,
  type SweepResult,
} from "../../lib/train/sweep.ts";

const MODULE = new URL("./_toy_registry_module.ts", import.meta.url).href;
const GRID = ["--archs", "mlp", "--datasets", "blobs", "--lambdas", "0,1", "--runs", "2"];
const TRAIN = ["--epochs", "2", "--batch-size", "30"];

/** `sweep.ts run` into a fresh file: its exit code, lines and results. */
async function run(extra: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "masokit_sweep_workers_" });
  const lines: string[] = [];
  try {
    const code = await sweepMain(["run", ...GRID, ...TRAIN, ...extra, "--out", `${dir}/r.jsonl`], {
      registry: toyRegistry,
      registryModule: MODULE,
      env: {},
      print: (s) => lines.push(s),
      error: (s) => lines.push(s),
    });
    const { results } = await readSweepResults([`${dir}/r.jsonl`], { allowMissing: true });
    return { code, lines, results };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Each run's numbers (timing fields left out), by key. */
const trained = (rs: SweepResult[]) =>
  new Map(rs.map((r) => [r.key, {
    testAccuracy: r.testAccuracy,
    trainAccuracy: r.trainAccuracy,
    history: r.history.map(({ seconds: _, ...e }) => e),
  }]));

Deno.test("sweep.ts run --workers 2 trains the same runs as one process", async () => {
  const one = await run(["--threads", "1"]);
  const two = await run(["--workers", "2"]);
  assertEquals(one.code, 0, one.lines.join("\n"));
  assertEquals(two.code, 0, two.lines.join("\n"));
  assertEquals(two.results.length, 4);
  assertEquals(trained(two.results), trained(one.results));
  // each worker ran its half, on one thread
  for (const w of [1, 2]) {
    assert(
      two.lines.includes(`worker ${w}/2: ran 2, skipped 0 finished runs`),
      two.lines.join("\n"),
    );
    assert(
      two.lines.some((l) =>
        l.startsWith(`worker ${w}/2: sweep: tfjs backend wasm`) && /1 thread/.test(l)
      ),
      two.lines.join("\n"),
    );
  }
  // a shard split between the workers: the toy plan's runs 1 and 3
  const half = await run(["--shard", "1/2", "--workers=2"]);
  assertEquals(half.code, 0, half.lines.join("\n"));
  assertEquals(half.results.map((r) => r.index).sort(), [1, 3]);
});

Deno.test("sweep.ts run --workers: bad counts and a missing registry module are named", async () => {
  for (
    const [flags, message] of [
      [["--workers", "0"], /Cannot use --workers 0: expected an integer in \[1, 16\]/],
      [["--workers", "x"], /Cannot parse --workers 'x': not a number/],
    ] as const
  ) {
    const r = await run([...flags]);
    assertEquals(r.code, 2);
    assertMatch(r.lines.join("\n"), message);
  }
  const lines: string[] = [];
  const code = await sweepMain(["run", ...GRID, ...TRAIN, "--workers", "2", "--out", "/tmp/x"], {
    registry: toyRegistry,
    env: {},
    print: (s) => lines.push(s),
    error: (s) => lines.push(s),
  });
  assertEquals(code, 2);
  assertMatch(lines.join("\n"), /no registry module for the workers/);
});

Deno.test("workerArgs: a worker's command line sets its own shard and threads", () => {
  assertEquals(
    workerArgs(
      [
        "run",
        "--workers",
        "2",
        "--shard=1/3",
        "--threads",
        "4",
        "--shards",
        "3",
        "--quiet",
        "--out",
        "f",
      ],
      { index: 4, count: 6 },
      1,
    ),
    ["run", "--quiet", "--out", "f", "--shard", "4/6", "--threads", "1"],
  );
});

Deno.test("subShard: the parts partition the shard", () => {
  const plan = planSweep({
    architectures: ["a", "b"],
    datasets: ["d"],
    lambdas: [0, 0.5, 1],
    runs: 5,
    train: { epochs: 1 },
  });
  for (const shard of [undefined, { index: 0, count: 1 }, { index: 2, count: 3 }]) {
    const mine = (shard ? shardRuns(plan, shard) : plan).map((r) => r.index);
    for (const count of [2, 3, 7]) {
      const parts = Array.from(
        { length: count },
        (_, w) => shardRuns(plan, subShard(shard, w, count)).map((r) => r.index),
      );
      assertEquals(parts.flat().sort((a, b) => a - b), mine);
      assert(parts.every((p) => p.every((i) => mine.includes(i))));
    }
  }
});
