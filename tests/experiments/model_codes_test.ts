import * as tf from "@tensorflow/tfjs";
import { modelCodes } from "../../lib/experiments/_model_codes.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { assertEquals } from "../_assert.ts";
import { Rng } from "../../lib/util/rng.ts";

await tf.setBackend("cpu");

Deno.test("modelCodes() gives the tfjs model's own codes in partitionCodes' layout", async (t) => {
  const cases = [
    // valid 2×2 pools; 3×3 pools with stride 2 and "same" padding (padded positions never win)
    // no bias, and an all-zero first image: ReLU inputs exactly 0 (inactive), all-zero windows
    {
      pool: { poolSize: 2, strides: 2, padding: "valid" as const },
      inputShape: [9, 9, 2],
      bias: 0,
    },
    { pool: { poolSize: 3, strides: 2, padding: "same" as const }, inputShape: [8, 7, 3], bias: 1 },
  ];
  for (const c of cases) {
    await t.step(`max-pool ${JSON.stringify(c.pool)}`, () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: c.inputShape,
            filters: 5,
            kernelSize: 3,
            kernelInitializer: tf.initializers.randomNormal({ seed: 3 }),
            biasInitializer: c.bias
              ? tf.initializers.randomNormal({ seed: 4 })
              : tf.initializers.zeros(),
            name: "conv",
          }),
          tf.layers.reLU({ name: "relu" }),
          tf.layers.maxPooling2d({ ...c.pool, name: "pool" }),
          tf.layers.flatten({ name: "flatten" }),
          tf.layers.dense({ units: 3, name: "dense" }),
        ],
      });
      const net = fromLayersModel(model);
      const rng = new Rng(7);
      const n = 4, size = c.inputShape.reduce((a, b) => a * b, 1);
      const data = Float64Array.from(
        { length: n * size },
        (_, i) => i < size ? 0 : rng.next() * 2 - 1,
      );
      const x = tf.tensor(Float32Array.from(data), [n, ...c.inputShape]);
      const got = modelCodes(model, net, x);
      const want = partitionCodes(net, { data, shape: [n, ...c.inputShape] }, { backend: "cpu" });
      assertEquals(got.length, want.length);
      want.forEach((l, i) => {
        const expected = l.kind === "max-pool" ? l.argmax : l.bits;
        assertEquals(Array.from(got[i]), Array.from(expected), l.name);
      });
      tf.dispose([x]);
      model.dispose();
    });
  }
});
