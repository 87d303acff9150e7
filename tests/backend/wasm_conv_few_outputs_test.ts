import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  CONV_FEW_OUTPUTS,
  convFewOutputsReady,
} from "../../lib/backend/tfjs/_wasm_conv_few_outputs.ts";
import { lcgValues, onThreadedWasm } from "../_threads.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

const values = lcgValues;

/** x shape, k shape [kh, kw, c, cin], padding [top, bottom, left, right]. */
const cases: [number[], number[], number[]][] = [
  [[3, 9, 11, 8], [3, 3, 3, 8], [2, 2, 2, 2]], // a first layer's transpose: full padding
  [[2, 6, 7, 12], [5, 3, 1, 12], [1, 3, 0, 2]], // one channel, uneven padding
  [[2, 5, 6, 4], [2, 2, 4, 4], [0, 0, 0, 0]], // four channels, no padding
  [[2, 6, 5, 16], [3, 3, 2, 16], [4, 1, 3, 4]], // padding beyond the kernel: empty windows
  [[2, 4, 4, 8], [5, 5, 1, 8], [4, 4, 4, 4]], // kernel larger than the input
  [[2, 3, 30, 4], [1, 3, 3, 4], [0, 0, 2, 2]], // long rows: many position blocks and a tail
  [[40, 12, 12, 32], [3, 3, 3, 32], [2, 2, 2, 2]], // large enough to split between threads
];

/** Every case against tfjs-cpu's conv2d with the kernel as [kh, kw, cin, c]. */
async function checkAll(backendName: string): Promise<void> {
  for (const [xs, ks, pad] of cases) {
    const xv = values(xs.reduce((a, b) => a * b), 1), kv = values(ks.reduce((a, b) => a * b), 2);
    await tf.setBackend("cpu");
    const x0 = tf.tensor4d(xv, xs as [number, number, number, number]);
    const k0 = tf.tensor4d(kv, ks as [number, number, number, number]);
    const ref = tf.conv2d(x0, tf.transpose(k0, [0, 1, 3, 2]) as tf.Tensor4D, 1, [
      [0, 0],
      [pad[0], pad[1]],
      [pad[2], pad[3]],
      [0, 0],
    ]);
    const want = ref.dataSync() as Float32Array, shape = ref.shape;
    tf.dispose([x0, k0, ref]);
    await tf.setBackend(backendName);
    assert(convFewOutputsReady(xs[3], ks[2]), `not ready for ${xs} ${ks}`);
    const x = tf.tensor4d(xv, xs as [number, number, number, number]);
    const k = tf.tensor4d(kv, ks as [number, number, number, number]);
    const y = tf.engine().runKernel(CONV_FEW_OUTPUTS, { x, k }, { pad }) as tf.Tensor;
    assertEquals(y.shape, shape, `${xs} ${ks} ${pad}`);
    const got = y.dataSync() as Float32Array;
    assertAllClose(got, want, 1e-5, `${xs} ${ks} ${pad}`, Math.max(largestMagnitude(want), 1));
    tf.dispose([x, k, y]);
  }
}

Deno.test("the few-outputs conv kernel equals tfjs-cpu's conv2d", async () => {
  assertEquals(convFewOutputsReady(8, 3), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    await checkAll("wasm");
    assertEquals(convFewOutputsReady(8, 5), false); // > 4 outputs
    assertEquals(convFewOutputsReady(6, 3), false); // inputs not a multiple of 4
    const x = tf.zeros([1, 4, 4, 6]), k = tf.zeros([3, 3, 2, 6]);
    assertThrows(
      () => tf.engine().runKernel(CONV_FEW_OUTPUTS, { x, k }, { pad: [0, 0, 0, 0] }),
      /x \[1,4,4,6\] \(float32\), k \[3,3,2,6\] \(float32\), pad \[0,0,0,0\]: expected/,
    );
    const x8 = tf.zeros([1, 4, 4, 8]), k8 = tf.zeros([3, 3, 2, 8]);
    assertThrows(
      () => tf.engine().runKernel(CONV_FEW_OUTPUTS, { x: x8, k: k8 }, { pad: [-1, 0, 0, 0] }),
      /pad \[-1,0,0,0\]: expected/,
    );
    tf.dispose([x, k, x8, k8]);
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("the few-outputs conv kernel splits images between threads on threaded wasm", async () => {
  const name = "wasm-few-outputs-test";
  await onThreadedWasm(name, () => checkAll(name));
});
