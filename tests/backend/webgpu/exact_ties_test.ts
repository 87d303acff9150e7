/**
 * Exact ties on WebGPU: an image's constant background gives a conv equal outputs at every
 * position of the background, so a max-pool window over them ties exactly and its code is the
 * first index (the CPU reference's convention). Winograd's rounding differs from one position
 * of a tile to the next, so the passes that record codes run every conv as a product
 * (`winogradRecordsCodes`, run.ts); the other passes keep Winograd, and so does the one that
 * records the codes of ⟨A_c, x⟩ alone, which does not depend on how exact ties are decided. Checked on the rules of
 * both adapter kinds (a GPU's kernels on whatever adapter there is), with a plan that asks
 * for Winograd forward, and for fields repeated along a diagonal (which even F(2)'s ±1
 * transforms get wrong); tests/bench/real_data_agreement_test.ts checks real MNIST images.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import {
  forwardWebGpu,
  innerProductsWebGpu,
  recordInnerProducts,
} from "../../../lib/backend/webgpu/passes.ts";
import { Recorder, winogradRecordsCodes } from "../../../lib/backend/webgpu/run.ts";
import {
  clearConvPlans,
  plannedConvs,
  setConvPlan,
} from "../../../lib/backend/webgpu/conv_plan.ts";
import { winogradApplies } from "../../../lib/backend/webgpu/kernels/winograd.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { SplineNetwork } from "../../../lib/network/spline_network.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { partitionCodesAsync } from "../../../lib/partition/codes_async.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { assert, assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";
import { cases } from "../../_cases.ts";
import { repeatsNet } from "../../_tie_images.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

/** Four images of a constant (zero) background with one lit pixel each. */
function litPixels(): { data: Float64Array; shape: number[] } {
  const data = new Float64Array(4 * 10 * 9 * 3);
  for (let n = 0; n < 4; n++) data[((n * 10 + 3 + n) * 9 + 4) * 3 + (n % 3)] = 1 + n;
  return { data, shape: [4, 10, 9, 3] };
}

/**
 * The raw codes of one forward pass on WebGPU (by the rules of a hardware adapter where
 * `hardware`), layer by layer, against the float64 reference's: entries that differ.
 */
async function differing(
  net: SplineNetwork,
  batch: { data: Float64Array; shape: number[] },
  hardware: boolean,
): Promise<number[]> {
  const want = partitionCodes(net, batch, { backend: "cpu" });
  const ctx = hardware ? { ...gpu!, isFallback: false } : gpu!;
  const { codes } = await forwardWebGpu(ctx, net, { x: batch.data, n: batch.shape[0] });
  return net.codeLayers.map((info, i) => {
    const got = codes.get(info.layer)!;
    const ref = info.kind === "max-pool" ? want[i].argmax : want[i].bits;
    assertEquals(got.length, ref.length, `${info.name}: code words`);
    return got.filter((v, j) => v !== ref[j]).length;
  });
}

/** Whether some conv of `net` would run by Winograd in a pass with fixed codes. */
const hasWinogradConv = (net: SplineNetwork) =>
  plannedConvs(net).some((c) =>
    winogradApplies(c) && Math.min(c.inputShape[2], c.outputShape[2]) >= 16
  );

Deno.test({
  name: "WebGPU: codes of a constant background keep the first-index convention at max-pool ties",
  ignore: gpu === null,
  fn: async (t) => {
    assertEquals(winogradRecordsCodes(), false, "the default: products in recording passes");
    const net = fromLayersModel(cases(11).find((c) => c.name.startsWith("wide CNN"))!.model);
    assert(hasWinogradConv(net), "a conv that the other passes run by Winograd");
    const batch = litPixels();
    const tied = partitionCodes(net, batch, { backend: "cpu" }).find((l) => l.kind === "max-pool")!;
    assert(tied.argmax.some((a) => a !== 0), "some windows not tied (the lit pixels)");
    for (const hardware of [false, true]) {
      await t.step(`${hardware ? "a GPU's" : "this adapter's"} rules`, async () => {
        assertEquals(await differing(net, batch, hardware), net.codeLayers.map(() => 0));
      });
    }
    await t.step("with a plan that runs every conv by Winograd forward", async () => {
      try {
        plannedConvs(net).filter(winogradApplies).forEach((c) =>
          setConvPlan(gpu!, c, { forward: "winograd4" })
        );
        assertEquals(await differing(net, batch, true), net.codeLayers.map(() => 0));
      } finally {
        clearConvPlans(gpu!, net);
      }
    });
    await t.step("through partitionCodesAsync and affineMapAsync", async () => {
      const want = partitionCodes(net, batch, { backend: "cpu" });
      const got = await partitionCodesAsync(net, batch, { backend: "webgpu" });
      got.forEach((l, i) => {
        assertEquals(l.bits, want[i].bits, `${l.name} bits`);
        assertEquals(l.argmax, want[i].argmax, `${l.name} argmax`);
      });
      const ref = affineMap(net, batch, { backend: "cpu" });
      const ours = await affineMapAsync(net, batch, { backend: "webgpu" });
      const top = ref.A.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertAllClose(ours.A.data, ref.A.data, 1e-4, "A", top);
    });
  },
});

