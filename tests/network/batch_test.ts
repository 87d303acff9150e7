/**
 * readBatch(): float64 for the CPU engines; with `float32`, a float32 tensor's own values
 * (the WebGPU engine's inputs, no float64 copy) — int32 tensors and float64 batches as before;
 * checked the same way in both modes.
 */
import * as tf from "@tensorflow/tfjs";
import { readBatch } from "../../lib/network/batch.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";

await tf.setBackend("cpu");
const exampleShape = [3] as const;

Deno.test("readBatch(): float64 by default, a float32 tensor's own values with float32", () => {
  const t = tf.tensor2d([[0.1, 2, -3.5], [4, 5.25, 1e-7]]);
  const f64 = readBatch(t, { exampleShape });
  assert(f64.data instanceof Float64Array);
  assertEquals(Array.from(f64.data), Array.from(t.dataSync()));
  const f32 = readBatch(t, { exampleShape, float32: true });
  assert(f32.data instanceof Float32Array, "no float64 copy");
  assertEquals(Array.from(f32.data), Array.from(t.dataSync()));
  assertEquals(f32.count, 2);
  // int32 tensors and float64 batches come back as float64 either way
  const i = tf.tensor2d([[1, 2, 3]], undefined, "int32");
  const fromInt = readBatch(i, { exampleShape, float32: true });
  assert(fromInt.data instanceof Float64Array);
  assertEquals(Array.from(fromInt.data), [1, 2, 3]);
  const data = new Float64Array([1, 2, 3]);
  assert(readBatch({ data, shape: [1, 3] }, { exampleShape, float32: true }).data === data);
  tf.dispose([t, i]);
});

Deno.test("readBatch(): with float32, non-finite values and bad shapes are refused alike", () => {
  const nan = tf.tensor2d([[1, NaN, 3]]);
  assertThrows(
    () => readBatch(nan, { exampleShape, float32: true, what: "W" }),
    /W: input value NaN at example 0, index 1 is not finite/,
  );
  assertThrows(
    () => readBatch(tf.tensor2d([[1, 2]]), { exampleShape, float32: true }),
    /input has shape \[1,2\], expected \[N, 3\]/,
  );
  tf.dispose(nan);
});
