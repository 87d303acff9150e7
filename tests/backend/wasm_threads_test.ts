import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../../lib/backend/wasm_threads.ts";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  largestMagnitude,
} from "../_assert.ts";
import { lcgValues, runChildScript } from "../_threads.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

const THREADED = "wasm-threads-test";

const values = lcgValues;

/**
 * A conv net's output and the gradients of a loss with respect to its input and both filters
 * (conv3×3 → ReLU → 2×2 max-pool → conv3×3 stride 2 → sum of squares), on backend `name`.
 */
async function convNet(name: string): Promise<Float32Array[]> {
  const before = tf.getBackend();
  await tf.setBackend(name);
  try {
    const x = tf.tensor4d(values(8 * 16 * 16 * 8, 1), [8, 16, 16, 8]);
    const w1 = tf.tensor4d(values(3 * 3 * 8 * 32, 2), [3, 3, 8, 32]);
    const w2 = tf.tensor4d(values(3 * 3 * 32 * 16, 3), [3, 3, 32, 16]);
    const forward = (a: tf.Tensor4D, f1: tf.Tensor4D, f2: tf.Tensor4D) =>
      tf.conv2d(tf.maxPool(tf.relu(tf.conv2d(a, f1, 1, "same")), 2, 2, "valid"), f2, 2, "same");
    const y = forward(x, w1, w2);
    const grads = tf.grads((a, f1, f2) =>
      forward(a as tf.Tensor4D, f1 as tf.Tensor4D, f2 as tf.Tensor4D).square().sum()
    )([x, w1, w2]);
    const out = await Promise.all([y, ...grads].map((t) => t.data() as Promise<Float32Array>));
    tf.dispose([x, w1, w2, y, ...grads]);
    return out;
  } finally {
    await tf.setBackend(before);
  }
}

Deno.test({
  name: "enableWasmThreads() gives a conv net's output and gradients of single-threaded wasm",
  fn: async (t) => {
    registerWasmTrainingKernels(); // Conv2DBackpropFilter, missing on stock wasm
    const report = await enableWasmThreads({ threads: 2, backendName: THREADED, quiet: true });
    assert(report.enabled, report.reason);
    const single = await convNet("wasm");
    assertStrictEquals(getThreadsCount(), 1);
    const threaded = await convNet(THREADED);
    assertStrictEquals(getThreadsCount(), 2);
    const names = ["output", "d/dx", "d/dw1", "d/dw2"];
    for (let i = 0; i < names.length; i++) {
      assertEquals(threaded[i].length, single[i].length);
      const scale = largestMagnitude(single[i]);
      assert(scale > 0, `${names[i]} is all zeros`);
      assertAllClose(threaded[i], single[i], 1e-5, names[i], scale);
    }

    await t.step("a second call after initialisation is refused with a reason", async () => {
      const again = await enableWasmThreads({ threads: 2, backendName: THREADED, quiet: true });
      assertStrictEquals(again.enabled, false);
      assert(again.reason.includes("already initialised"), again.reason);
    });
    await t.step("tf.removeBackend() stops its workers; it can start again", async () => {
      tf.removeBackend(THREADED);
      const report2 = await enableWasmThreads({ threads: 2, backendName: THREADED, quiet: true });
      assert(report2.enabled, report2.reason);
      const again = await convNet(THREADED);
      assertAllClose(again[0], threaded[0], 0, "output after restart");
      tf.removeBackend(THREADED);
    });
  },
});

Deno.test("enableWasmThreads() rejects bad options", async (t) => {
  for (const threads of [0, 9, 1.5, Number.NaN]) {
    await t.step(`threads ${threads}`, async () => {
      await assertRejects(() => enableWasmThreads({ threads }), RangeError);
    });
  }
  await t.step("empty backendName", async () => {
    await assertRejects(() => enableWasmThreads({ backendName: "" }), TypeError);
  });
});

Deno.test({
  name: "enableWasmThreads() lets a script exit once it is done (workers do not keep it alive)",
  permissions: { run: true, read: true },
  fn: async () => {
    const module = new URL("../../lib/backend/wasm_threads.ts", import.meta.url).href;
    const script = `
      import * as tf from "@tensorflow/tfjs";
      import "@tensorflow/tfjs-backend-wasm";
      import { enableWasmThreads } from "${module}";
      const r = await enableWasmThreads({ threads: 2 });
      await tf.setBackend("wasm");
      const y = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
      console.log(r.enabled, tf.getBackend(), (await y.data())[0]);
    `;
    const text = await runChildScript(script);
    assert(text.endsWith("true wasm 64"), text);
  },
});
