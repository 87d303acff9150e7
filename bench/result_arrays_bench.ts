/**
 * The host side of `affineMapAsync(net, batch, { backend: "webgpu" })` for smallCNN, batch
 * 2,048 (A: 2,048 × 10 × 3,072 values read back in chunks of 233 examples), without a GPU:
 * the chunks' float32 values copied into the result two ways.
 *
 * - `before`: into a float32 array, then `Float64Array.from` of it (the fifth session's code);
 * - `now`: straight into the float64 array returned.
 *
 * Most of either is first touching fresh pages. Run each in its own process (an earlier run's
 * freed memory changes the next one's page faults):
 *
 * ```sh
 * for i in 1 2 3; do for w in before now; do deno run bench/result_arrays_bench.ts $w; done; done
 * ```
 *
 * @module
 */
const which = Deno.args[0];
if (which !== "before" && which !== "now") {
  console.error("usage: deno run bench/result_arrays_bench.ts before|now");
  Deno.exit(2);
}
const chunk = 233 * 10 * 3072, n = 2048 * 10 * 3072;
// one chunk's mapped range, as read back
const mapped = Float32Array.from({ length: chunk }, (_, i) => Math.sin(i));
const t0 = performance.now();
let result: Float64Array;
if (which === "before") {
  const a = new Float32Array(n);
  for (let s = 0; s < n; s += chunk) a.set(mapped.subarray(0, Math.min(chunk, n - s)), s);
  result = Float64Array.from(a);
} else {
  result = new Float64Array(n);
  for (let s = 0; s < n; s += chunk) result.set(mapped.subarray(0, Math.min(chunk, n - s)), s);
}
const ms = performance.now() - t0;
if (result[n - 1] !== Math.fround(Math.sin((n - 1) % chunk))) throw new Error("wrong copy");
console.log(`${which}: ${ms.toFixed(0)} ms for ${(n * 8 / 2 ** 20).toFixed(0)} MiB of float64 A`);
