/**
 * The window-tile transpose of a stride-1 conv → (sign layer) → disjoint max-pool block,
 * against brute force (the gradient unpooled, masked and scattered through every tap) and,
 * through the engine, against the float64 CPU reference.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { readBack } from "../../../lib/backend/webgpu/_gpu.ts";
import {
  poolConvOverlapPerRow,
  poolConvOverlapShader,
  poolConvTilePasses,
  poolConvTiles,
  poolConvTilesPerRow,
  poolConvTilesShader,
  poolConvTilesWork,
  poolConvTileValues,
} from "../../../lib/backend/webgpu/kernels/pool_conv_tiles.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { Conv2DLayer, MaxPool2DLayer } from "../../../lib/network/spline_network.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";
import {
  gradientAtConv,
  poolOver,
  scatterTranspose,
  seeded,
  seededCodes,
} from "./_gradient_through_codes.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

/**
 * A conv of `kernel` over `[h, w, cin]` (padding "same" or "valid", stride 1) to `cout`
 * channels, a `pool` max-pool after it, and (with `slope`) a sign layer between: the tiles'
 * transpose of seeded pooled gradients, codes and sign bits (2 rows per example), in the
 * passes that `rowFloats` values per row allow, against brute force.
 */
async function check(
  geometry: {
    input: [number, number, number];
    cout: number;
    kernel: [number, number];
    padding: "same" | "valid";
    pool: [number, number];
  },
  slope?: number,
  rowFloats = Infinity,
) {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({
      inputShape: geometry.input,
      filters: geometry.cout,
      kernelSize: geometry.kernel,
      padding: geometry.padding,
    })],
  });
  randomizeWeights(model, 3);
  const conv = fromLayersModel(model).layers[0] as Conv2DLayer;
  const [H, W, CI] = conv.inputShape;
  const pool = poolOver(conv, geometry.pool);
  const passes = poolConvTilePasses(conv, pool, rowFloats);
  assertEquals(passes.length > 0, true, "the block qualifies");
  const examples = 2, perCode = 2, rows = examples * perCode;
  const g = seeded(rows * pool.outputShape.reduce((a, b) => a * b), 11);
  const { slots, bits } = seededCodes(conv, pool, examples, 12);
  const at = gradientAtConv(conv, { g, rows, perCode, codes: { slots, bits }, pool, slope });
  const want = scatterTranspose(conv, at, rows);
  const rec = new Recorder(gpu!, "window tiles test");
  try {
    const y = rec.buffer(rows * H * W * CI, "y");
    const sign = slope === undefined ? undefined : { slope };
    const g32 = rec.upload(Float32Array.from(g), "g");
    const codes = [rec.upload(slots, "codes"), ...(sign ? [rec.upload(bits, "scodes")] : [])];
    const tiles = rec.upload(Float32Array.from(poolConvTiles(conv, pool)), "filter tiles");
    for (const groups of passes) {
      const t = rec.buffer(rows * poolConvTileValues(conv, pool, groups), "tiles");
      rec.run(poolConvTilesShader(conv, pool, { sign, groups }), [g32, ...codes, tiles, t], {
        rows,
        perRow: poolConvTilesPerRow(conv, pool, groups),
        rowsPerCode: perCode,
      });
      rec.run(poolConvOverlapShader(conv, pool, groups), [t, y], {
        rows,
        perRow: poolConvOverlapPerRow(conv, pool, groups),
      });
    }
    rec.submit();
    const [out] = await readBack(gpu!, [{ buffer: y, bytes: rows * H * W * CI * 4 }]);
    const what = `${JSON.stringify(geometry)}, slope ${slope}, ${passes.length} passes`;
    assertAllClose(new Float32Array(out), want, 1e-5, what, largestMagnitude(want));
  } finally {
    rec.release();
  }
  model.dispose();
}

