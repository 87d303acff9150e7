/**
 * The WebGPU engine with a hardware adapter's choices — tiled products (8 × 8 and 4 × 4,
 * four-wide gathers), gathers through the codes, window tiles, the `"reduce"` schedule — on
 * whatever adapter there is, against the float64 CPU reference: on a machine without a GPU,
 * the software adapter runs exactly the kernels a GPU would (CI's tests run it the direct
 * schedule instead, whose shaders compile in milliseconds). Exits non-zero on a disagreement.
 *
 * Through Mesa's GL adapter, slow the first time (each tiled shader compiles for tens of
 * seconds; Mesa caches them: largeCNN took 32 min); through lavapipe (Vulkan) 4 s for smallCNN
 * and 27 s for largeCNN (CI's `tests/backend/webgpu/hardware_path_test.ts` runs both):
 * `deno run -A bench/hardware_path_check.ts [smallCNN|largeCNN]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { affineMapWebGpu, innerProductsWebGpu } from "../lib/backend/webgpu/passes.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../lib/affine/template_inner_products.ts";

await tf.setBackend("cpu");
const ctx = await webgpuContext();
if (ctx === null) {
  console.log("no WebGPU adapter");
  Deno.exit(0);
}
const arch = Deno.args[0] ?? "smallCNN";
if (arch !== "smallCNN" && arch !== "largeCNN") {
  console.error("usage: deno run -A bench/hardware_path_check.ts [smallCNN|largeCNN]");
  Deno.exit(2);
}
const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
// initial biases and batch-norm shifts are zeros: the offsets B would be 0 and tell nothing
for (const layer of model.layers) {
  const weights = layer.getWeights();
  layer.setWeights(
    weights.map((w, i) =>
      /bias|beta/.test(layer.weights[i].name)
        ? tf.tensor(
          Float32Array.from({ length: w.size }, (_, j) => 0.1 * Math.sin(7 * j + i)),
          w.shape,
        )
        : w
    ),
  );
}
const net = fromLayersModel(model);
const n = arch === "smallCNN" ? 3 : 1, D = net.inputSize;
const x = {
  data: Float64Array.from({ length: n * D }, (_, i) => Math.sin(i * 12.9898)),
  shape: [n, ...net.inputShape],
};
const hardware = { ...ctx, isFallback: false }; // the same device, a GPU's choices
const t0 = performance.now();
const { A, B } = await affineMapWebGpu(hardware, net, { x: x.data, n });
const ip = await innerProductsWebGpu(hardware, net, { x: x.data, n });
const seconds = (performance.now() - t0) / 1000;
const ref = affineMap(net, x, { backend: "cpu" });
const refIp = templateInnerProducts(net, x, { backend: "cpu" }).data;

/** The largest difference over the largest reference value. */
function relative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let top = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    top = Math.max(top, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return top === 0 ? (err === 0 ? 0 : Infinity) : err / top;
}
const errors = {
  A: relative(A, ref.A.data),
  B: relative(B, ref.B.data),
  "<A_c, x>": relative(ip, refIp),
};
console.log(
  `${arch}, ${n} input(s), a GPU's kernels on ${ctx.adapterName} (${seconds.toFixed(0)} s): ${
    Object.entries(errors).map(([k, e]) => `${k} ${e.toExponential(2)}`).join(", ")
  } of the largest reference value`,
);
if (Object.values(errors).some((e) => !(e <= 1e-4))) {
  console.log("DISAGREES with the float64 reference (tolerance 1e-4)");
  Deno.exit(1);
}
