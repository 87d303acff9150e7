import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { assert, assertAllClose } from "../../_assert.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Networks of one affine layer with a bias (after folding): z(x) = W·x + b. */
function models(): { name: string; model: tf.LayersModel }[] {
  const L = tf.layers;
  const list = [
    {
      name: "a linear classifier (one dense layer)",
      model: tf.sequential({ layers: [L.dense({ inputShape: [6], units: 3 })] }),
    },
    {
      name: "a dense layer and its batch-norm",
      model: tf.sequential({
        layers: [L.dense({ inputShape: [6], units: 3, useBias: false }), L.batchNormalization()],
      }),
    },
    {
      name: "one conv layer",
      model: tf.sequential({
        layers: [L.conv2d({ inputShape: [5, 4, 2], filters: 3, kernelSize: 2 }), L.flatten()],
      }),
    },
    {
      name: "one conv layer, output unflattened",
      model: tf.sequential({
        layers: [L.conv2d({ inputShape: [5, 4, 2], filters: 3, kernelSize: 2 })],
      }),
    },
  ];
  list.forEach((m, i) => randomizeWeights(m.model, i + 1));
  return list;
}

Deno.test("the tfjs engine's ⟨A_c, x⟩ of a one-layer network outlives the pass", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    for (const { name, model } of models()) {
      await t.step(`${name} on tfjs-${backend}`, () => {
        const net = fromLayersModel(model);
        const x = randomInput([...net.inputShape], 3, 7);
        const ref = affineMap(net, x, { backend: "cpu" });
        const refIp = templateInnerProducts(net, x, { backend: "cpu" });
        const ip = templateInnerProducts(net, x, { backend: "tfjs" });
        assert(!ip.isDisposed, "the result is disposed");
        assertAllClose(ip.dataSync(), refIp.dataSync(), 1e-5, "<A_c, x>");
        const batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
        const ipBatch = templateInnerProducts(net, batch, { backend: "tfjs" });
        assertAllClose(ipBatch.data, refIp.dataSync(), 1e-5, "<A_c, x> of a float64 batch");
        const { A, B } = affineMap(net, x, { backend: "tfjs" });
        assertAllClose(A.dataSync(), ref.A.dataSync(), 1e-5, "A");
        assertAllClose(B.dataSync(), ref.B.dataSync(), 1e-5, "B");
        tf.dispose([x, ip, A, B, ref.A, ref.B, refIp]);
      });
    }
  }
  await tf.setBackend("cpu");
});
