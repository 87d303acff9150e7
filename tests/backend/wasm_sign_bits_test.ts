import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { SIGN_BITS, signBitsReady } from "../../lib/backend/tfjs/_wasm_sign_bits.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { onThreadedWasm } from "../_threads.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Every unit count's packed bits against a JS loop over {−1, −0, 0, a tiny positive, 1}. */
function checkAll(counts: number[][]): void {
  const kinds = [-1, -0, 0, 1e-30, 1, 2];
  for (const [n, units] of counts) {
    const xs = Float32Array.from({ length: n * units }, (_, i) => kinds[(i * 7 + (i >> 3)) % 6]);
    const x = tf.tensor(xs, [n, units]);
    const y = tf.engine().runKernel(SIGN_BITS, { x }) as tf.Tensor;
    const words = Math.ceil(units / 32);
    const want = new Uint32Array(n * words);
    for (let e = 0; e < n; e++) {
      for (let u = 0; u < units; u++) {
        if (xs[e * units + u] > 0) want[e * words + (u >> 5)] |= 1 << (u & 31);
      }
    }
    assertEquals(y.shape, [n, words]);
    assertEquals(
      [...new Uint32Array((y.dataSync() as Int32Array).buffer)],
      [...want],
      `${n}×${units}`,
    );
    tf.dispose([x, y]);
  }
}

/** Unit counts: whole words, a rest of whole vectors, a scalar rest of 1–3, a single unit. */
const COUNTS = [[3, 64], [2, 37], [4, 33], [2, 70], [3, 5], [5, 1], [2, 3], [1, 30]];

Deno.test("the wasm sign-bits kernel packs x > 0 as partitionCodes stores bits", async () => {
  assertEquals(signBitsReady(), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    assert(signBitsReady());
    checkAll(COUNTS);
    const bad = tf.zeros([4], "int32");
    assertThrows(
      () => tf.engine().runKernel(SIGN_BITS, { x: bad }),
      /x has shape \[4\] \(int32\), expected float32 \[n, \.\.\.units\]/,
    );
    bad.dispose();
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("the wasm sign-bits kernel splits examples between threads", async () => {
  const name = "wasm-sign-bits-test";
  // the last large enough to be split
  await onThreadedWasm(name, () => checkAll([...COUNTS, [9, 28_803]]));
});
