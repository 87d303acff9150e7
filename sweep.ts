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

if (import.meta.main) {
  Deno.exit(await sweepMain(Deno.args, { registry: toyRegistry, env: Deno.env.toObject() }));
}
