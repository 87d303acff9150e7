import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  MASKED_MAX_POOL,
  MASKED_MAX_POOL_TRANSPOSE,
  maskedMaxPoolReady,
} from "../../lib/backend/tfjs/_wasm_masked_max_pool.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

/** Brute force: per window and channel, the index of the first (row-major) maximum of x. */
function firstMax(
  x: Float32Array,
  [_n, H, W, C]: number[],
  [ph, pw]: number[],
  e: number,
  oy: number,
  ox: number,
  c: number,
): number {
  let best = -Infinity, at = -1;
  for (let ky = 0; ky < ph; ky++) {
    for (let kx = 0; kx < pw; kx++) {
      const p = ((e * H + oy * ph + ky) * W + ox * pw + kx) * C + c;
      if (x[p] > best) [best, at] = [x[p], p];
    }
  }
  return at;
}

/** Brute force: per window and channel, v at the first (row-major) maximum of x. */
function expected(
  x: Float32Array,
  v: Float32Array,
  [n, H, W, C]: number[],
  [ph, pw]: number[],
): number[] {
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    for (let oy = 0; oy < Math.floor(H / ph); oy++) {
      for (let ox = 0; ox < Math.floor(W / pw); ox++) {
        for (let c = 0; c < C; c++) {
          const at = firstMax(x, [n, H, W, C], [ph, pw], e, oy, ox, c);
          out.push(v[at]);
        }
      }
    }
  }
  return out;
}

Deno.test("the wasm masked max-pool kernels use x's first maximum (ties included)", async () => {
  await tf.setBackend("cpu");
  assertEquals(maskedMaxPoolReady(), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    assertEquals(maskedMaxPoolReady(), true);
    for (const [shape, pool] of [[[2, 7, 9, 3], [2, 2]], [[1, 9, 8, 2], [3, 2]]]) {
      const size = shape.reduce((a, b) => a * b, 1);
      // values in {0, 1, 2}: most windows hold ties, at zero and above
      const xs = Float32Array.from({ length: size }, (_, i) => (i * 7919 % 13) % 3);
      const vs = Float32Array.from({ length: size }, (_, i) => i + 1);
      const x = tf.tensor(xs, shape), v = tf.tensor(vs, shape);
      const y = tf.engine().runKernel(MASKED_MAX_POOL, { x, v }, { poolSize: pool }) as tf.Tensor;
      assertEquals(y.shape, [
        shape[0],
        Math.floor(shape[1] / pool[0]),
        Math.floor(shape[2] / pool[1]),
        shape[3],
      ]);
      assertEquals(Array.from(y.dataSync()), expected(xs, vs, shape, pool));
      // the transpose: 3 rows per example, each row's g lands on its example's first maxima
      const [n, H, W, C] = shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
      const per = 3, gs = Float32Array.from({ length: n * per * OH * OW * C }, (_, i) => i + 1);
      const g = tf.tensor(gs, [n * per, OH, OW, C]);
      const t = tf.engine().runKernel(MASKED_MAX_POOL_TRANSPOSE, { x, g }, {
        poolSize: pool,
      }) as tf.Tensor;
      const want = new Float32Array(n * per * H * W * C);
      for (let r = 0; r < n * per; r++) {
        const e = Math.floor(r / per);
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            for (let c = 0; c < C; c++) {
              const p = firstMax(xs, shape, pool, e, oy, ox, c) - e * H * W * C;
              want[r * H * W * C + p] = gs[((r * OH + oy) * OW + ox) * C + c];
            }
          }
        }
      }
      assertEquals(t.shape, [n * per, H, W, C]);
      assertEquals(Array.from(t.dataSync()), Array.from(want));
      tf.dispose([x, v, y, g, t]);
    }
    const x = tf.zeros([1, 4, 4, 1]), v = tf.zeros([1, 4, 4, 2]);
    assertThrows(
      () => tf.engine().runKernel(MASKED_MAX_POOL, { x, v }, { poolSize: [2, 2] }),
      /v has shape \[1,4,4,2\], expected the recorded input's \[1,4,4,1\]/,
    );
    const g = tf.zeros([3, 2, 3, 1]);
    assertThrows(
      () => tf.engine().runKernel(MASKED_MAX_POOL_TRANSPOSE, { x, g }, { poolSize: [2, 2] }),
      /g has shape \[3,2,3,1\], expected \[k·1, 2, 2, 1\]/,
    );
    tf.dispose([x, v, g]);
  } finally {
    await tf.setBackend("cpu");
  }
});
