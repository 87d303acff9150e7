/**
 * The kernels a GPU runs, end to end on whatever adapter there is: the engine with a hardware
 * adapter's choices (tiled 8 × 8 / 4 × 4 products with four-wide gathers, batched tiled
 * products for Winograd, gathers through the codes, window tiles, `"reduce"`), against the
 * float64 CPU reference — smallCNN and largeCNN as the paper builds them, and a wide CNN and a
 * ResNet with every algorithm a conv plan can choose. On a software adapter this needs one
 * that compiles the tiled shaders in seconds (Mesa's lavapipe, through Vulkan: its adapter
 * offers `shader-f16`); through GL, llvmpipe takes tens of seconds a shader, and the test is
 * skipped.
 */
import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { SplineNetwork } from "../../../lib/network/spline_network.ts";
import {
  type WebGpuContext,
  webgpuContext,
  type WebGpuHooks,
  webgpuHooks,
} from "../../../lib/backend/webgpu/device.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { setGemmTiles } from "../../../lib/backend/webgpu/gemm_tiles.ts";
import { recordCodesAndOffsets, recordTemplates } from "../../../lib/backend/webgpu/passes.ts";
import {
  clearConvPlans,
  type ConvAlgorithm,
  plannedConvs,
  setConvPlan,
} from "../../../lib/backend/webgpu/conv_plan.ts";
import { smallCNN } from "../../../lib/models/small_cnn.ts";
import { largeCNN } from "../../../lib/models/large_cnn.ts";
import { resNet } from "../../../lib/models/resnet.ts";
import { assertAffineAgrees, assertAffineAgreesAwayFromTies } from "./_affine_agrees.ts";
import { fastCompiles } from "./_fast_compiles.ts";
import { assertEquals } from "../../_assert.ts";
import { cases } from "../../_cases.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();
/** The same device, with a GPU's kernel choices. */
const hardware = gpu === null ? null : { ...gpu, isFallback: false };

/** A, B and ⟨A_c, x⟩ of the hardware path within `tolerance` of the largest reference value. */
async function assertHardwareAgrees(
  net: SplineNetwork,
  x: tf.Tensor,
  what: string,
  tolerance: number,
) {
  const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
  await assertAffineAgrees(net, batch, what, tolerance, hardware!);
}

/** A ResNet of 16–24 channels (Winograd inside residual blocks), weights and biases random. */
function residualNet(seed: number): tf.LayersModel {
  const model = resNet({ inputShape: [12, 12, 3], filters: [16, 20, 24], blocks: [1, 1, 1], seed });
  randomizeWeights(model, seed);
  return model;
}

Deno.test({
  name: "a GPU's kernels agree with the float64 reference: smallCNN and largeCNN",
  ignore: !fastCompiles,
  async fn() {
    // measured on lavapipe: smallCNN 2.3e-7 (A), largeCNN 2.3e-6 (A, Winograd F(4) inside);
    // these inputs have codes within 1e-7 of a tie (float32 rounding: the H100 decided one of
    // them the other way), so the examples with a near tie decided otherwise are left out
    for (const [arch, make, n] of [["smallCNN", smallCNN, 3], ["largeCNN", largeCNN, 2]] as const) {
      const model = make({ seed: 1 });
      randomizeWeights(model, 7); // biases and batch-norm shifts too (B would be 0)
      const x = randomInput(model.inputs[0].shape.slice(1) as number[], n, 70);
      const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
      await assertAffineAgreesAwayFromTies(fromLayersModel(model), batch, arch, 1e-5, hardware!);
      x.dispose();
      model.dispose();
    }
  },
});

Deno.test({
  name: "a GPU's kernels with every algorithm a conv plan chooses: a wide CNN, a ResNet",
  ignore: !fastCompiles,
  async fn() {
    const wide = cases(21).at(-1)!;
    const resnet = residualNet(3);
    const nets = [
      { name: "wide CNN", net: fromLayersModel(wide.model), x: wide.x },
      { name: "ResNet", net: fromLayersModel(resnet), x: randomInput([12, 12, 3], 2, 2101) },
    ];
    const plans: { forward: ConvAlgorithm; transpose: ConvAlgorithm }[] = [
      { forward: "winograd4", transpose: "window-tiles" },
      { forward: "winograd2", transpose: "winograd4" },
      { forward: "product", transpose: "winograd2" },
      { forward: "winograd4", transpose: "product" },
      { forward: "winograd4", transpose: "layers" },
      { forward: "winograd6", transpose: "winograd6" },
    ];
    for (const { name, net, x } of nets) {
      try {
        for (const plan of plans) {
          plannedConvs(net).forEach((conv) => setConvPlan(gpu!, conv, plan));
          await assertHardwareAgrees(net, x, `${name}, ${JSON.stringify(plan)}`, 1e-5);
          if (plan.forward === "winograd6") {
            const keys = [...gpu!.pipelines.keys()];
            assertEquals(keys.some((k) => k.startsWith("winograd6/")), true, `${name}: F(6) ran`);
          }
        }
      } finally {
        clearConvPlans(gpu!, net);
      }
    }
    resnet.dispose();
  },
});