Deno.test({
  name: "WebGPU: ties of fields repeated along a diagonal or an axis keep the convention",
  ignore: gpu === null,
  fn: async (t) => {
    const { net, batch } = repeatsNet();
    assert(hasWinogradConv(net), "smallCNN's second conv runs by Winograd in the other passes");
    for (const hardware of [false, true]) {
      await t.step(`${hardware ? "a GPU's" : "this adapter's"} rules`, async () => {
        assertEquals(await differing(net, batch, hardware), net.codeLayers.map(() => 0));
      });
    }
    // why the rule is products and not F(2), whose transforms are ±1: F(2) keeps the ties of
    // fields constant along an axis (image 3), not those of fields repeated along a diagonal
    await t.step("F(2) in the recording pass would break the diagonal ones only", async () => {
      Object.assign(webgpuHooks, { winograd: 2, winogradRecording: true });
      try {
        const broken = async (e: number) => {
          // two copies (one image alone would not leave room for Winograd's temporaries)
          const image = batch.data.subarray(e * 3072, (e + 1) * 3072);
          const two = { data: Float64Array.from([...image, ...image]), shape: [2, 32, 32, 3] };
          return (await differing(net, two, false)).reduce((s, d) => s + d, 0);
        };
        for (const e of [0, 1, 2]) assert((await broken(e)) > 0, `image ${e}: ties broken`);
        assertEquals(await broken(3), 0, "image 3 (constant along columns)");
      } finally {
        delete webgpuHooks.winograd;
        delete webgpuHooks.winogradRecording;
      }
    });
  },
});

Deno.test({
  name:
    "WebGPU: with webgpuHooks.winogradRecording, recording passes run by Winograd and break the ties",
  ignore: gpu === null,
  fn: async () => {
    // the case above is one that Winograd's rounding gets wrong: what the rule prevents
    const net = fromLayersModel(cases(11).find((c) => c.name.startsWith("wide CNN"))!.model);
    try {
      webgpuHooks.winogradRecording = true;
      assertEquals(winogradRecordsCodes(), true);
      const wrong = await differing(net, litPixels(), false);
      assert(wrong.some((d) => d > 0), `codes that differ, layer by layer: ${wrong}`);
    } finally {
      delete webgpuHooks.winogradRecording;
    }
  },
});

/** Shader labels in the order a recording of ⟨A_c, x⟩ dispatches them. */
class Labels extends Recorder {
  readonly labels: string[] = [];
  protected override encode(...args: Parameters<Recorder["encode"]>) {
    this.labels.push(args[0].label);
  }
}

Deno.test({
  name: "WebGPU: ⟨A_c, x⟩ records its codes by Winograd, and the ties that breaks leave it equal",
  ignore: gpu === null,
  fn: async (t) => {
    const wide = fromLayersModel(cases(11).find((c) => c.name.startsWith("wide CNN"))!.model);
    const { net: small, batch: repeats } = repeatsNet();
    const nets = [
      { name: "wide CNN, lit pixels", net: wide, batch: litPixels() },
      { name: "smallCNN, repeated fields", net: small, batch: repeats },
    ];
    for (const { name, net, batch } of nets) {
      for (const hardware of [false, true]) {
        await t.step(`${name}, ${hardware ? "a GPU's" : "this adapter's"} rules`, async () => {
          const ctx = hardware ? { ...gpu!, isFallback: false } : gpu!;
          const n = batch.shape[0];
          // the pass that records the codes runs convs by Winograd (before the masked pass)
          const rec = new Labels(ctx, "labels");
          try {
            recordInnerProducts(rec, net, rec.upload(new Float32Array(n * net.inputSize), "x"), n);
          } finally {
            rec.release();
          }
          const masked = rec.labels.findIndex((l) => l.includes("-masked"));
          assert(
            rec.labels.slice(0, masked).some((l) => l.startsWith("winograd")),
            `a Winograd conv before the masked pass: ${rec.labels.slice(0, masked)}`,
          );
          // Winograd's codes break exact ties of this batch …
          webgpuHooks.winogradRecording = true;
          try {
            const broken = await differing(net, batch, hardware);
            assert(broken.some((d) => d > 0), `ties broken by Winograd, layer by layer: ${broken}`);
          } finally {
            delete webgpuHooks.winogradRecording;
          }
          // … yet ⟨A_c, x⟩ is the reference's: tied entries have equal values without biases too
          const want = templateInnerProducts(net, batch, { backend: "cpu" }).data;
          const got = await innerProductsWebGpu(ctx, net, { x: batch.data, n });
          assertAllClose(got, want, 1e-5, "<A_c, x>", largestMagnitude(want));
        });
      }
    }
  },
});
