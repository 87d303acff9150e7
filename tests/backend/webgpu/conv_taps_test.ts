/**
 * The transpose of a conv with few input channels by taps (kernels/conv_taps.ts: a product
 * with every tap's filters, then each input pixel's taps summed), against brute force (the
 * gradient through the sign layer and max-pool after the conv, scattered through every tap)
 * and, through the engine, against the float64 CPU reference; and the rule that picks it.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import { Recorder, tapsFor } from "../../../lib/backend/webgpu/run.ts";
import { readBack } from "../../../lib/backend/webgpu/_gpu.ts";
import type { GemmSchedule } from "../../../lib/backend/webgpu/kernels/gemm.ts";
import {
  convTapsApply,
  convTapsGemm,
  convTapsKernel,
  convTapsSumShader,
} from "../../../lib/backend/webgpu/kernels/conv_taps.ts";
import {
  clearConvPlans,
  plannedConvs,
  setConvPlan,
} from "../../../lib/backend/webgpu/conv_plan.ts";
import { tuneWebGpu } from "../../../lib/backend/webgpu/tune.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { Conv2DLayer } from "../../../lib/network/spline_network.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";
import { assertAffineAgrees } from "./_affine_agrees.ts";
import { fastCompiles } from "./_fast_compiles.ts";
import {
  gradientAtConv,
  poolOver,
  scatterTranspose,
  seeded,
  seededCodes,
} from "./_gradient_through_codes.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

/** Kernel size, strides and padding of a conv. */
interface Geometry {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: "same" | "valid";
}

/** A conv layer of seeded weights. */
function convLayer(
  input: [number, number, number],
  cout: number,
  options: Geometry,
  seed: number,
): { layer: Conv2DLayer; dispose: () => void } {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({
      inputShape: input,
      filters: cout,
      kernelSize: [...options.kernel],
      strides: [...options.strides],
      padding: options.padding,
    })],
  });
  const [KH, KW] = options.kernel;
  model.layers[0].setWeights([
    tf.tensor(Float32Array.from(seeded(KH * KW * input[2] * cout, seed)), [
      KH,
      KW,
      input[2],
      cout,
    ]),
    tf.tensor(Float32Array.from(seeded(cout, seed + 1))),
  ]);
  return { layer: fromLayersModel(model).layers[0] as Conv2DLayer, dispose: () => model.dispose() };
}

/**
 * The taps' transpose of seeded gradients (through a `pool` max-pool and a sign layer of
 * `slope` after the conv, 2 rows per example's codes) in each product schedule, against the
 * gradient at the conv's output by definition scattered through every tap.
 */
async function check(
  input: [number, number, number],
  cout: number,
  options: Geometry,
  through: { pool?: [number, number]; slope?: number },
  schedules: readonly GemmSchedule[],
) {
  const { layer: l, dispose } = convLayer(input, cout, options, 31);
  const what = `conv ${input} → ${cout} ${JSON.stringify(options)} through ${
    JSON.stringify(through)
  }`;
  assertEquals(convTapsApply(l), true, `${what}: taps apply`);
  const pool = through.pool && poolOver(l, through.pool);
  const sign = through.slope === undefined ? undefined : { slope: through.slope };
  const examples = 2, perCode = 2, rows = examples * perCode;
  const g = seeded(rows * (pool ?? l).outputShape.reduce((a, b) => a * b), 32);
  const codes = seededCodes(l, pool, examples, 33);
  const at = gradientAtConv(l, { g, rows, perCode, codes, pool, slope: through.slope });
  const want = scatterTranspose(l, at, rows);
  const spec = convTapsGemm(l, { pool, sign });
  assertEquals(spec.vec4 !== undefined, cout % 4 === 0, `${what}: four-wide gather`);
  const [OH, OW] = l.outputShape;
  assertEquals([spec.mPerRow, spec.n, spec.k], [
    OH * OW,
    options.kernel[0] * options.kernel[1] * input[2],
    cout,
  ]);
  for (const schedule of schedules) {
    const rec = new Recorder(gpu!, "taps test");
    try {
      const t = rec.buffer(rows * spec.mPerRow * spec.n, "taps");
      const y = rec.buffer(want.length, "y");
      rec.gemm(
        spec,
        [
          rec.upload(Float32Array.from(g), "g"),
          ...(pool ? [rec.upload(codes.slots, "slots")] : []),
          ...(sign ? [rec.upload(codes.bits, "bits")] : []),
          rec.upload(Float32Array.from(convTapsKernel(l)), "w"),
          rec.upload(new Float32Array(1), "b"),
          t,
        ],
        { rows, rowsPerCode: perCode },
        schedule,
      );
      rec.run(convTapsSumShader(l), [t, y], { rows, perRow: want.length / rows });
      rec.submit();
      const [out] = await readBack(gpu!, [{ buffer: y, bytes: want.length * 4 }]);
      assertAllClose(
        new Float32Array(out),
        want,
        1e-5,
        `${what}, ${schedule}`,
        largestMagnitude(want),
      );
    } finally {
      rec.release();
    }
  }
  dispose();
}

