import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { SplineError } from "../../lib/util/errors.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { cases, tfjsLogits } from "../_cases.ts";

Deno.test("forward() equals the tfjs forward pass on random networks", async (t) => {
  for (const seed of [1, 2]) {
    for (const c of cases(seed)) {
      await t.step(`${c.name}, seed ${seed}`, () => {
        const net = fromLayersModel(c.model);
        const logits = tfjsLogits(c.model, c.x);
        const ours = forward(net, c.x);
        assertEquals(ours.shape, logits.shape);
        assertAllClose(ours.dataSync(), logits.dataSync(), 1e-4, c.name);
      });
    }
  }
});

Deno.test("fromLayersModel() reads layer structure", async (t) => {
  const [mlp, cnn, res] = cases(3);
  await t.step("MLP: dropout dropped, softmax ignored, two code layers", () => {
    const net = fromLayersModel(mlp.model);
    assertEquals(net.codeLayers.map((c) => c.kind), ["relu", "leaky-relu"]);
    assertEquals(net.outputShape, [5]);
  });
  await t.step("CNN: code layers in order with their unit counts", () => {
    const net = fromLayersModel(cnn.model);
    assertEquals(net.codeLayers.map((c) => c.kind), [
      "relu",
      "max-pool",
      "relu",
      "leaky-relu",
      "max-pool",
    ]);
    assertEquals(net.codeLayers[0].units, 11 * 9 * 4);
    assertEquals(net.codeLayers[1].shape, [5, 4, 4]);
  });
  await t.step("residual: two residual layers with an identity path", () => {
    const net = fromLayersModel(res.model);
    const residuals = net.layers.filter((l) => l.kind === "residual");
    assertEquals(residuals.length, 2);
    assert(residuals[0].kind === "residual" && residuals[0].paths.some((p) => p.length === 0));
    assertEquals(net.codeLayers.length, 4);
  });
  await t.step("batch-norm is copied, not shared: later weight changes do not leak", () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
    const net = fromLayersModel(m);
    const before = forward(net, tf.ones([1, 2])).dataSync().slice();
    m.layers[0].setWeights([tf.ones([2, 2]), tf.ones([2])]);
    assertEquals(Array.from(forward(net, tf.ones([1, 2])).dataSync()), Array.from(before));
  });
});

Deno.test("fromLayersModel() rejects what is not a max-affine spline", async (t) => {
  for (const act of ["tanh", "sigmoid", "elu", "gelu"] as const) {
    await t.step(`activation ${act}`, () => {
      const m = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [3], units: 2, activation: act, name: `bad_${act}` }),
        ],
      });
      assertThrows(() => fromLayersModel(m), (e: Error) => {
        assert(e instanceof SplineError);
        assert(e.message.includes(`bad_${act}`) && e.message.includes(act), e.message);
        return true;
      });
    });
  }
  await t.step("softmax in the middle", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3], units: 2, activation: "softmax", name: "mid" }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    assertThrows(() => fromLayersModel(m), /mid.*softmax/);
  });
  await t.step("softmax before a final dropout is the final activation", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3], units: 2, activation: "softmax" }),
        tf.layers.dropout({ rate: 0.5 }),
      ],
    });
    assertEquals(fromLayersModel(m).layers.map((l) => l.kind), ["dense"]);
  });
  await t.step("ReLU with maxValue (not convex)", () => {
    const m = tf.sequential({
      layers: [tf.layers.reLU({ inputShape: [3], maxValue: 6, name: "r6" })],
    });
    assertThrows(() => fromLayersModel(m), /r6.*maxValue 6/);
  });
  await t.step("dilated conv", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 1,
          kernelSize: 3,
          dilationRate: 2,
          name: "dil",
        }),
      ],
    });
    assertThrows(() => fromLayersModel(m), /dil.*dilation/);
  });
  await t.step("a channelsFirst flatten after a conv (another order than row-major)", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 2], filters: 3, kernelSize: 3 }),
        tf.layers.flatten({ dataFormat: "channelsFirst", name: "cf" }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    assertThrows(
      () => fromLayersModel(m),
      (e: Error) => e instanceof SplineError && /'cf'.*channelsFirst/.test(e.message),
    );
  });
  for (const [weight, index] of [["kernel", 0], ["bias", 1]] as const) {
    for (const bad of [NaN, -Infinity]) {
      await t.step(`a ${weight} holding ${bad} (a diverged training)`, () => {
        const m = tf.sequential({
          layers: [tf.layers.dense({ inputShape: [2], units: 3, name: "d" })],
        });
        const w = m.getWeights().map((t) => t.arraySync() as number[] | number[][]);
        const flat = w[index].flat();
        flat[flat.length - 1] = bad;
        m.layers[0].setWeights(
          w.map((v, i) => i === index ? tf.tensor(flat, m.getWeights()[i].shape) : tf.tensor(v)),
        );
        assertThrows(
          () => fromLayersModel(m),
          (e: Error) =>
            e instanceof SplineError &&
            e.message.includes(`'d': its ${weight} holds ${bad} at index ${flat.length - 1}`),
        );
      });
    }
  }
  await t.step("not a model", () => {
    for (const bad of [{}, null, tf.zeros([2])]) {
      assertThrows(
        () => fromLayersModel(bad as tf.LayersModel),
        /Cannot convert the model: .* is not a tf.LayersModel/,
      );
    }
  });
  await t.step("an unsupported layer class (Concatenate)", () => {
    const a = tf.input({ shape: [3] });
    const d1 = tf.layers.dense({ units: 2 }).apply(a) as tf.SymbolicTensor;
    const d2 = tf.layers.dense({ units: 2 }).apply(a) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate({ name: "cat" }).apply([d1, d2]) as tf.SymbolicTensor;
    const m = tf.model({ inputs: a, outputs: cat });
    assertThrows(
      () => fromLayersModel(m),
      (e: Error) => e instanceof SplineError && /cat/.test(e.message),
    );
  });
});

Deno.test("forward() validates its input", async (t) => {
  const net = fromLayersModel(cases(1)[1].model);
  await t.step("wrong shape names expected and actual", () => {
    assertThrows(() => forward(net, tf.zeros([2, 9, 11, 3])), (e: Error) => {
      assert(e instanceof RangeError);
      assert(e.message.includes("[2,9,11,3]") && e.message.includes("11, 9, 3"), e.message);
      return true;
    });
  });
  await t.step("missing batch dimension", () => {
    assertThrows(() => forward(net, tf.zeros([11, 9, 3])), RangeError);
  });
  await t.step("NaN and Infinity", () => {
    const x = tf.buffer([1, 11, 9, 3]);
    x.set(NaN, 0, 2, 3, 1);
    assertThrows(() => forward(net, x.toTensor()), /NaN.*not finite/);
    x.set(Infinity, 0, 2, 3, 1);
    assertThrows(() => forward(net, x.toTensor()), /Infinity.*not finite/);
  });
  await t.step("empty batch gives an empty result", () => {
    assertEquals(forward(net, tf.zeros([0, 11, 9, 3])).shape, [0, 4]);
  });
});
