import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import {
  type OrthogonalityOptions,
  type OrthogonalityResult,
  runOrthogonality,
} from "../../lib/experiments/orthogonality.ts";
import { selectBackend } from "../../lib/train/backend.ts";

await selectBackend({ prefer: "wasm" });

/** A run's trained numbers (timing fields left out), by run key. */
function trained(r: OrthogonalityResult): Map<string, unknown> {
  return new Map(r.runs.map((x) => [x.key, {
    testAccuracy: x.testAccuracy,
    trainAccuracy: x.trainAccuracy,
    history: x.history.map(({ seconds: _, ...e }) => e),
    orthogonality: x.orthogonality,
    inference: x.inference,
    initialWeightCosine: x.initialWeightCosine,
  }]));
}

/** Runs the experiment in a fresh folder, removed afterwards. */
async function inFolder(options: OrthogonalityOptions): Promise<OrthogonalityResult> {
  const outDir = await Deno.makeTempDir({ prefix: "masokit_workers_test_" });
  try {
    return await runOrthogonality({ ...options, outDir });
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

// full-width smallCNN (its second conv by Winograd, the others by masokit's direct conv) on a
// few MNIST images: the same models however the runs are spread over threads and workers
const SMALL: OrthogonalityOptions = {
  scale: "tiny",
  models: { smallCNN: {} },
  trainSize: 200,
  testSize: 100,
  templateImages: 10,
};

Deno.test("runOrthogonality: 2 workers of one thread train the same models as this thread", async () => {
  const here = await inFolder(SMALL);
  const logs: string[] = [];
  const spread = await inFolder({ ...SMALL, workers: 2, onProgress: (m) => logs.push(m) });
  assertEquals(spread.runs.length, 4);
  assertEquals(trained(spread), trained(here));
  assertEquals(spread.claims, here.claims);
  assertEquals(spread.summary, here.summary);
  // both workers trained runs: two of the four each
  for (const w of [1, 2]) {
    const mine = logs.filter((m) => m.includes(`worker ${w}/2:`) && /test accuracy/.test(m));
    assertEquals(mine.length, 2, logs.join("\n"));
  }
  assert(logs.some((m) => /4 runs in 2 workers, 1 thread\(s\) each/.test(m)), logs.join("\n"));
});

Deno.test("runOrthogonality: workers split the caller's shard, and one run left trains here", async () => {
  const logs: string[] = [];
  const r = await inFolder({
    scale: "tiny",
    shard: { index: 1, count: 2 },
    workers: 2,
    onProgress: (m) => logs.push(m),
  });
  // tiny's plan: λ ∈ {0, 1} × 2 runs; shard 1/2 holds its runs 1 and 3, one a worker
  assertEquals(r.runs.map((x) => x.index).sort(), [1, 3]);
  assert(logs.some((m) => /worker 1\/2: .*sweep: run 1 /.test(m)), logs.join("\n"));
  assert(logs.some((m) => /worker 2\/2: .*sweep: run 3 /.test(m)), logs.join("\n"));
  // with one run of a shard left, no worker starts
  const one: string[] = [];
  const single = await inFolder({
    scale: "tiny",
    runs: 1,
    lambdas: [0],
    workers: 2,
    onProgress: (m) => one.push(m),
  });
  assertEquals(single.runs.length, 1);
  assert(!one.some((m) => /worker/.test(m)), one.join("\n"));
});

Deno.test("runOrthogonality: bad workers options and a worker's failure are named", async () => {
  await assertRejects(
    () => runOrthogonality({ scale: "tiny", workers: 0 }),
    /workers is 0, expected an integer in \[1, 16\]/,
  );
  await assertRejects(
    () => runOrthogonality({ scale: "tiny", workers: 2, workerThreads: 1.5 }),
    /workerThreads is 1\.5, expected an integer in \[1, 8\]/,
  );
  await assertRejects(
    () => runOrthogonality({ scale: "tiny", workers: 2, schedule: () => 1e-3 }),
    /schedule is a function, which cannot be sent to a worker/,
  );
  // a model the workers cannot build: the first failure, naming its worker
  try {
    await inFolder({ scale: "tiny", workers: 2, models: { smallCNN: { filters: [0, 2, 2] } } });
    assert(false, "expected a failure");
  } catch (err) {
    assertMatch((err as Error).message, /orthogonality worker [12]\/2 failed: .*filters/);
  }
});