Deno.test({
  name: "conv transposes by taps: product and sum against brute force, through the codes",
  ignore: gpu === null,
  async fn() {
    const same3 = { kernel: [3, 3], strides: [1, 1], padding: "same" } as const;
    const withTiled: GemmSchedule[] = fastCompiles ? ["direct", 4] : ["direct"];
    // to RGB through a ReLU, four output channels at a time; tiled where a GPU would tile
    await check([7, 9, 3], 32, same3, { slope: 0 }, withTiled);
    // one channel in, a 3 × 2 kernel, strides 1 × 2, through a disjoint pool and a leaky ReLU
    await check(
      [10, 9, 1],
      8,
      { kernel: [3, 2], strides: [1, 2], padding: "same" },
      { pool: [2, 2], slope: 0.1 },
      ["direct"],
    );
    // output channels not a multiple of 4 (one value at a time), stride 2, valid padding,
    // taps times input channels equal to the output channels
    await check(
      [9, 8, 2],
      18,
      { kernel: [3, 3], strides: [2, 2], padding: "valid" },
      {},
      withTiled,
    );
    // a pool alone, absolute values' slope −1 alone
    await check([6, 6, 3], 28, same3, { pool: [2, 3] }, ["direct"]);
    await check([6, 5, 3], 28, same3, { slope: -1 }, ["direct"]);
  },
});

Deno.test("conv transposes by taps: where they apply and where the rules pick them", () => {
  const same3 = { kernel: [3, 3], strides: [1, 1], padding: "same" } as const;
  const rgb = convLayer([8, 8, 3], 32, same3, 1), wide = convLayer([8, 8, 16], 32, same3, 2);
  const edge = convLayer([8, 8, 3], 27, same3, 3), over = convLayer([8, 8, 3], 26, same3, 4);
  const pointwise = convLayer([8, 8, 3], 32, { ...same3, kernel: [1, 1] }, 5);
  try {
    assertEquals(
      [rgb, wide, edge, over, pointwise].map((c) => convTapsApply(c.layer)),
      [true, false, true, false, false],
    );
    // the rules: narrow convs where taps apply, on hardware adapters; a plan's choice where
    // they apply
    assertEquals(tapsFor(rgb.layer, false), true);
    assertEquals(tapsFor(rgb.layer, true), false);
    assertEquals(tapsFor(over.layer, false), false);
    assertEquals(tapsFor(rgb.layer, false, "product"), false);
    assertEquals(tapsFor(rgb.layer, true, "taps"), true);
    assertEquals(tapsFor(wide.layer, false, "taps"), false);
    for (const taps of [false, true]) {
      webgpuHooks.convTaps = taps;
      try {
        assertEquals([tapsFor(rgb.layer, false), tapsFor(rgb.layer, true)], [taps, taps]);
        assertEquals(tapsFor(rgb.layer, false, "taps"), true);
      } finally {
        delete webgpuHooks.convTaps;
      }
    }
    // the filters: [cout, kh·kw·cin], the kernel [kh·kw·cin, cout] transposed
    const k = convTapsKernel(rgb.layer), K = rgb.layer.kernel;
    assertEquals(k.length, K.length);
    assertEquals(k[5 * 27 + 13], K[13 * 32 + 5]);
    assertEquals(k[31 * 27 + 26], K[26 * 32 + 31]);
  } finally {
    [rgb, wide, edge, over, pointwise].forEach((c) => c.dispose());
  }
});

