/**
 * The command line of the λ sweep (`deno run -A sweep.ts …`): `run` a sweep or
 * one shard of it, `plan` (list the runs of a shard), `merge` results files.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  linspace,
  parseShard,
  planSweep,
  readSweepResults,
  runSweep,
  type Shard,
  shardRuns,
  summarizeSweep,
  type SweepRegistry,
  type SweepSpec,
} from "./sweep.ts";
import type { LearningRateSchedule } from "./train.ts";
import { selectBackend, type SelectBackendOptions } from "./backend.ts";
import { sweepInWorkers } from "./_sweep_cli_workers.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

const USAGE = `Usage:
  sweep.ts run   --archs a,b --datasets d1,d2 [--lambdas 0,0.5,1 | --lambda-grid 0:2:10]
                 [--runs 15] [--epochs 150] [--batch-size 50] [--lr 1e-3]
                 [--schedule constant | exp:RATE | step:E1,E2,...:FACTOR] [--seed 0]
                 --out results.jsonl [--shard i/n | --shards n] [--checkpoints DIR]
                 [--registry ./module.ts] [--backend auto|wasm|cpu|webgpu]
                 [--threads N] [--workers N] [--quiet]
  sweep.ts plan  (same grid options) [--shard i/n | --shards n]
  sweep.ts merge FILE.jsonl... [--out merged.jsonl] [--json]

With --shards n and no --shard, the shard index is read from SLURM_ARRAY_TASK_ID
or JOB_COMPLETION_INDEX (Kubernetes Indexed Job). Shard i runs plan indices i, i+n, i+2n, ...
--backend picks tfjs' backend (default auto: wasm with masokit's training kernels) and
--threads its wasm threads (default: all cores; 1 for shards run side by side on one machine).
--workers N trains the shard's runs N at a time in Deno workers (default --threads 1 each),
all appending to --out: small batches keep the cores busier that way.`;

/**
 * Resolves the shard from `--shard i/n`, or from `--shards n` plus the
 * scheduler's array index (`SLURM_ARRAY_TASK_ID`, else `JOB_COMPLETION_INDEX`).
 */
export function resolveShard(
  options: { shard?: string; shards?: string },
  env: Record<string, string | undefined>,
): Shard | undefined {
  if (options.shard !== undefined) return parseShard(options.shard);
  if (options.shards === undefined) return undefined;
  const count = Number(options.shards);
  const raw = env.SLURM_ARRAY_TASK_ID ?? env.JOB_COMPLETION_INDEX;
  if (raw === undefined) {
    throw new RangeError(
      `Cannot pick a shard: --shards ${options.shards} needs --shard or SLURM_ARRAY_TASK_ID / ` +
        `JOB_COMPLETION_INDEX in the environment`,
    );
  }
  return parseShard(`${raw}/${count}`);
}

/** A decimal number written out (`Number` alone reads "" and " " as 0, "0x10" as 16). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** `Number(text)` for a decimal number, else NaN. */
function decimal(text: string): number {
  return DECIMAL.test(text.trim()) ? Number(text) : NaN;
}

/** Parses `--schedule`: `constant`, `exp:RATE`, `step:E1,E2:FACTOR`. */
export function parseSchedule(text: string): LearningRateSchedule {
  if (text === "constant") return { kind: "constant" };
  let m = /^exp:([0-9.eE+-]+)$/.exec(text);
  if (m && DECIMAL.test(m[1])) return { kind: "exponential", rate: Number(m[1]) };
  // epochs: integers separated by single commas ("60,,120" is not epochs 60, 0, 120)
  m = /^step:(\d+(?:,\d+)*):([0-9.eE+-]+)$/.exec(text);
  if (m && DECIMAL.test(m[2])) {
    return { kind: "step", epochs: m[1].split(",").map(Number), factor: Number(m[2]) };
  }
  throw new RangeError(
    `Cannot parse --schedule '${text}': expected constant, exp:RATE or step:E1,E2,...:FACTOR`,
  );
}

function parseLambdas(values: { lambdas?: string; "lambda-grid"?: string }): number[] {
  if (values.lambdas !== undefined) {
    const l = values.lambdas.split(",").map(decimal);
    if (l.some((v) => !(v >= 0) || !Number.isFinite(v))) {
      throw new RangeError(`Cannot parse --lambdas '${values.lambdas}': expected numbers ≥ 0`);
    }
    return l;
  }
  const g = values["lambda-grid"] ?? "0:2:10";
  const m = /^([0-9.eE+-]+):([0-9.eE+-]+):(\d+)$/.exec(g);
  if (!m) throw new RangeError(`Cannot parse --lambda-grid '${g}': expected START:STOP:COUNT`);
  return linspace(Number(m[1]), Number(m[2]), Number(m[3]));
}

function list(name: string, v: string | undefined): string[] {
  if (!v) throw new RangeError(`Missing --${name}\n${USAGE}`);
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const x = decimal(v);
  if (!Number.isFinite(x)) throw new RangeError(`Cannot parse --${name} '${v}': not a number`);
  return x;
}

/**
 * Runs the sweep CLI.
 *
 * @param args Command-line arguments (`Deno.args`).
 * @param context The registry, the environment, and output sinks.
 * @returns The exit code.
 */