Deno.test({
  name: "a GPU's kernels under each alternative the GPU benchmark times (smallCNN, a ResNet)",
  ignore: !fastCompiles,
  async fn() {
    // the hooks of bench/webgpu_bench.ts's VARIANTS: a broken one would cost a GPU session
    const variants: WebGpuHooks[] = [
      { gemmMaxPerThread: 4 },
      { gemmBlocked: false, gemmPrefetch: false },
      { gemmBlocked: false, gemmPrefetch: false, gemmMaxPerThread: 4 },
      { gemmBlocked: true, gemmPrefetch: false },
      { gemmBlocked: true, gemmPrefetch: true, gemmMaxPerThread: 4 },
      { gemmBlocked: "quads", gemmPrefetch: false },
      { gemmBlocked: false, gemmPrefetch: true },
      { gemmReduce: false },
      { windowTiles: "narrow" },
      { windowTiles: "work" },
      { windowTiles: false },
      { fuseTransposes: false },
      { fuseTransposes: true },
      { winograd: false },
      // (F(6) unstaged, the variant f6, runs in the plans' test above)
      { winogradStaged: true },
      { winograd: 6, winogradStaged: true },
      { winograd: 2 },
      { winogradRecording: true },
      { convTaps: false },
    ];
    const model = smallCNN({ seed: 2 });
    randomizeWeights(model, 8);
    const resnet = residualNet(4);
    const nets = [
      { name: "smallCNN", net: fromLayersModel(model), x: randomInput([32, 32, 3], 2, 80) },
      { name: "ResNet", net: fromLayersModel(resnet), x: randomInput([12, 12, 3], 2, 81) },
    ];
    try {
      for (const hooks of variants) {
        Object.assign(webgpuHooks, hooks);
        try {
          for (const { name, net, x } of nets) {
            await assertHardwareAgrees(net, x, `${name}, ${JSON.stringify(hooks)}`, 1e-5);
          }
        } finally {
          for (const k of Object.keys(hooks)) delete webgpuHooks[k as keyof WebGpuHooks];
        }
      }
    } finally {
      model.dispose();
      resnet.dispose();
    }
  },
});

Deno.test({
  name: "a GPU's kernels with the tiles a GEMM sweep names for its products (setGemmTiles)",
  ignore: !fastCompiles,
  async fn() {
    // what bench/webgpu_bench.ts --tiles=FILE does with bench/gemm_sweep.ts's best shapes: here
    // every batched Winograd product in strided-quad 4 × 8 tiles that prefetch, 8 rows of
    // threads, 32 depths a slice
    const tile = {
      schedule: "8qp" as const,
      shape: {
        rm: 4,
        rn: 8,
        thm: 8,
        tk: 32,
        maxBytes: gpu!.device.limits.maxComputeWorkgroupStorageSize,
      },
    };
    const model = smallCNN({ seed: 4 });
    randomizeWeights(model, 9);
    const net = fromLayersModel(model), x = randomInput([32, 32, 3], 2, 90);
    try {
      // the products' keys at the engine's tiles, from a run by the rules
      await assertHardwareAgrees(net, x, "smallCNN", 1e-5);
      const keys = [...gpu!.pipelines.keys()].filter((k) => /^gemm-8qpv4\/winograd4\//.test(k));
      assertEquals(keys.length > 0, true, "Winograd products by the rules");
      setGemmTiles(gpu!, Object.fromEntries(keys.map((k) => [k, tile])));
      await assertHardwareAgrees(net, x, "smallCNN in the set tiles", 1e-5);
      const used = [...gpu!.pipelines.keys()].filter((k) => k.includes("/t4x8,8,32,"));
      assertEquals(used.length > 0 && used.every((k) => k.startsWith("gemm-8qpv4/winograd")), true);
    } finally {
      setGemmTiles(gpu!, null);
      model.dispose();
    }
  },
});

/** A recorder that notes the input shape of each window-tile kernel it records. */
class WindowTiles extends Recorder {
  readonly inputs = new Set<string>();
  protected override encode(...args: Parameters<Recorder["encode"]>) {
    const key = args[0].key;
    if (key.startsWith("pool-conv-tiles/")) this.inputs.add(key.split("/")[1]);
    super.encode(...args);
  }
}

Deno.test({
  name: "window tiles by default: narrow convs on GPUs, also work-saving ones on software adapters",
  ignore: gpu === null,
  async fn() {
    // smallCNN: conv1 (3 channels in) and conv2 (32 in; window tiles do 4/9 of the product's
    // multiply-adds) each before a 2 × 2 max-pool
    const model = smallCNN({ seed: 3 });
    const net = fromLayersModel(model);
    const tiled = (ctx: WebGpuContext, rule?: WebGpuHooks["windowTiles"]) => {
      if (rule !== undefined) webgpuHooks.windowTiles = rule;
      const rec = new WindowTiles(ctx, "window tiles");
      try {
        const x = rec.upload(new Float32Array(net.inputSize), "input");
        const { codes } = recordCodesAndOffsets(rec, net, x, 1);
        recordTemplates(rec, net, codes, { first: 0, count: 1 });
        rec.submit();
      } finally {
        rec.release();
        delete webgpuHooks.windowTiles;
      }
      return [...rec.inputs].sort();
    };
    const conv1 = "32,32,3", conv2 = "15,15,32";
    assertEquals(tiled(hardware!), [conv1]);
    assertEquals(tiled({ ...gpu!, isFallback: true }), [conv2, conv1].sort());
    assertEquals(tiled(hardware!, "work"), [conv2, conv1].sort());
    assertEquals(tiled({ ...gpu!, isFallback: true }, "narrow"), [conv1]);
    assertEquals(tiled(hardware!, false), []);
    await gpu!.device.queue.onSubmittedWorkDone();
    model.dispose();
  },
});
