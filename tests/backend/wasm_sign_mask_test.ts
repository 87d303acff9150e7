import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  SIGN_MASK,
  signMaskReady,
  wasmSignMaskKernel,
} from "../../lib/backend/tfjs/_wasm_sign_mask.ts";
import { onThreadedWasm } from "../_threads.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** x in {−1, −0, 0, a tiny positive, 1}, v distinct; every case with SIMD on and off. */
function checkAll(): void {
  const cases: [number[], number][] = [
    [[3, 5, 4, 8], 1], // 160 values per example: the SIMD body
    [[2, 6, 10], 3], // 60, three rows per example (the transposed pass)
    [[2, 7, 3], 2], // 21: not a multiple of 4, the JS loop
    [[4, 1], 10],
  ];
  const kinds = [-1, -0, 0, 1e-30, 1];
  try {
    for (const simd of [true, false]) {
      wasmSignMaskKernel.simd = simd;
      for (const [shape, per] of cases) {
        const size = shape.slice(1).reduce((a, b) => a * b, 1), n = shape[0];
        const xs = Float32Array.from({ length: n * size }, (_, i) => kinds[(i * 7 + 3) % 5]);
        const vs = Float32Array.from({ length: n * per * size }, (_, i) => i + 1);
        const x = tf.tensor(xs, shape), v = tf.tensor(vs, [n * per, ...shape.slice(1)]);
        const y = tf.engine().runKernel(SIGN_MASK, { x, v }) as tf.Tensor;
        const want = Array.from(vs, (val, o) => {
          const r = Math.floor(o / size), e = Math.floor(r / per);
          return xs[e * size + (o % size)] > 0 ? val : 0;
        });
        assertEquals(y.shape, v.shape);
        assertEquals(Array.from(y.dataSync()), want, `${shape} × ${per}, simd ${simd}`);
        tf.dispose([x, v, y]);
      }
    }
  } finally {
    wasmSignMaskKernel.simd = true;
  }
}

Deno.test("the wasm sign-mask kernel keeps v where its example's x > 0", async () => {
  assertEquals(signMaskReady(), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    assertEquals(signMaskReady(), true);
    checkAll();
    const x = tf.zeros([2, 3]), v = tf.zeros([3, 3]), w = tf.zeros([2, 4]);
    assertThrows(
      () => tf.engine().runKernel(SIGN_MASK, { x, v }),
      /v has shape \[3,3\] \(float32\), expected float32 \[k·2, 3\] for x of shape \[2,3\]/,
    );
    assertThrows(() => tf.engine().runKernel(SIGN_MASK, { x, v: w }), /v has shape \[2,4\]/);
    tf.dispose([x, v, w]);
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("the wasm sign-mask kernel runs on threaded wasm's shared memory", async () => {
  await onThreadedWasm("wasm-sign-mask-test", () => {
    assertEquals(signMaskReady(), true);
    checkAll();
  });
});
