import * as tf from "@tensorflow/tfjs";
import { describeGpuAdapter, selectBackend } from "../../lib/train/backend.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";

await tf.ready();

Deno.test("selectBackend() picks wasm by default and honours explicit choices", async (t) => {
  const previous = tf.getBackend();
  try {
    await t.step("auto → wasm, with the training kernels registered", async () => {
      const choice = await selectBackend();
      assertEquals(choice.backend, "wasm");
      assertEquals(tf.getBackend(), "wasm");
      assertMatch(choice.reason, /^auto: wasm/);
      assert(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
      // The filter gradient of a 1×1 convolution of ones is the number of pixels.
      const dw = tf.grad((w) =>
        tf.conv2d(tf.ones([2, 3, 3, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, "valid").sum()
      )(
        tf.zeros([1, 1, 1, 1]),
      );
      assertEquals(Array.from(await dw.data()), [18]);
    });
    await t.step("cpu on request", async () => {
      const choice = await selectBackend({ prefer: "cpu" });
      assertEquals(choice, { backend: "cpu", reason: choice.reason });
      assertEquals(tf.getBackend(), "cpu");
    });
    await t.step("wasm on request", async () => {
      const choice = await selectBackend({ prefer: "wasm" });
      assertEquals(choice.backend, "wasm");
      assertEquals(tf.getBackend(), "wasm");
    });
    await t.step("auto never picks a software WebGPU adapter", async () => {
      const gpu = await describeGpuAdapter();
      const choice = await selectBackend({ prefer: "auto" });
      assert(choice.backend !== "webgpu");
      if (gpu !== null && /llvmpipe/i.test(gpu.description)) {
        assert(gpu.software, `llvmpipe must count as software: ${JSON.stringify(gpu)}`);
        assertMatch(choice.reason, /software/);
      }
    });
    await t.step("an unknown preference is a RangeError naming it", async () => {
      await assertRejects(
        () => selectBackend({ prefer: "tpu" as unknown as "cpu" }),
        (e: Error) => e instanceof RangeError && e.message.includes('"tpu"'),
      );
    });
  } finally {
    await tf.setBackend(previous);
  }
});