export async function sweepMain(
  args: string[],
  context: {
    registry: SweepRegistry;
    /** A module exporting `registry` (this one), for `run --workers`'s workers to import. */
    registryModule?: string;
    env: Record<string, string | undefined>;
    print?: (s: string) => void;
    error?: (s: string) => void;
  },
): Promise<number> {
  const print = context.print ?? console.log;
  const error = context.error ?? console.error;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        archs: { type: "string" },
        datasets: { type: "string" },
        lambdas: { type: "string" },
        "lambda-grid": { type: "string" },
        runs: { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        lr: { type: "string" },
        schedule: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        shard: { type: "string" },
        shards: { type: "string" },
        checkpoints: { type: "string" },
        registry: { type: "string" },
        backend: { type: "string" },
        threads: { type: "string" },
        workers: { type: "string" },
        quiet: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    const [command, ...rest] = positionals;
    // an empty folder or file (e.g. `--checkpoints=$DIR` with DIR unset) was silently skipped
    for (const flag of ["out", "checkpoints", "registry"] as const) {
      if (values[flag] === "") throw new RangeError(`--${flag} is empty\n${USAGE}`);
    }
    if (values.help || !command) {
      print(USAGE);
      return command || values.help ? 0 : 2;
    }
    if (command === "merge") {
      if (rest.length === 0) throw new RangeError(`merge needs at least one results file`);
      const { results, skipped, duplicates } = await readSweepResults(rest);
      if (values.out) {
        await writeFileAtomic(values.out, results.map((r) => JSON.stringify(r) + "\n").join(""));
      }
      const summary = summarizeSweep(results);
      if (values.json) {
        print(JSON.stringify({ summary, results: results.length, skipped, duplicates }));
      } else {
        print(`${results.length} runs (${duplicates} duplicates, ${skipped} unreadable lines)`);
        print("arch\tdataset\tlambda\truns\tmean\tstd\tmax");
        for (const r of summary) {
          print(
            `${r.arch}\t${r.dataset}\t${r.lambda.toFixed(4)}\t${r.runs}\t${r.mean.toFixed(4)}\t` +
              `${r.std.toFixed(4)}\t${r.max.toFixed(4)}`,
          );
        }
      }
      return 0;
    }
    if (command !== "run" && command !== "plan") {
      throw new RangeError(`Unknown command '${command}'\n${USAGE}`);
    }
    let registry = context.registry;
    if (values.registry) {
      const url = new URL(values.registry, `file://${Deno.cwd()}/`).href;
      const mod = await import(url);
      if (!mod.registry) throw new TypeError(`${values.registry} does not export 'registry'`);
      registry = {
        models: { ...registry.models, ...mod.registry.models },
        datasets: { ...registry.datasets, ...mod.registry.datasets },
      };
    }
    const spec: SweepSpec = {
      architectures: list("archs", values.archs),
      datasets: list("datasets", values.datasets),
      lambdas: parseLambdas(values),
      runs: num("runs", values.runs, 15),
      seed: num("seed", values.seed, 0),
      train: {
        epochs: num("epochs", values.epochs, 150),
        batchSize: num("batch-size", values["batch-size"], 50),
        learningRate: num("lr", values.lr, 1e-3),
        schedule: values.schedule ? parseSchedule(values.schedule) : { kind: "constant" },
        progress: values.quiet ? "silent" : "auto",
      },
    };
    const shard = resolveShard(values, context.env);
    const prefer = values.backend ?? "auto";
    if (!["auto", "wasm", "cpu", "webgpu"].includes(prefer)) {
      throw new RangeError(`Unknown --backend '${prefer}': expected auto, wasm, cpu or webgpu`);
    }
    const threads = values.threads === undefined ? undefined : num("threads", values.threads, 1);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 8)) {
      throw new RangeError(`Cannot use --threads ${values.threads}: expected an integer in [1, 8]`);
    }
    const workers = num("workers", values.workers, 1);
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= 16)) {
      throw new RangeError(
        `Cannot use --workers ${values.workers}: expected an integer in [1, 16]`,
      );
    }
    if (command === "plan") {
      const plan = planSweep(spec, registry);
      const mine = shard ? shardRuns(plan, shard) : plan;
      for (const r of mine) print(`${r.index}\t${r.key}`);
      print(`${mine.length} of ${plan.length} runs`);
      return 0;
    }
    if (!values.out) throw new RangeError(`Missing --out\n${USAGE}`);
    const plan = planSweep(spec, registry); // unknown names are refused before a backend starts
    if (workers > 1) {
      if (context.registryModule === undefined) {
        throw new RangeError("Cannot use --workers here: no registry module for the workers");
      }
      const count = Math.min(workers, (shard ? shardRuns(plan, shard) : plan).length);
      if (count > 1) {
        const status = await sweepInWorkers(args, shard, count, {
          registryModule: context.registryModule,
          threads: threads ?? 1,
          log: values.quiet ? () => {} : error,
          print,
        });
        return status;
      }
    }
    const chosen = await selectBackend({
      prefer: prefer as SelectBackendOptions["prefer"],
      wasmThreads: threads,
    });
    if (!values.quiet) error(`sweep: tfjs backend ${chosen.backend} (${chosen.reason})`);
    const res = await runSweep(spec, {
      registry,
      out: values.out,
      shard,
      checkpointRoot: values.checkpoints,
      log: values.quiet ? undefined : error,
    });
    print(`ran ${res.ran}, skipped ${res.skipped} finished runs${res.stopped ? ", stopped" : ""}`);
    return 0;
  } catch (e) {
    error(e instanceof Error ? e.message : String(e));
    return 2;
  }
}
