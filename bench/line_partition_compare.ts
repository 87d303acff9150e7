/**
 * The exact partition of a line (lib/geometry/line_partition.ts) against sampling, the usual
 * way to count the regions a path crosses: the engine's partition codes at N evenly spaced
 * points, one region per run of equal codes (float64 on the CPU engine, or float32 on tfjs
 * wasm, the fastest engine here). Models trained here on MNIST (2,000 images), as
 * in bench/slice_partition_compare.ts: an MLP 784-64-64-10 and smallCNN (batch-norm), on the
 * segment from a test 1 to a test 7 and on the line through them from t = −1 to 2; and the
 * MLP's local complexity (16 random chords of half-length 1 through each of 100 test digits).
 *
 *   deno run --allow-read=data,node_modules --allow-write=data --allow-env --allow-sys --allow-net \
 *     bench/line_partition_compare.ts
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type InputLine,
  linePartition,
  linePoints,
  lineThrough,
  localComplexity,
  partitionCodes,
  type SplineNetwork,
} from "../mod.ts";
import { codeKeys } from "./_code_keys.ts";
import { mnistBenchModels } from "./_mnist_models.ts";

const { mnist, labels, mlpNet, cnnNet } = await mnistBenchModels();
const pair = tf.gather(mnist.test.x, [1, 7].map((d) => labels.indexOf(d)));

/** Regions seen at N evenly spaced points: runs of equal codes. */
function sampled(net: SplineNetwork, line: InputLine, N: number, backend: "cpu" | "tfjs") {
  const [lo, hi] = line.range!, t0 = performance.now();
  let runs = 0, last = "";
  for (let a = 0; a < N; a += 2000) {
    const t: number[] = [];
    for (let i = a; i < Math.min(N, a + 2000); i++) t.push(lo + (hi - lo) * (i + 0.5) / N);
    const codes = partitionCodes(net, linePoints(net, line, t), { backend });
    for (const k of codeKeys(codes, t.length)) {
      if (k !== last) runs++;
      last = k;
    }
  }
  return { seconds: (performance.now() - t0) / 1000, regions: runs };
}

const rows: Record<string, string | number>[] = [];
function measure(
  name: string,
  net: SplineNetwork,
  line: InputLine,
  samples: [number, "cpu" | "tfjs"][],
) {
  const t0 = performance.now();
  const p = linePartition(net, line);
  const exact = (performance.now() - t0) / 1000, regions = p.breaks.length - 1;
  rows.push({
    case: name,
    method: "linePartition (exact)",
    seconds: +exact.toFixed(3),
    regions,
    found: "all",
    "per layer": p.levels.map((l) => l.breaks.length - 1).join(" → "),
  });
  for (const [N, backend] of samples) {
    const b = sampled(net, line, N, backend);
    rows.push({
      case: name,
      method: `${N} points, partitionCodes (${
        backend === "cpu" ? "float64" : "tfjs wasm, float32"
      })`,
      seconds: +b.seconds.toFixed(3),
      regions: b.regions,
      found: `${(100 * b.regions / regions).toFixed(0)}% (${
        (b.seconds / exact).toFixed(1)
      }× the time)`,
    });
  }
}

measure("MLP 784-64-64-10, segment 1 → 7", mlpNet, lineThrough(mlpNet, pair), [
  [1000, "cpu"],
  [10_000, "cpu"],
  [100_000, "cpu"],
]);
measure(
  "MLP 784-64-64-10, line 1 → 7, t ∈ [−1, 2]",
  mlpNet,
  lineThrough(mlpNet, pair, { range: [-1, 2] }),
  [[10_000, "cpu"], [100_000, "cpu"]],
);

// local complexity: 16 chords of half-length 1 through each of 100 test digits, exact against
// 1,000 float64 samples per chord
{
  const digits = tf.slice(mnist.test.x, 0, 100);
  const t0 = performance.now();
  const lc = localComplexity(mlpNet, digits, { radius: 1, lines: 16 });
  const exact = (performance.now() - t0) / 1000;
  const crossings = lc.levels.at(-1)!.crossings.reduce((a, b) => a + b, 0);
  rows.push({
    case: "MLP, local complexity: 100 digits × 16 chords, r = 1",
    method: "localComplexity (exact)",
    seconds: +exact.toFixed(3),
    regions: crossings + 1600,
    found: "all",
  });
  const xs = digits.dataSync(), D = mlpNet.inputSize, t1 = performance.now();
  let seen = 0;
  for (let n = 0; n < 100; n++) {
    for (let j = 0; j < 16; j++) {
      const line = {
        origin: xs.subarray(n * D, (n + 1) * D),
        direction: lc.directions.subarray(j * D, (j + 1) * D),
        range: [-1, 1] as const,
      };
      seen += sampled(mlpNet, line, 1000, "cpu").regions;
    }
  }
  const s = (performance.now() - t1) / 1000;
  rows.push({
    case: "MLP, local complexity: 100 digits × 16 chords, r = 1",
    method: "1000 points per chord, partitionCodes (float64)",
    seconds: +s.toFixed(3),
    regions: seen,
    found: `${(100 * seen / (crossings + 1600)).toFixed(0)}% (${(s / exact).toFixed(1)}× the time)`,
  });
  digits.dispose();
}

measure("smallCNN (BN), segment 1 → 7", cnnNet, lineThrough(cnnNet, pair), [
  [1000, "cpu"],
  [10_000, "cpu"],
  [10_000, "tfjs"],
  [100_000, "tfjs"],
]);
measure(
  "smallCNN (BN), line 1 → 7, t ∈ [−1, 2]",
  cnnNet,
  lineThrough(cnnNet, pair, { range: [-1, 2] }),
  [[10_000, "cpu"], [100_000, "tfjs"]],
);
console.table(rows);
