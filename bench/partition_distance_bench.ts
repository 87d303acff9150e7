/**
 * Partition distance (eq. 15) benchmarks at D = 8,192 ReLU bits: all-pairs
 * distances and top-16 neighbours of 100 queries among 5,000 codes (0.5 Mpairs),
 * masokit's kernels against the naive plain-JavaScript loop (the baseline).
 * Mpairs/s = 0.5 / (time per iteration in seconds). For the figures in
 * bench/RESULTS.md and the ratio to the C peer run bench/partition_distance_compare.ts.
 *
 * Run: deno bench --allow-env --allow-sys bench/partition_distance_bench.ts
 *
 * @module
 */
import type { CodeLayer } from "../lib/partition/code_layer.ts";
import { nearestNeighbors } from "../lib/partition/nearest_neighbors.ts";
import { partitionDistanceMatrix } from "../lib/partition/distance_matrix.ts";
import { naiveTopK, randomWords, reluCodes } from "./_partition_distance_naive.ts";

const BITS = 8192, WORDS = BITS / 32, N = 100, M = 5000, K = 16;

function codes(count: number, seed: number): CodeLayer {
  return reluCodes(randomWords(count * WORDS, seed), BITS);
}

const query = codes(N, 1), base = codes(M, 2);
const opts = { n: 5, warmup: 1 };

Deno.bench({
  name: "plain JS popcount top-16, 1 thread (naive baseline)",
  group: "top16",
  baseline: true,
  ...opts,
  fn: () => {
    naiveTopK(query.bits, base.bits, WORDS, K);
  },
});

for (const threads of [1, 2]) {
  Deno.bench({
    name: `nearestNeighbors() k = 16, ${threads} thread(s)`,
    group: "top16",
    ...opts,
    fn: () => {
      const { indices, distances } = nearestNeighbors(query, base, { k: K, threads });
      indices.dispose();
      distances.dispose();
    },
  });
  Deno.bench({
    name: `partitionDistanceMatrix() all pairs, ${threads} thread(s)`,
    group: "all-pairs",
    ...opts,
    fn: () => {
      partitionDistanceMatrix(query, base, { threads });
    },
  });
}
