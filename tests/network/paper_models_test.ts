import type * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { closedFormFactors, evaluateClosedForm } from "../../lib/affine/closed_form.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import { largeCNN } from "../../lib/models/large_cnn.ts";
import { resNet } from "../../lib/models/resnet.ts";
import { mlp } from "../../lib/models/mlp.ts";
import { assertAllClose, assertEquals } from "../_assert.ts";
import { randomInput, randomizeWeights } from "../_random_models.ts";

/** The paper's models (reduced widths so the suite stays fast), with every activation. */
function models(): { name: string; model: tf.LayersModel; codeKinds: string[] }[] {
  const out = [];
  for (const batchNorm of [true, false]) {
    out.push({
      name: `smallCNN (batchNorm ${batchNorm})`,
      model: smallCNN({ batchNorm, seed: 1, inputShape: [16, 16, 3], filters: [4, 6, 8] }),
      codeKinds: ["relu", "max-pool", "relu", "max-pool", "relu", "max-pool"],
    });
  }
  out.push({
    name: "largeCNN (MNIST shape)",
    model: largeCNN({ seed: 2, inputShape: [28, 28, 1], filters: [3, 4] }),
    codeKinds: [
      "relu",
      "relu",
      "relu",
      "max-pool",
      "relu",
      "relu",
      "relu",
      "max-pool",
      "relu",
      "relu",
      "max-pool",
    ],
  });
  out.push({
    name: "resNet (1 block per stage)",
    model: resNet({ seed: 3, inputShape: [8, 8, 3], filters: [4, 6, 8], blocks: [1, 1, 1] }),
    codeKinds: [],
  });
  for (const activation of ["relu", "leakyRelu", "abs"] as const) {
    out.push({
      name: `mlp (${activation})`,
      model: mlp({ seed: 4, inputShape: [12], hidden: [10, 8], activation, classes: 3 }),
      codeKinds: [
        activation === "leakyRelu" ? "leaky-relu" : activation,
        activation === "leakyRelu" ? "leaky-relu" : activation,
      ],
    });
  }
  return out;
}

Deno.test("fromLayersModel() accepts every paper model; its output and A[x]·x + B[x] equal tfjs", async (t) => {
  for (const m of models()) {
    await t.step(m.name, () => {
      randomizeWeights(m.model, 5); // non-trivial batch-norm statistics
      const net = fromLayersModel(m.model);
      if (m.codeKinds.length > 0) assertEquals(net.codeLayers.map((c) => c.kind), m.codeKinds);
      const shape = m.model.inputs[0].shape.slice(1) as number[];
      const x = randomInput(shape, 2, 6);
      const want = (m.model.predict(x) as tf.Tensor).dataSync();
      const scale = Math.max(...Array.from(want, Math.abs));
      assertAllClose(forward(net, x).dataSync(), want, 1e-4, m.name, scale);
      const xb = { data: Float64Array.from(x.dataSync()), shape: x.shape };
      const { A, B } = affineMap(net, xb);
      const C = net.outputSize, D = net.inputSize;
      const z = new Float64Array(2 * C);
      for (let n = 0; n < 2; n++) {
        for (let c = 0; c < C; c++) {
          let s = B.data[n * C + c];
          for (let d = 0; d < D; d++) s += A.data[(n * C + c) * D + d] * xb.data[n * D + d];
          z[n * C + c] = s;
        }
      }
      assertAllClose(z, want, 1e-4, `${m.name}: A·x + B`, scale);
      const lit = evaluateClosedForm(closedFormFactors(net, xb), { example: 1 });
      assertAllClose(lit.A, A.data.subarray(C * D), 1e-9, `${m.name}: eq. (7) A`);
      assertAllClose(lit.B, B.data.subarray(C), 1e-9, `${m.name}: eq. (7) B`);
    });
  }
});

Deno.test("the paper's full-size smallCNN converts with 6 code layers of the documented sizes", () => {
  const net = fromLayersModel(smallCNN({ seed: 1, batchNorm: false }));
  assertEquals(net.codeLayers.map((c) => c.units), [
    30 * 30 * 32,
    15 * 15 * 32,
    13 * 13 * 64,
    6 * 6 * 64,
    6 * 6 * 128,
    3 * 3 * 128,
  ]);
  assertEquals(net.isConvex(), false);
});
