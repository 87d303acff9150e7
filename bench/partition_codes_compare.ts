/**
 * How fast are Figure 4's partition codes? `partitionCodes` with its default engine (on
 * tfjs-wasm: the tfjs engine, float32, codes read back and packed) and with the float64 CPU
 * engine, against the bare tfjs forward pass that records the masks (`forwardPassTf`, masks
 * downloaded, not packed), for smallCNN without batch-norm on 32×32×3 inputs.
 *
 * ```sh
 * deno run -A bench/partition_codes_compare.ts [images=500] [batch=250]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { partitionCodes } from "../lib/partition/codes.ts";
import { disposeCodes, forwardPassTf } from "../lib/backend/tfjs/run.ts";
import { resolveBackend } from "../lib/backend/backend.ts";

const n = Number(Deno.args[0] ?? 500), batch = Number(Deno.args[1] ?? 250);
await selectBackend({ prefer: "wasm" });
const net = fromLayersModel(smallCNN({ batchNorm: false, seed: 1 }));
const x = tf.randomNormal([n, 32, 32, 3], 0, 1, "float32", 2);
const slices = Array.from(
  { length: Math.ceil(n / batch) },
  (_, i) => tf.slice(x, i * batch, Math.min(batch, n - i * batch)),
);

/** Images/s of `partitionCodes` on every slice with `backend`. */
function codesRate(backend: "auto" | "cpu"): number {
  partitionCodes(net, tf.slice(x, 0, 8), { backend }); // warm-up
  const t = performance.now();
  for (const s of slices) partitionCodes(net, s, { backend });
  return n / ((performance.now() - t) / 1000);
}
const auto = codesRate("auto");
const cpu = codesRate("cpu");

const t = performance.now();
for (const s of slices) {
  const { output, codes } = forwardPassTf(net, s);
  for (const c of codes.values()) {
    if ("slope" in c) c.slope.dataSync();
    else if ("positive" in c) c.positive.dataSync();
    else c.input.dataSync();
  }
  output.dispose();
  disposeCodes(codes);
}
const tfjs = n / ((performance.now() - t) / 1000);
console.log(
  `smallCNN (no BN), ${n} images, batch ${batch}: partitionCodes default engine ` +
    `(${resolveBackend(slices[0], {})}) ${auto.toFixed(0)} img/s, float64 CPU engine ` +
    `${cpu.toFixed(0)} img/s; bare tfjs-wasm forward + mask download ${tfjs.toFixed(0)} img/s`,
);
