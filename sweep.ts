/**
 * λ-sweep command line (see docs/sweeps.md):
 *
 * ```sh
 * deno run -A sweep.ts run --archs mlp --datasets blobs --lambdas 0,1 --runs 2 --epochs 3 \
 *   --batch-size 30 --out results/shard-0.jsonl --shard 0/2
 * deno run -A sweep.ts merge results/*.jsonl
 * ```
 *
 * @module
 */
import { sweepMain } from "./lib/train/_sweep_cli.ts";
import { toyRegistry } from "./lib/train/_toy_registry.ts";
import { paperSweepRegistry } from "./lib/experiments/sweep_registry.ts";

// the paper's architectures (smallCNN, largeCNN, resNet) and datasets, plus a toy pair (mlp on
// synthetic blobs) for trying the machinery in seconds; exported for `run --workers`, whose
// workers import this module for it
const paper = paperSweepRegistry();
export const registry = {
  models: { ...toyRegistry.models, ...paper.models },
  datasets: { ...toyRegistry.datasets, ...paper.datasets },
};

if (import.meta.main) {
  Deno.exit(
    await sweepMain(Deno.args, {
      registry,
      registryModule: import.meta.url,
      env: Deno.env.toObject(),
    }),
  );
}
