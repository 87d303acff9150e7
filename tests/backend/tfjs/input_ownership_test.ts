import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { assert, assertAllClose, assertEquals } from "../../_assert.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Networks whose first layer would hand the caller's own tensor to the tfjs engine. */
function models(): { name: string; model: tf.LayersModel }[] {
  const L = tf.layers;
  const pooled = (pool: tf.layers.Layer) =>
    tf.sequential({ layers: [pool, L.flatten(), L.dense({ units: 3 })] });
  const list = [
    {
      name: "a disjoint max-pool first",
      model: pooled(L.maxPooling2d({ inputShape: [6, 6, 4], poolSize: 2 })),
    },
    {
      name: "an overlapping max-pool first",
      model: pooled(L.maxPooling2d({ inputShape: [6, 6, 4], poolSize: 3, strides: 1 })),
    },
    {
      name: "a global max-pool first",
      model: tf.sequential({
        layers: [L.globalMaxPooling2d({ inputShape: [5, 4, 3] }), L.dense({ units: 2 })],
      }),
    },
    {
      name: "no layer but dropout (the identity)",
      model: tf.sequential({ layers: [L.dropout({ inputShape: [4], rate: 0.5 })] }),
    },
  ];
  list.forEach((m, i) => randomizeWeights(m.model, i + 1));
  return list;
}

Deno.test("the tfjs engine never disposes or returns the caller's input tensor", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    for (const { name, model } of models()) {
      await t.step(`${name} on tfjs-${backend}`, () => {
        const net = fromLayersModel(model);
        const x = randomInput([...net.inputShape], 3, 5);
        const ref = affineMap(net, x, { backend: "cpu" });
        const refIp = templateInnerProducts(net, x, { backend: "cpu" });
        const { A, B } = affineMap(net, x, { backend: "tfjs" });
        assert(!x.isDisposed, "affineMap disposed its input");
        const ip = templateInnerProducts(net, x, { backend: "tfjs" });
        assert(!x.isDisposed, "templateInnerProducts disposed its input");
        assert(ip !== x, "templateInnerProducts returned its input tensor");
        partitionCodes(net, x, { backend: "tfjs" });
        assert(!x.isDisposed, "partitionCodes disposed its input");
        assertEquals(A.shape, ref.A.shape);
        assertAllClose(A.dataSync(), ref.A.dataSync(), 1e-5, "A");
        assertAllClose(B.dataSync(), ref.B.dataSync(), 1e-5, "B");
        assertAllClose(ip.dataSync(), refIp.dataSync(), 1e-5, "<A_c, x>");
        tf.dispose([x, A, B, ip, ref.A, ref.B, refIp]);
      });
    }
  }
  await tf.setBackend("cpu");
});
