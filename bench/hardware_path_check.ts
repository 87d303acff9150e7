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
import { setNonzeroOffsets } from "./_nonzero_offsets.ts";
import { relativeError } from "./_relative_error.ts";

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
setNonzeroOffsets(model); // initial ones are zeros: the offsets B would tell nothing
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

const errors = {
  A: relativeError(A, ref.A.data),
  B: relativeError(B, ref.B.data),
  "<A_c, x>": relativeError(ip, refIp),
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
