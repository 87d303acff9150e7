/**
 * The benchmarks' timing of a batch computation (private helper of bench/affine_compare.ts and
 * bench/onnx_compare.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Median images/s of `reps` runs of `fn` after one warm-up; a tensor result is read back (and
 * disposed) inside the timing, as a caller would need its values.
 */
export function imagesPerSecond(
  fn: () => tf.Tensor | { data: Float64Array },
  batch: number,
  reps: number,
): number {
  const run = () => {
    const out = fn();
    if (out instanceof tf.Tensor) {
      out.dataSync();
      out.dispose();
    }
  };
  run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return batch / (times[Math.floor(times.length / 2)] / 1000);
}