Deno.test({
  name: "window tiles: the transpose of conv → sign → disjoint max-pool, against brute force",
  ignore: gpu === null,
  async fn() {
    // smallCNN's first block
    await check(
      { input: [12, 12, 3], cout: 16, kernel: [3, 3], padding: "valid", pool: [2, 2] },
      0,
    );
    // tiles crossing all four edges (same padding), an uncovered last row and column, a
    // non-square kernel and pool, leaky and abs slopes, no sign layer, one input channel
    await check(
      { input: [9, 11, 3], cout: 20, kernel: [3, 2], padding: "same", pool: [2, 3] },
      0.1,
    );
    await check({ input: [8, 7, 2], cout: 12, kernel: [2, 3], padding: "same", pool: [2, 2] }, -1);
    await check({ input: [9, 9, 4], cout: 16, kernel: [3, 3], padding: "valid", pool: [2, 2] });
    await check({ input: [10, 10, 1], cout: 12, kernel: [5, 5], padding: "same", pool: [2, 2] }, 0);
    // input channels in groups: 2 of 4, 2 of 3, and smallCNN's second block (8 of 4)
    await check({ input: [9, 9, 8], cout: 12, kernel: [3, 3], padding: "valid", pool: [2, 2] }, 0);
    await check({ input: [8, 9, 6], cout: 8, kernel: [3, 3], padding: "same", pool: [2, 2] }, 0.3);
    await check(
      { input: [15, 15, 32], cout: 64, kernel: [3, 3], padding: "valid", pool: [2, 2] },
      0,
    );
    // the same in passes of 3, 3 and 2 of its 8 groups (36 windows × 64 values a group)
    await check(
      { input: [15, 15, 32], cout: 64, kernel: [3, 3], padding: "valid", pool: [2, 2] },
      0,
      3 * 36 * 64 + 5,
    );
  },
});

Deno.test("window tiles apply to stride-1 convs before disjoint pools, within the budget", () => {
  const conv = (cin: number, kernel: number, strides: [number, number]) =>
    ({
      kind: "conv2d",
      inputShape: [12, 12, cin],
      outputShape: [10, 10, 32],
      kernelSize: [kernel, kernel],
      strides,
      padding: [0, 0, 0, 0],
    }) as unknown as Conv2DLayer;
  const pool = (size: number, stride: number): MaxPool2DLayer => ({
    kind: "max-pool",
    name: "p",
    inputShape: [10, 10, 32],
    outputShape: [Math.floor(10 / stride), Math.floor(10 / stride), 32],
    poolSize: [size, size],
    strides: [stride, stride],
    padding: [0, 0, 0, 0],
  });
  // 25 windows of 4 × 4 pixels against 100 positions of 3 × 3 taps
  assertEquals(poolConvTilesWork(conv(3, 3, [1, 1]), pool(2, 2)), 400 / 900);
  // 25 windows × 4 × 4 pixels × 3 channels
  const passes = (cin: number, kernel = 3, strides: [number, number] = [1, 1], budget = Infinity) =>
    poolConvTilePasses(conv(cin, kernel, strides), pool(2, 2), budget);
  assertEquals(poolConvTileValues(conv(3, 3, [1, 1]), pool(2, 2)), 1200);
  assertEquals(passes(3, 3, [1, 1], 1200), [{ first: 0, count: 1 }]);
  assertEquals(passes(3, 3, [1, 1], 1199), [], "over budget");
  // 32 channels: 8 groups of 4, 1600 values each
  assertEquals(passes(32).length, 1);
  assertEquals(passes(32, 3, [1, 1], 4000), [
    { first: 0, count: 2 },
    { first: 2, count: 2 },
    { first: 4, count: 2 },
    { first: 6, count: 2 },
  ]);
  assertEquals(passes(3, 3, [2, 2]), [], "strided");
  assertEquals(poolConvTilePasses(conv(3, 3, [1, 1]), pool(3, 2), Infinity), [], "overlap");
  // a 10 × 10 tile: more than 64 values even for one channel
  assertEquals(passes(3, 9), [], "big tile");
});

Deno.test({
  name: "window tiles through the engine: templates agree with the float64 CPU reference",
  ignore: gpu === null,
  async fn() {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [11, 10, 3], filters: 16, kernelSize: 3, padding: "same" }),
        tf.layers.reLU(),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3 }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 6 }),
      ],
    });
    randomizeWeights(model, 5);
    const net = fromLayersModel(model);
    const x = randomInput([11, 10, 3], 3, 6);
    const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
    const ref = affineMap(net, batch, { backend: "cpu" });
    for (const windowTiles of [true, false]) {
      webgpuHooks.windowTiles = windowTiles;
      try {
        const { A } = await affineMapAsync(net, batch, { backend: "webgpu" });
        const what = `A, window tiles ${windowTiles}`;
        assertAllClose(A.data, ref.A.data, 1e-4, what, largestMagnitude(ref.A.data));
      } finally {
        delete webgpuHooks.windowTiles;
      }
    }
    tf.dispose([x]);
    model.dispose();
  },
});
