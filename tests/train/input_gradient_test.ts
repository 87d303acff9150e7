import * as tf from "@tensorflow/tfjs";
import { withoutInputGradients } from "../../lib/train/input_gradient.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import {
  assertAllClose,
  assertEquals,
  assertStrictEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";

await tf.setBackend("cpu");

function batch(seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return {
    x: tf.randomNormal([4, 16, 16, 3], 0, 1, "float32", seed),
    y: tf.oneHot(tf.tensor1d([0, 3, 7, 9], "int32"), 10).toFloat() as tf.Tensor2D,
  };
}

/** The loss gradients of every trainable weight, and the kernels that ran. */
async function gradients(
  model: tf.LayersModel,
  data: { x: tf.Tensor4D; y: tf.Tensor2D },
  skip: boolean,
): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let grads: Float32Array[] = [];
  const step = () =>
    tf.tidy(() =>
      tf.variableGrads(() => {
        const out = model.apply(data.x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(data.y, out) as tf.Scalar;
      }, vars)
    );
  const info = await tf.profile(async () => {
    const { value, grads: g } = skip ? withoutInputGradients([data.x], step) : step();
    grads = await Promise.all(vars.map((v) => g[v.name].data() as Promise<Float32Array>));
    tf.dispose([value, ...Object.values(g)]);
  });
  return { grads, kernels: info.kernels.map((k) => k.name) };
}

Deno.test("withoutInputGradients(): the same weight gradients, one transposed convolution fewer", async (t) => {
  for (const batchNorm of [true, false]) {
    await t.step(`smallCNN ${batchNorm ? "with" : "without"} batch-norm`, async () => {
      const model = smallCNN({ inputShape: [16, 16, 3], batchNorm, seed: 3 });
      const data = batch(5);
      const stock = await gradients(model, data, false);
      const ours = await gradients(model, data, true);
      assertEquals(ours.grads.length, stock.grads.length);
      ours.grads.forEach((g, i) => {
        assertAllClose(g, stock.grads[i], 1e-5, `gradient ${i}`, largestMagnitude(stock.grads[i]));
      });
      const count = (ks: string[], name: string) => ks.filter((k) => k === name).length;
      // stock: every conv layer's input gradient; ours: all but the first layer's
      assertEquals(count(stock.kernels, "Conv2DBackpropInput"), 3);
      assertEquals(count(ours.kernels, "Conv2DBackpropInput"), 2);
      assertEquals(count(ours.kernels, "Conv2DBackpropFilter"), 3);
      tf.dispose([data.x, data.y]);
      model.dispose();
    });
  }
});

Deno.test("withoutInputGradients() restores tfjs, also after a throw, and nests", () => {
  const stock = tf.fused.conv2d;
  const x = tf.zeros([1, 4, 4, 1]);
  assertThrows(() =>
    withoutInputGradients([x], () => {
      throw new Error("boom");
    }), /boom/);
  assertStrictEquals(tf.fused.conv2d, stock);
  const inner = withoutInputGradients([x], () => {
    assertStrictEquals(tf.fused.conv2d === stock, false);
    withoutInputGradients([], () => {});
    return tf.fused.conv2d === stock; // still patched after the nested call
  });
  assertEquals(inner, false);
  assertStrictEquals(tf.fused.conv2d, stock);
  // outside: a fused conv of that tensor is tfjs's own (values are equal either way)
  const f = tf.ones([1, 1, 1, 1]);
  const y = tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: f as tf.Tensor4D,
    strides: 1,
    pad: "valid",
  });
  assertEquals(y.shape, [1, 4, 4, 1]);
  tf.dispose([x, f, y]);
});
