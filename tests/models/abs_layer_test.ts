import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { Abs, abs } from "../../lib/models/abs_layer.ts";
import { mlp } from "../../lib/models/mlp.ts";
import { relativeDifference } from "./_reference.ts";

Deno.test("abs() computes |x| elementwise, in any shape", () => {
  const x = tf.randomNormal([2, 3, 4, 5], 0, 2, "float32", 1);
  const y = abs().apply(x) as tf.Tensor;
  assertEquals(y.shape, x.shape);
  const xs = x.dataSync(), ys = y.dataSync();
  for (let i = 0; i < xs.length; i++) assertEquals(ys[i], Math.abs(xs[i]));
  assertEquals(Array.from((abs().apply(tf.tensor1d([-0, 0, -3])) as tf.Tensor).dataSync()), [
    0,
    0,
    3,
  ]);
});

Deno.test("Abs is registered: class name, config and output shape", () => {
  const layer = new Abs({ name: "my_abs" });
  assertEquals(layer.getClassName(), "Abs");
  assertEquals(Abs.className, "Abs");
  assertEquals(layer.getConfig().name, "my_abs");
  assertEquals(layer.computeOutputShape([null, 7, 3]), [null, 7, 3]);
  assertThrows(() => layer.call([tf.zeros([1]), tf.zeros([1])]), {
    name: "RangeError",
    message: /got 2 inputs, expected 1/,
  });
});

Deno.test("abs() models round-trip through toJSON()/modelFromJSON() and save/load", async (t) => {
  const model = mlp({
    inputShape: [4],
    hidden: [6, 5],
    activation: "abs",
    batchNorm: false,
    seed: 3,
  });
  const x = tf.randomNormal([3, 4], 0, 1, "float32", 2);
  const expected = model.predict(x) as tf.Tensor;

  await t.step("topology through JSON", async () => {
    const json = JSON.parse(model.toJSON(null, true) as string);
    const restored = await tf.models.modelFromJSON({ modelTopology: json });
    assertEquals(
      restored.layers.map((l) => l.getClassName()),
      model.layers.map((l) => l.getClassName()),
    );
    assert(restored.getLayer("abs1") instanceof Abs);
    restored.setWeights(model.getWeights());
    assert(relativeDifference(restored.predict(x) as tf.Tensor, expected) === 0);
  });

  await t.step("topology and weights through an in-memory IOHandler", async () => {
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler((artifacts) => {
      saved = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
    assert(saved !== undefined);
    assert(JSON.stringify(saved.modelTopology).includes('"class_name":"Abs"'));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
    assertEquals(loaded.getLayer("abs2").getClassName(), "Abs");
    assert(relativeDifference(loaded.predict(x) as tf.Tensor, expected) === 0);
  });
});
