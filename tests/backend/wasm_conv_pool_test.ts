import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { CONV_POOL_GATHER, convPoolReady } from "../../lib/backend/tfjs/_wasm_conv_pool.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";
import { lcgValues } from "../_threads.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/**
 * Brute force of the masked pass through conv → (ReLU) → disjoint max-pool: for each row, the
 * conv (filter `[co, kh, kw, cin]`, bias added) at each window's first maximum of its example's
 * `x`, 0 where the gate is on and that maximum is not positive.
 */
function bruteForce(
  x: Float32Array,
  [n, PH, PW, co]: number[],
  v: Float32Array,
  per: number,
  [H, W, cin]: number[],
  k: Float32Array,
  [kh, kw]: number[],
  b: Float32Array,
  [ph, pw]: number[],
  [pt, pl]: number[],
  gate: boolean,
): Float32Array {
  const OH = Math.floor(PH / ph), OW = Math.floor(PW / pw);
  const out = new Float32Array(n * per * OH * OW * co);
  for (let e = 0; e < n; e++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let o = 0; o < co; o++) {
          let best = -Infinity, by = 0, bx = 0;
          for (let a = 0; a < ph; a++) {
            for (let c = 0; c < pw; c++) {
              const val = x[((e * PH + oy * ph + a) * PW + ox * pw + c) * co + o];
              if (val > best) [best, by, bx] = [val, oy * ph + a, ox * pw + c];
            }
          }
          for (let r = e * per; r < (e + 1) * per; r++) {
            let sum = b[o];
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const yy = by + i - pt, xx = bx + j - pl;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                for (let ci = 0; ci < cin; ci++) {
                  sum += v[((r * H + yy) * W + xx) * cin + ci] *
                    k[((o * kh + i) * kw + j) * cin + ci];
                }
              }
            }
            out[((r * OH + oy) * OW + ox) * co + o] = gate && !(best > 0) ? 0 : sum;
          }
        }
      }
    }
  }
  return out;
}

Deno.test("the fused conv/pool gather equals brute force for any rows per example", async (t) => {
  await tf.setBackend("wasm");
  try {
    // conv input [H, W, cin], kernel, padding, pool; the pool's input is the conv's output
    const configs = [
      { inShape: [8, 8, 4], kernel: [3, 3], pad: [0, 0], pool: [2, 2] },
      { inShape: [7, 9, 3], kernel: [3, 2], pad: [1, 1], pool: [2, 3] },
    ];
    for (const cfg of configs) {
      for (const per of [1, 3, 5]) {
        for (const gate of [true, false]) {
          await t.step(`${JSON.stringify(cfg)}, ${per} rows, gate ${gate}`, () => {
            const [H, W, cin] = cfg.inShape, [kh, kw] = cfg.kernel, [pt, pl] = cfg.pad;
            const n = 2, co = 8;
            const PH = H + 2 * pt - kh + 1, PW = W + 2 * pl - kw + 1;
            const xs = [n, PH, PW, co];
            const xv = lcgValues(n * PH * PW * co, 1), vv = lcgValues(n * per * H * W * cin, 2);
            const kv = lcgValues(co * kh * kw * cin, 3), bv = lcgValues(co, 4);
            assert(convPoolReady(CONV_POOL_GATHER, cin));
            const x = tf.tensor(xv, xs), v = tf.tensor(vv, [n * per, H, W, cin]);
            const k = tf.tensor(kv, [co, kh, kw, cin]), b = tf.tensor(bv, [co]);
            const y = tf.engine().runKernel(CONV_POOL_GATHER, { x, v, k, b }, {
              poolSize: cfg.pool,
              gate,
              inShape: cfg.inShape,
              pad: cfg.pad,
              bias: true,
            }) as tf.Tensor;
            const want = bruteForce(
              xv,
              xs,
              vv,
              per,
              cfg.inShape,
              kv,
              cfg.kernel,
              bv,
              cfg.pool,
              cfg.pad,
              gate,
            );
            assertEquals(y.shape, [
              n * per,
              Math.floor(PH / cfg.pool[0]),
              Math.floor(PW / cfg.pool[1]),
              co,
            ]);
            assertAllClose(y.dataSync(), want, 1e-5, "gather", largestMagnitude(want));
            tf.dispose([x, v, k, b, y]);
          });
        }
      }
    }
    await t.step("a filter of the wrong layout is refused, naming the shapes", () => {
      const x = tf.zeros([1, 4, 4, 8]), v = tf.zeros([1, 6, 6, 4]);
      const k = tf.zeros([3, 3, 4, 8]), b = tf.zeros([8]);
      assertThrows(
        () =>
          tf.engine().runKernel(CONV_POOL_GATHER, { x, v, k, b }, {
            kernelSize: [3, 3],
            poolSize: [2, 2],
            gate: true,
            inShape: [6, 6, 4],
            pad: [0, 0],
          }),
        /k \[3,3,4,8\].*expected.*k \[8,3,3,4\]/,
      );
      tf.dispose([x, v, k, b]);
    });
  } finally {
    await tf.setBackend("cpu");
  }
});
