/**
 * `sweep.ts run --workers N` (lib/train/_sweep_cli.ts): the shard's runs in N Deno workers
 * (`_sweep_cli_worker.ts`), each running the same command on its part of the shard
 * (`subShard`) with its own tfjs-wasm, all appending to the one results file (appends of whole
 * lines are atomic on a local file system). Small batches keep two cores busier as two
 * single-threaded trainings than as one on both (bench/RESULTS.md, "Twenty-sixth session").
 *
 * @module
 */
import { type Shard, subShard } from "./sweep.ts";

/** What a worker is told: the command line to run and the module exporting its `registry`. */
export interface SweepWorkerTask {
  /** `sweep.ts` arguments (a `run` of one part, its threads set). */
  readonly args: string[];
  /** URL of a module exporting `registry`. */
  readonly registryModule: string;
}

/** What a worker says: a line for standard output or error, or its exit code. */
export type SweepWorkerMessage =
  | { readonly print: string }
  | { readonly log: string }
  | { readonly code: number };

/** Flags a worker's command line sets itself. */
const OWN = ["workers", "shard", "shards", "threads"];

/**
 * `args` without `--workers`, `--shard`, `--shards` and `--threads` (as `--flag value` or
 * `--flag=value`), then the part's shard and threads.
 */
export function workerArgs(args: readonly string[], part: Shard, threads: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(=.*)?$/.exec(args[i]);
    if (m && OWN.includes(m[1])) {
      if (m[2] === undefined) i++; // its value is the next argument
      continue;
    }
    out.push(args[i]);
  }
  return [...out, "--shard", `${part.index}/${part.count}`, "--threads", `${threads}`];
}

/**
 * Runs `args` (a `run`) in `count` workers, part `w` of `shard` in worker `w`; their lines go to
 * `log` and `print` prefixed with the worker. Resolves with the largest exit code once all have
 * ended (a worker whose module fails to load ends with 2).
 *
 * @param args The command line.
 * @param shard The shard to split (undefined: the whole plan).
 * @param count Workers, ≥ 2.
 * @param options The registry module, threads a worker, the output sinks.
 * @returns The exit code.
 */
export async function sweepInWorkers(
  args: readonly string[],
  shard: Shard | undefined,
  count: number,
  options: {
    registryModule: string;
    threads: number;
    log: (line: string) => void;
    print: (line: string) => void;
  },
): Promise<number> {
  const codes = await Promise.all(Array.from({ length: count }, (_, w) => {
    const tag = `worker ${w + 1}/${count}`;
    const worker = new Worker(new URL("./_sweep_cli_worker.ts", import.meta.url), {
      type: "module",
    });
    return new Promise<number>((resolve) => {
      worker.onmessage = (e: MessageEvent<SweepWorkerMessage>) => {
        const m = e.data;
        if ("print" in m) options.print(`${tag}: ${m.print}`);
        else if ("log" in m) options.log(`${tag}: ${m.log}`);
        else resolve(m.code);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        options.log(`${tag}: ${e.message}`);
        resolve(2);
      };
      const task: SweepWorkerTask = {
        args: workerArgs(args, subShard(shard, w, count), options.threads),
        registryModule: options.registryModule,
      };
      worker.postMessage(task);
    }).finally(() => worker.terminate());
  }));
  return Math.max(...codes);
}
