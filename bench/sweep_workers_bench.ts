/**
 * The reproduce's λ sweep (the orthogonality experiment at `quick` scale: smallCNN on 3,000
 * CIFAR-10 images, λ ∈ {0, 1}, 3 runs, batches of 10) trained in this thread on tfjs-wasm's
 * threads (`workers: 1`) and in Deno workers of one thread each (`--workers=N`, default 2),
 * the arms alternating `--rounds` times (default 3), each round in a fresh results folder:
 * seconds, training images/s over all runs, each round's ratio and their median, and whether both arms trained the same models
 * (every run's losses and accuracies, epoch by epoch, bit for bit). `--epochs=E` (default 2)
 * shortens the runs.
 *
 * Run: `deno run -A bench/sweep_workers_bench.ts [--epochs=2] [--workers=2] [--rounds=3]`
 * (needs CIFAR-10 in data/cache, or the network to fetch it).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";
import {
  ORTHOGONALITY_PRESETS,
  type OrthogonalityResult,
  runOrthogonality,
} from "../lib/experiments/orthogonality.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const EPOCHS = Number(value("epochs") ?? 2);
const WORKERS = Number(value("workers") ?? 2);
const ROUNDS = Number(value("rounds") ?? 3);
for (const [k, v] of Object.entries({ EPOCHS, WORKERS, ROUNDS })) {
  if (!(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`${k} is ${v}, expected an integer ≥ 1`);
  }
}
tf.env().set("PROD", true);
const chosen = await selectBackend({ prefer: "wasm" });
console.log(`backend: ${chosen.reason}; ${navigator.hardwareConcurrency} cores`);

/** The trained runs' numbers, timing fields left out, by run key. */
const fingerprint = (r: OrthogonalityResult) =>
  JSON.stringify(
    r.runs.map((x) => [
      x.key,
      x.testAccuracy,
      x.history.map(({ seconds: _, ...e }) => e),
      x.orthogonality,
      x.inference,
    ]).sort((a, b) => (a[0] as string).localeCompare(b[0] as string)),
  );

const arms = [
  { label: `this thread (${chosen.backend})`, workers: 1 },
  { label: `${WORKERS} workers × 1 thread`, workers: WORKERS },
];
const seconds: number[][] = arms.map(() => []);
const prints = new Set<string>();
let images = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, arm] of arms.entries()) {
    const outDir = await Deno.makeTempDir({ prefix: "masokit_sweep_bench_" });
    try {
      const t0 = performance.now();
      const r = await runOrthogonality({
        scale: "quick",
        epochs: EPOCHS,
        outDir,
        workers: arm.workers,
        workerThreads: 1,
        templateImages: 0,
      });
      const s = (performance.now() - t0) / 1000;
      seconds[i].push(s);
      prints.add(fingerprint(r));
      // every epoch passes over the training subset once
      images = r.runs.length * EPOCHS * ORTHOGONALITY_PRESETS.quick.trainSize!;
      console.log(`round ${round + 1}, ${arm.label}: ${s.toFixed(1)} s (${r.runs.length} runs)`);
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  }
}
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const ratios = seconds[0].map((a, r) => a / seconds[1][r]);
const rate = (s: number) => `${s.toFixed(1)} s, ${(images / s).toFixed(0)} training img/s`;
console.log(
  `| sweep (quick, ${EPOCHS} epochs), round | ${arms[0].label} | ${arms[1].label} | ratio |\n` +
    `| --- | --- | --- | --- |\n` +
    ratios.map((q, r) =>
      `| ${r + 1} | ${rate(seconds[0][r])} | ${rate(seconds[1][r])} | ${q.toFixed(2)}× |\n`
    ).join("") +
    `| median | ${rate(median(seconds[0]))} | ${rate(median(seconds[1]))} | **${
      median(ratios).toFixed(2)
    }×** |`,
);
console.log(`same models in every round and arm: ${prints.size === 1 ? "yes" : "NO"}`);
