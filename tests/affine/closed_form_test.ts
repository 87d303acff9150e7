import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { closedFormFactors, evaluateClosedForm } from "../../lib/affine/closed_form.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { cases } from "../_cases.ts";

Deno.test("evaluateClosedForm() gives the same A and B as affineMap() (eq. 7)", async (t) => {
  for (const seed of [1, 2]) {
    for (const c of cases(seed)) {
      await t.step(`${c.name}, seed ${seed}`, () => {
        const net = fromLayersModel(c.model);
        const x = { data: Float64Array.from(c.x.dataSync()), shape: c.x.shape };
        const f = closedFormFactors(net, x);
        const { A, B } = affineMap(net, x);
        const C = net.outputSize, D = net.inputSize;
        for (let n = 0; n < f.count; n++) {
          const lit = evaluateClosedForm(f, { example: n });
          assertAllClose(
            lit.A,
            A.data.subarray(n * C * D, (n + 1) * C * D),
            1e-9,
            `A of example ${n}`,
          );
          assertAllClose(lit.B, B.data.subarray(n * C, (n + 1) * C), 1e-9, `B of example ${n}`);
        }
      });
    }
  }
});

Deno.test("closedFormFactors() exposes the paper's per-layer factors", async (t) => {
  const [mlp, cnn, res] = cases(3);
  await t.step("MLP: C, A_σ, C, A_σ, C", () => {
    const f = closedFormFactors(fromLayersModel(mlp.model), mlp.x);
    assertEquals(f.factors.map((x) => x.kind), ["affine", "slopes", "affine", "slopes", "affine"]);
    const leaky = f.factors[3];
    assert(leaky.kind === "slopes");
    assert(
      leaky.slopes.every((s) => s === 1 || Math.abs(s - 0.2) < 1e-7),
      "leaky slopes are 1 or α",
    );
  });
  await t.step("CNN: conv and batch-norm compose into one C; pooling is a selection", () => {
    const f = closedFormFactors(fromLayersModel(cnn.model), cnn.x);
    const first = f.factors[0];
    assert(first.kind === "affine");
    assertEquals(first.names.length, 2);
    assertEquals(f.factors[2].kind, "selection");
  });
  await t.step("residual: blocks are sums of paths", () => {
    const f = closedFormFactors(fromLayersModel(res.model), res.x);
    assertEquals(f.factors.filter((x) => x.kind === "residual").length, 2);
  });
  await t.step("example out of range", () => {
    const f = closedFormFactors(fromLayersModel(mlp.model), mlp.x);
    assertThrows(() => evaluateClosedForm(f, { example: 99 }), /example 99 is not in \[0, 6\)/);
    assertThrows(() => evaluateClosedForm(f, undefined as never), /example undefined is not in/);
  });
  await t.step("wrong input shape", () => {
    assertThrows(() => closedFormFactors(fromLayersModel(mlp.model), tf.zeros([1, 3])), RangeError);
  });
});
