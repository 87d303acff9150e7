import * as tf from "@tensorflow/tfjs";
import { shareDeviceWithTfjs } from "../../../lib/backend/webgpu/share_tfjs.ts";
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { assert, assertAllClose, assertEquals } from "../../_assert.ts";

const ctx = await webgpuContext();

Deno.test({
  name:
    "shareDeviceWithTfjs() runs tfjs-webgpu on masokit's device, with results equal to tfjs-cpu",
  ignore: ctx === null,
  async fn() {
    await tf.setBackend("cpu");
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, "float32", 3);
    const k = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 4);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.tidy(() => {
        const y = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"));
        const { mean, variance } = tf.moments(y, [0, 1, 2]);
        return tf.concat([tf.sum(y, [1, 2]).reshape([-1]), mean, variance]);
      });
    const want = f(x, k).dataSync();
    const r = await shareDeviceWithTfjs();
    assertEquals(r, { shared: true });
    assert(await tf.setBackend("webgpu"), "tfjs' webgpu backend starts on the shared device");
    // deno-lint-ignore no-explicit-any
    assert((tf.backend() as any).device === ctx!.device, "the same GPUDevice");
    // tfjs-webgpu reads back asynchronously in Deno (its dataSync needs a canvas)
    const got = await f(tf.tensor(x.dataSync(), x.shape), tf.tensor(k.dataSync(), k.shape)).data();
    assertAllClose(got, want, 1e-4, "conv + relu + moments on webgpu vs cpu", 1);
    const again = await shareDeviceWithTfjs();
    assertEquals(again.shared, false);
    await tf.setBackend("cpu");
  },
});
