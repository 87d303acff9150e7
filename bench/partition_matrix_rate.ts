/**
 * `partitionDistanceMatrix` throughput alone, for A/B runs of two checkouts side by side:
 * 500 × 5,000 seeded random ReLU codes of D = 8,192 bits, 2 threads, best of 8 after a warm-up
 * (the call `partition_distance_compare.ts` times, without its peers).
 *
 *   deno run --allow-read --allow-env --allow-sys bench/partition_matrix_rate.ts
 *
 * @module
 */
import { partitionDistanceMatrix } from "../lib/partition/distance_matrix.ts";
import type { CodeLayer } from "../lib/partition/code_layer.ts";
import { randomWords, reluCodes } from "./_partition_distance_naive.ts";

const BITS = 8192, WORDS = BITS / 32;

function codes(count: number, seed: number): CodeLayer {
  return reluCodes(randomWords(count * WORDS, seed), BITS);
}

const q = codes(500, 1), b = codes(5000, 2);
partitionDistanceMatrix(q, b, { threads: 2 });
let best = Infinity;
for (let r = 0; r < 8; r++) {
  const t0 = performance.now();
  partitionDistanceMatrix(q, b, { threads: 2 });
  best = Math.min(best, performance.now() - t0);
}
console.log(
  `partitionDistanceMatrix 500 × 5000, D = ${BITS}, 2 threads: ${
    (500 * 5000 / best / 1000).toFixed(2)
  } Mpairs/s`,
);
