/**
 * The orthogonality experiment's sweep spread over Deno workers
 * (`runOrthogonality({ workers })`): each worker is its own tfjs-wasm on its own threads and
 * trains one shard of the runs (`_orthogonality_worker.ts`), writing its finished runs and
 * their measurements to the shared results folder; the caller then reads them back as a
 * resumed sweep. A small training step (the quick sweep's batch of 10) keeps two cores
 * busier as two single-threaded trainings than as one on two threads
 * (`bench/sweep_workers_bench.ts`, bench/RESULTS.md).
 *
 * @module
 */
import { type Shard, subShard } from "../train/sweep.ts";

/** What a worker is told: its `runOrthogonality` options (structured-cloneable), its thread
 * count, and whether tfjs runs in production mode (no warnings) as in the caller. */
export interface OrthogonalityWorkerTask {
  /** The options of the worker's own `runOrthogonality` call (`workers: 1`, its shard). */
  readonly options: Record<string, unknown>;
  /** tfjs-wasm threads in the worker. */
  readonly threads: number;
  /** The caller's tfjs `PROD` flag. */
  readonly prod: boolean;
}

/** What a worker says: a progress line, its end, or its failure. */
export type OrthogonalityWorkerMessage =
  | { readonly log: string }
  | { readonly done: true }
  | { readonly error: string };

/**
 * Trains the experiment's runs in `count` workers, each on `threads` tfjs-wasm threads and its
 * shard of `options.shard` (`subShard`); resolves when all have finished, rejects
 * (stopping the others) with the first failure, naming the worker.
 *
 * @param options The caller's options, structured-cloneable, `outDir` set (the workers write
 *   there; the caller reads it back).
 * @param count Workers, ≥ 2.
 * @param threads tfjs-wasm threads a worker.
 * @param prod The caller's tfjs `PROD` flag.
 * @param log Progress lines (each prefixed with its worker).
 */
export async function sweepInWorkers(
  options: Record<string, unknown> & { readonly shard?: Shard },
  count: number,
  threads: number,
  prod: boolean,
  log: (message: string) => void,
): Promise<void> {
  const workers: Worker[] = [];
  try {
    await Promise.all(Array.from({ length: count }, (_, w) => {
      const worker = new Worker(new URL("./_orthogonality_worker.ts", import.meta.url), {
        type: "module",
      });
      workers.push(worker);
      const tag = `worker ${w + 1}/${count}`;
      return new Promise<void>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<OrthogonalityWorkerMessage>) => {
          const m = e.data;
          if ("log" in m) log(`${tag}: ${m.log}`);
          else if ("done" in m) resolve();
          else reject(new Error(`orthogonality ${tag} failed: ${m.error}`));
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          reject(new Error(`orthogonality ${tag} failed: ${e.message}`));
        };
        const task: OrthogonalityWorkerTask = {
          options: { ...options, workers: 1, shard: subShard(options.shard, w, count) },
          threads,
          prod,
        };
        worker.postMessage(task);
      });
    }));
  } finally {
    for (const worker of workers) worker.terminate();
  }
}
