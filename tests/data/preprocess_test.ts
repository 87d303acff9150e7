import * as tf from "@tensorflow/tfjs";
import { assertAllClose, assertThrows } from "../_assert.ts";
import { preprocessPaper } from "../../lib/data/preprocess.ts";
import { randomBytes } from "./_helpers.ts";

Deno.test("preprocessPaper() equals per-image (x − mean) / max|x − mean| by brute force", async (t) => {
  const [n, h, w, c] = [4, 3, 5, 2];
  const size = h * w * c;
  const values = Float32Array.from(randomBytes(n * size, 61), (b) => b / 255);
  const got = preprocessPaper(tf.tensor4d(values, [n, h, w, c])).dataSync();
  const expected = new Float64Array(n * size);
  for (let i = 0; i < n; i++) {
    const img = values.subarray(i * size, (i + 1) * size);
    let mean = 0;
    for (const v of img) mean += v / size;
    let max = 0;
    for (const v of img) max = Math.max(max, Math.abs(v - mean));
    for (let j = 0; j < size; j++) expected[i * size + j] = (img[j] - mean) / max;
  }
  assertAllClose(got, expected, 1e-5);

  await t.step("a constant image becomes zeros", () => {
    assertAllClose(preprocessPaper(tf.fill([1, 2, 2, 1], 0.3) as tf.Tensor4D).dataSync(), [
      0,
      0,
      0,
      0,
    ], 0);
  });
  await t.step("NaN, wrong rank and dtype are refused", () => {
    assertThrows(() => preprocessPaper(tf.tensor4d([NaN, 1], [1, 1, 2, 1])), /NaN/);
    assertThrows(
      () => preprocessPaper(tf.zeros([2, 2]) as unknown as tf.Tensor4D),
      /rank 2, expected 4/,
    );
    assertThrows(() => preprocessPaper(tf.zeros([1, 1, 1, 1], "int32") as tf.Tensor4D), /"int32"/);
  });
});