/**
 * Networks whose first conv (3 channels in) is transposed by taps: through a ReLU (a
 * conv → sign block), through a max-pool that window tiles do not take, and alone (a conv
 * followed by another conv).
 */
function tapsNets(): tf.LayersModel[] {
  const conv = (filters: number, more: Record<string, unknown> = {}) =>
    tf.layers.conv2d({ filters, kernelSize: 3, padding: "same", ...more });
  const nets = [
    [conv(32, { inputShape: [8, 8, 3] }), tf.layers.reLU(), conv(16, { strides: 2 })],
    [conv(28, { inputShape: [8, 8, 3] }), tf.layers.maxPooling2d({ poolSize: 2 })],
    [conv(12, { inputShape: [7, 6, 1], strides: 2 }), conv(8), tf.layers.leakyReLU()],
  ].map((layers) =>
    tf.sequential({
      layers: [...layers, tf.layers.flatten(), tf.layers.dense({ units: 4 })],
    })
  );
  nets.forEach((m, i) => randomizeWeights(m, 40 + i));
  return nets;
}

/** `["taps"]` where `fn` ran a taps product and its sum, `[]` where neither (by the pipelines
 * it looked up), otherwise the shader keys it did. */
async function tapsRun(fn: () => Promise<unknown>): Promise<string[]> {
  const seen = new Set<string>(), pipelines = gpu!.pipelines, get = pipelines.get;
  pipelines.get = (key: string) => (seen.add(key), get.call(pipelines, key));
  try {
    await fn();
  } finally {
    pipelines.get = get;
  }
  const keys = [...seen].filter((k) => k.includes("conv2d-taps"));
  const both = keys.some((k) => k.includes("/conv2d-taps/")) &&
    keys.some((k) => k.startsWith("conv2d-taps-sum/"));
  return both ? ["taps"] : keys;
}

Deno.test({
  name: "conv transposes by taps through the engine: templates against the float64 reference",
  ignore: gpu === null,
  async fn() {
    webgpuHooks.windowTiles = false; // the pooled net's block by taps, not window tiles
    const models = tapsNets();
    try {
      for (const [i, model] of models.entries()) {
        const net = fromLayersModel(model);
        const x = randomInput(model.inputs[0].shape.slice(1) as number[], 2, 50 + i);
        const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
        // by the rules: not on software adapters (direct products), on GPUs (tiled ones)
        const on = gpu!.isFallback ? [] : ["taps"];
        assertEquals(
          await tapsRun(() => assertAffineAgrees(net, batch, `taps net ${i}`, 1e-5, gpu!)),
          on,
        );
        if (fastCompiles) {
          const hardware = { ...gpu!, isFallback: false };
          assertEquals(
            await tapsRun(() => assertAffineAgrees(net, batch, `net ${i}, tiled`, 1e-5, hardware)),
            ["taps"],
          );
        }
        // asked for on this adapter
        webgpuHooks.convTaps = true;
        try {
          assertEquals(
            await tapsRun(() => assertAffineAgrees(net, batch, `net ${i}, convTaps`, 1e-5, gpu!)),
            ["taps"],
          );
        } finally {
          delete webgpuHooks.convTaps;
        }
        // a plan's choice: the col2im product instead, and taps back
        const first = plannedConvs(net)[0];
        setConvPlan(gpu!, first, { transpose: "product" });
        await assertAffineAgrees(net, batch, `taps net ${i}, plan product`, 1e-5, gpu!);
        setConvPlan(gpu!, first, { transpose: "taps" });
        await assertAffineAgrees(net, batch, `taps net ${i}, plan taps`, 1e-5, gpu!);
        clearConvPlans(gpu!, net);
        if (i === 0) {
          // tuning times taps among the first conv's transposes
          const timings = await tuneWebGpu(net, { examples: 4, reps: 1 });
          const t = timings.find((t) => t.layer === first.name && t.direction === "transpose");
          assertEquals(Object.keys(t?.ms ?? {}).sort(), ["layers", "product", "taps"]);
          clearConvPlans(gpu!, net);
        }
        x.dispose();
      }
    } finally {
      delete webgpuHooks.windowTiles;
      models.forEach((m) => m.dispose());
    }
  },
});
