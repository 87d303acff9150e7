import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { assertAllClose, assertEquals } from "../../_assert.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Networks whose output is a ReLU's: on tfjs-wasm, the tensor the forward pass records. */
function models(): { name: string; model: tf.LayersModel }[] {
  const L = tf.layers;
  const input = tf.input({ shape: [5] });
  const h = L.dense({ units: 4 }).apply(input) as tf.SymbolicTensor;
  const sum = L.add().apply([h, L.dense({ units: 4 }).apply(input) as tf.SymbolicTensor]);
  const list = [
    {
      name: "a dense layer with activation relu last",
      model: tf.sequential({
        layers: [
          L.dense({ inputShape: [5], units: 6, activation: "relu" }),
          L.dense({ units: 3, activation: "relu" }),
        ],
      }),
    },
    {
      name: "a ReLU layer last",
      model: tf.sequential({ layers: [L.dense({ inputShape: [5], units: 3 }), L.reLU()] }),
    },
    { name: "a ReLU alone", model: tf.sequential({ layers: [L.reLU({ inputShape: [5] })] }) },
    {
      name: "a conv with activation relu last",
      model: tf.sequential({
        layers: [
          L.conv2d({ inputShape: [4, 4, 2], filters: 4, kernelSize: 3, activation: "relu" }),
          L.flatten(),
        ],
      }),
    },
    {
      name: "a ReLU after a residual sum",
      model: tf.model({
        inputs: input,
        outputs: L.reLU().apply(sum as tf.SymbolicTensor) as tf.SymbolicTensor,
      }),
    },
  ];
  list.forEach((m, i) => randomizeWeights(m.model, i + 1));
  return list;
}

Deno.test("the tfjs engine runs networks whose last layer is a ReLU", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    for (const { name, model } of models()) {
      await t.step(`${name} on tfjs-${backend}`, () => {
        const net = fromLayersModel(model);
        const x = randomInput([...net.inputShape], 4, 3);
        const ref = affineMap(net, x, { backend: "cpu" });
        const refIp = templateInnerProducts(net, x, { backend: "cpu" });
        const refCodes = partitionCodes(net, x, { backend: "cpu" });
        const { A, B } = affineMap(net, x, { backend: "tfjs" });
        const ip = templateInnerProducts(net, x, { backend: "tfjs" });
        const codes = partitionCodes(net, x, { backend: "tfjs" });
        assertAllClose(A.dataSync(), ref.A.dataSync(), 1e-5, "A");
        assertAllClose(B.dataSync(), ref.B.dataSync(), 1e-5, "B");
        assertAllClose(ip.dataSync(), refIp.dataSync(), 1e-5, "<A_c, x>");
        assertEquals(codes.map((c) => c.bits), refCodes.map((c) => c.bits));
        tf.dispose([x, A, B, ip, ref.A, ref.B, refIp]);
      });
    }
  }
  await tf.setBackend("cpu");
});
