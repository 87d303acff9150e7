/**
 * Tuning the tiles of a network's products (`tuneGemmTiles`): on a GPU's kernel choices (here the
 * software adapter's device with a hardware adapter's schedules), each tiled product of the
 * templates and ⟨A_c, x⟩ passes is timed in shapes of the quick grid, an agreeing faster one
 * becomes its tile, and the engine then agrees with the float64 reference in those tiles; on a
 * software adapter (direct products) there is nothing to tune; bad options are refused.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import {
  gemmTileGrid,
  outputsDiffer,
  tuneTilesOn,
} from "../../../lib/backend/webgpu/tune_tiles.ts";
import { gemmTilesOf, setGemmTiles } from "../../../lib/backend/webgpu/gemm_tiles.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";
import { assertAffineAgrees } from "./_affine_agrees.ts";
import { fastCompiles } from "./_fast_compiles.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

/** A small CNN: a conv to 32 channels, a ReLU, a strided conv, a dense layer. */
function smallNet(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 32, kernelSize: 3, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: "same" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
  randomizeWeights(model, 61);
  return model;
}

Deno.test({
  name: "tuneGemmTiles(): each tiled product timed, the faster agreeing shape its tile",
  ignore: !fastCompiles,
  async fn() {
    const model = smallNet();
    const net = fromLayersModel(model);
    const hardware = { ...gpu!, isFallback: false };
    try {
      // margin ≈ 0: the fastest agreeing shape of the first 3 is kept, whatever its speed
      const timings = await tuneTilesOn(hardware, net, {
        examples: 2,
        reps: 1,
        shapes: 3,
        margin: 1e-9,
      });
      assert(timings.length >= 4, `products tuned: ${timings.map((t) => t.key).join("; ")}`);
      for (const t of timings) {
        assert(/^gemm-[48]/.test(t.key), t.key);
        assertEquals(t.shapes > 0 && t.chosen !== null, true, `${t.key}: a shape kept`);
        assert(t.ms > 0 && t.bestMs > 0, `${t.key}: ${t.ms}, ${t.bestMs}`);
        assertEquals(gemmTilesOf(gpu!).get(t.key), t.chosen!, t.key);
      }
      // the engine in those tiles, against the float64 reference; their kernels ran
      const x = randomInput([8, 8, 3], 2, 62);
      const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
      await assertAffineAgrees(net, batch, "tuned tiles", 1e-5, hardware);
      x.dispose();
      const shaped = [...gpu!.pipelines.keys()].filter((k) => /\/t\d+x\d+,/.test(k));
      assert(shaped.length >= timings.length, shaped.join("; "));
    } finally {
      setGemmTiles(gpu!, null);
      model.dispose();
    }
  },
});

Deno.test({
  name: "tuneGemmTiles(): nothing to tune on a software adapter; options checked",
  ignore: gpu === null,
  async fn() {
    const model = smallNet();
    const net = fromLayersModel(model);
    try {
      const fallback = { ...gpu!, isFallback: true };
      assertEquals(await tuneTilesOn(fallback, net, { examples: 2 }), []);
      assertEquals([...gemmTilesOf(gpu!)].length, 0);
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ examples: 0 }, /examples \(0\) and reps \(3\) must be positive integers/],
        [{ reps: 1.5 }, /reps \(1\.5\) must be/],
        [{ margin: -1 }, /margin \(-1\) positive/],
        [{ shape: 3 }, /unknown option 'shape' \(did you mean 'shapes'\?\)/],
      ];
      for (const [options, message] of bad) {
        await assertRejects(() => tuneTilesOn(fallback, net, options), message);
      }
    } finally {
      model.dispose();
    }
  },
});

Deno.test("gemmTileGrid() and outputsDiffer(): the quick grid's tiles; NaN differs", () => {
  const grid = gemmTileGrid(192, true, 16384);
  assert(grid.length > 10, `${grid.length} shapes`);
  assertEquals(new Set(grid.map((c) => c.name)).size, grid.length);
  assert(grid.every((c) => c.schedule === 8 || c.schedule === "8q"));
  assert(gemmTileGrid(3, true, 16384).every((c) => c.shape?.tn === 3));
  const a = [Float32Array.of(1, -4), Float32Array.of(2)];
  assertEquals(outputsDiffer(a, [Float32Array.of(1, -4), Float32Array.of(2)]), 0);
  assertEquals(outputsDiffer(a, [Float32Array.of(1, -3), Float32Array.of(2)]), 0.25);
  assertEquals(outputsDiffer(a, [Float32Array.of(NaN, -4), Float32Array.of(2)]), Infinity);
});
