/**
 * `deno task reproduce`: every result of the paper at reduced scale on real data (quick,
 * CPU, the default), or at the paper's scale (`--full`, GPU recommended). Writes
 * `out/figures/*.html|png|svg` (PNG/SVG rendered in Chromium) and `out/report.md`: each
 * paper claim, our measured number, the scale used, and whether the claim held.
 *
 * Usage: `deno task reproduce [--out DIR] [--full | --scale tiny|quick|full]
 *   [--only id[,id…]] [--formats html,png,svg] [--threads N] [--seed N] [--cifar100 DIR]
 *   [--svhn DIR] [--shard i/n]` (`--shard`: one shard of the Figure 3 sweep, for clusters).
 * Experiments: affine_formula, templates, memorization, orthogonality, partition_knn.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "./lib/train/backend.ts";
import type { ExperimentOptions, ExperimentResult } from "./lib/experiments/experiment.ts";
import { renderReport } from "./lib/experiments/report.ts";
import { runAffineFormula } from "./lib/experiments/affine_formula.ts";
import { runTemplates } from "./lib/experiments/templates.ts";
import { runMemorization } from "./lib/experiments/memorization.ts";
import { runOrthogonality } from "./lib/experiments/orthogonality.ts";
import { runPartitionKnn } from "./lib/experiments/partition_knn.ts";
import { exportFigures } from "./lib/plot/export.ts";
import { writeFileAtomic } from "./lib/util/atomic_write.ts";

const EXPERIMENTS: Record<string, (o: ExperimentOptions) => Promise<ExperimentResult>> = {
  affine_formula: runAffineFormula,
  templates: runTemplates,
  memorization: runMemorization,
  // the λ sweep writes its resumable JSONL under the output folder; --shard i/n runs one
  // shard of it (a cluster job array), --cifar100/--svhn give the user's dataset folders;
  // its runs train in --threads workers of one thread each (the same results, sooner)
  orthogonality: (o) =>
    runOrthogonality({
      ...o,
      workers: threads,
      workerThreads: 1,
      outDir: `${values.out}/sweep-${o.scale}`,
      paths: { cifar100: values.cifar100, svhn: values.svhn },
      ...(shard ? { shard } : {}),
    }),
  partition_knn: (o) =>
    runPartitionKnn({ ...o, ...(values.svhn ? { svhnPath: values.svhn } : {}) }),
};

const USAGE =
  "deno task reproduce [--out DIR] [--full | --scale tiny|quick|full] [--only id,…] [--formats html,png,svg]\n" +
  "  [--threads N] [--seed N] [--cifar100 DIR] [--svhn DIR] [--shard i/n]\n" +
  `experiments: ${Object.keys(EXPERIMENTS).join(", ")}`;

/** Prints a bad command line's problem and the usage, and exits with status 2. */
function usageError(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string", default: "out" },
      full: { type: "boolean", default: false },
      scale: { type: "string" },
      only: { type: "string" },
      formats: { type: "string", default: "html,png,svg" },
      threads: { type: "string", default: "2" },
      seed: { type: "string", default: "1" },
      cifar100: { type: "string" },
      svhn: { type: "string" },
      shard: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (e) {
  // an unknown flag or a stray argument: say so, not an uncaught TypeError's stack
  usageError(e instanceof Error ? e.message : String(e));
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const shardMatch = values.shard?.match(/^(\d+)\/(\d+)$/);
if (values.shard !== undefined && (!shardMatch || +shardMatch[1] >= +shardMatch[2])) {
  console.error(`--shard takes i/n with 0 ≤ i < n, got '${values.shard}'`);
  Deno.exit(2);
}
const shard = shardMatch ? { index: +shardMatch[1], count: +shardMatch[2] } : undefined;
if (values.out === "") {
  // "" + "/figures" and "/report.md" would be written into the file system's root
  usageError(`--out is empty, expected a folder`);
}
if (values.full && values.scale !== undefined && values.scale !== "full") {
  usageError(`--full and --scale ${values.scale} disagree: give one of them`);
}
const scale = (values.full ? "full" : values.scale ?? "quick") as "tiny" | "quick" | "full";
if (!["tiny", "quick", "full"].includes(scale)) {
  console.error(`--scale must be tiny, quick or full, got '${values.scale}'`);
  Deno.exit(2);
}
const only = values.only !== undefined
  ? values.only.split(",").map((s) => s.trim())
  : Object.keys(EXPERIMENTS);
for (const id of only) {
  if (!(id in EXPERIMENTS)) {
    console.error(
      `Unknown experiment '${id}': expected one of ${Object.keys(EXPERIMENTS).join(", ")}`,
    );
    Deno.exit(2);
  }
}
const formats = values.formats.split(",").map((s) => s.trim()) as ("html" | "png" | "svg")[];
for (const f of formats) {
  if (!["html", "png", "svg"].includes(f)) {
    console.error(`--formats takes html, png and svg, got '${f}'`);
    Deno.exit(2);
  }
}
// digits only: Number("") is 0 and Number("0x10") 16, which would run with a value not given
const threads = /^\d+$/.test(values.threads) ? Number(values.threads) : NaN;
const seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : NaN;
if (!Number.isInteger(threads) || threads < 1 || threads > 8 || !Number.isSafeInteger(seed)) {
  console.error(
    `--threads takes an integer in [1, 8] and --seed an integer, got '${values.threads}' and '${values.seed}'`,
  );
  Deno.exit(2);
}

const started = performance.now();
const log = (m: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}`);
// tfjs' warn/log only (e.g. its "install tfjs-node" banner): this script reports its own progress
tf.env().set("PROD", true);
const chosen = await selectBackend({ prefer: "auto", wasmThreads: Math.min(threads, 8) });
log(`tfjs backend: ${chosen.backend} (${chosen.reason}); scale ${scale}`);

const results: ExperimentResult[] = [];
let failed = 0;
for (const id of only) {
  log(`${id}: running`);
  try {
    const r = await EXPERIMENTS[id]({
      scale,
      seed,
      onProgress: (m) => log(`${id}: ${m}`),
      progress: true,
    });
    results.push(r);
    log(
      `${id}: ${r.claims.filter((c) => c.held).length}/${r.claims.length} claims held (${
        r.seconds.toFixed(0)
      } s)`,
    );
  } catch (e) {
    failed++;
    const message = e instanceof Error ? e.message : String(e);
    log(`${id}: FAILED: ${message}`);
    results.push({
      id,
      title: id,
      scale,
      seconds: 0,
      figures: [],
      claims: [{ claim: `${id} ran`, measured: `error: ${message}`, held: false }],
    });
  }
}

const dir = `${values.out}/figures`;
await Deno.mkdir(dir, { recursive: true });
const figs = results.flatMap((r) => r.figures);
const files: Record<string, string[]> = {};
try {
  const written = await exportFigures(figs, { dir, formats });
  for (const path of written) {
    const name = path.split("/").at(-1)!.replace(/\.(html|png|svg)$/, "");
    (files[name] ??= []).push(`figures/${path.split("/").at(-1)}`);
  }
} catch (e) {
  log(
    `figure export to ${formats.join("/")} failed (${
      e instanceof Error ? e.message : e
    }); writing HTML only`,
  );
  for (const path of await exportFigures(figs, { dir, formats: ["html"] })) {
    const name = path.split("/").at(-1)!.replace(/\.html$/, "");
    (files[name] ??= []).push(`figures/${path.split("/").at(-1)}`);
  }
}

const report = renderReport(results, {
  scale,
  figures: files,
  header: [
    `Generated by \`deno task reproduce${Deno.args.length ? " " + Deno.args.join(" ") : ""}\` on ${
      new Date().toISOString().slice(0, 10)
    }, tfjs backend ${chosen.backend}, ${navigator.hardwareConcurrency} cores, in ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s.`,
    "",
  ],
});
await writeFileAtomic(`${values.out}/report.md`, report);
log(`wrote ${values.out}/report.md and ${figs.length} figures to ${dir}`);
if (failed > 0) Deno.exit(1);
