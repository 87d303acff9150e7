/**
 * The CPU side of a WebGPU engine call on a tensor input: reading the batch (checked) and
 * uploading it, as a float64 copy converted back to float32 (the way before) against the
 * tensor's own float32 values (`readBatch(…, { float32: true })`, what the async engine
 * calls do now) — for 16,384 CIFAR-sized inputs (200 MB of float32), the ⟨A_c, x⟩ benchmark's
 * batch. Medians of alternating rounds; the upload goes to whatever adapter there is.
 * `deno run -A bench/tensor_input_bench.ts [rounds]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readBatch } from "../lib/network/batch.ts";
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { Recorder } from "../lib/backend/webgpu/run.ts";

await tf.setBackend("cpu");
const ctx = await webgpuContext();
if (ctx === null) throw new Error("no WebGPU adapter");
const rounds = Number(Deno.args[0] ?? 5);
const exampleShape = [32, 32, 3] as const, n = 16_384;
const x = tf.tidy(() => tf.randomUniform([n, ...exampleShape], -1, 1, "float32", 7));
x.dataSync(); // the tensor's values exist before timing

/** Milliseconds to read the batch and upload it, the way `float32` says. */
function once(float32: boolean): number {
  const t0 = performance.now();
  const { data } = float32
    ? readBatch(x, { exampleShape, float32: true })
    : readBatch(x, { exampleShape });
  const rec = new Recorder(ctx!, "bench");
  rec.uploadInput(data, "input");
  rec.submit();
  rec.release();
  return performance.now() - t0;
}

const times: Record<"float64" | "float32", number[]> = { float64: [], float32: [] };
once(false); // warm-up: pools, pages
once(true);
for (let r = 0; r < rounds; r++) {
  times.float64.push(once(false));
  times.float32.push(once(true));
}
const median = (a: number[]) => a.sort((p, q) => p - q)[a.length >> 1];
const [before, now] = [median(times.float64), median(times.float32)];
console.log(
  `${n} inputs of [${exampleShape}] on ${ctx.adapterName}: read + upload via float64 ${
    before.toFixed(1)
  } ms, float32 as it is ${now.toFixed(1)} ms (${
    (before / now).toFixed(2)
  }×; medians of ${rounds})`,
);
x.dispose();
