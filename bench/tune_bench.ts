/**
 * `tuneWebGpu` on smallCNN or largeCNN on this machine's adapter: what each conv's algorithms
 * took in the engine's passes, and what it chose (on a software adapter, with few examples).
 * `deno run -A bench/tune_bench.ts [smallCNN|largeCNN] [examples]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { tuneWebGpu } from "../lib/backend/webgpu/tune.ts";
import { webgpuAdapterInfo } from "../lib/backend/webgpu/device.ts";

await tf.setBackend("cpu");
const arch = Deno.args[0] ?? "smallCNN";
if (arch !== "smallCNN" && arch !== "largeCNN") {
  console.error("usage: deno run -A bench/tune_bench.ts [smallCNN|largeCNN] [examples]");
  Deno.exit(2);
}
const examples = Deno.args[1] === undefined ? undefined : Number(Deno.args[1]);
const net = fromLayersModel(arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 }));
console.log(`adapter: ${(await webgpuAdapterInfo())?.name}`);
const t0 = performance.now();
const timings = await tuneWebGpu(net, { examples });
console.log(
  `${arch} tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s (compiles included):`,
);
for (const t of timings) {
  const ms = Object.entries(t.ms).map(([a, v]) => `${a} ${v!.toFixed(1)}`).join(", ");
  console.log(`  ${t.layer} ${t.direction}: ${t.chosen} (ms a pass: ${ms})`);
}
