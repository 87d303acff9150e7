import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  MASKED_MAX_POOL,
  MASKED_MAX_POOL_TRANSPOSE,
  maskedMaxPoolReady,
  wasmMaxPoolKernels,
  wasmWindowSlots,
} from "../../lib/backend/tfjs/_wasm_masked_max_pool.ts";
import { onThreadedWasm } from "../_threads.ts";
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

/**
 * Runs both kernels on `shape` / `pool` and compares them with brute force. x has values in
 * {−1, 0, 1} (most windows hold ties, below, at and above zero) or, with `random`, distinct
 * random values (unpredictable winners). With `gate`, windows whose maximum is not positive
 * give 0 (the ReLU before the pool folded in).
 */
function checkKernels(shape: number[], pool: number[], random: boolean, gate: boolean): void {
  const size = shape.reduce((a, b) => a * b, 1);
  let s = 12345;
  const xs = Float32Array.from({ length: size }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return random ? s / 2 ** 31 - 1 : ((i * 7919 % 13) % 3) - 1;
  });
  const vs = Float32Array.from({ length: size }, (_, i) => i + 1);
  const x = tf.tensor(xs, shape), v = tf.tensor(vs, shape);
  const y = tf.engine().runKernel(MASKED_MAX_POOL, { x, v }, { poolSize: pool, gate }) as tf.Tensor;
  assertEquals(y.shape, [
    shape[0],
    Math.floor(shape[1] / pool[0]),
    Math.floor(shape[2] / pool[1]),
    shape[3],
  ]);
  const maxima = expected(xs, xs, shape, pool);
  assertEquals(
    Array.from(y.dataSync()),
    expected(xs, vs, shape, pool).map((val, o) => !gate || maxima[o] > 0 ? val : 0),
  );
  // the codes: each first maximum's window slot (SIMD only: null where it does not apply)
  const slots = wasmWindowSlots(x as tf.Tensor4D, pool as [number, number]);
  if (wasmMaxPoolKernels.simd && shape[3] % 4 === 0) {
    const [ph, pw] = pool, [, H, W, C] = shape;
    const positions = expected(xs, Float32Array.from(xs.keys()), shape, pool);
    assertEquals(
      Array.from(slots ?? []),
      positions.map((p) => {
        const x = Math.floor(p / C) % W, y = Math.floor(p / (C * W)) % H;
        return (y % ph) * pw + (x % pw);
      }),
    );
  } else assertEquals(slots, null);
  // the transpose: 3 rows per example, each row's g lands on its example's first maxima
  const [n, H, W, C] = shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
  const per = 3, gs = Float32Array.from({ length: n * per * OH * OW * C }, (_, i) => i + 1);
  const g = tf.tensor(gs, [n * per, OH, OW, C]);
  // an output allocated where a freed tensor of garbage lay: zeros must be written
  tf.fill([n * per, H, W, C], 7).dispose();
  const t = tf.engine().runKernel(MASKED_MAX_POOL_TRANSPOSE, { x, g }, {
    poolSize: pool,
    gate,
  }) as tf.Tensor;
  const want = new Float32Array(n * per * H * W * C);
  for (let r = 0; r < n * per; r++) {
    const e = Math.floor(r / per);
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++) {
          const at = firstMax(xs, shape, pool, e, oy, ox, c), p = at - e * H * W * C;
          if (gate && !(xs[at] > 0)) continue;
          want[r * H * W * C + p] = gs[((r * OH + oy) * OW + ox) * C + c];
        }
      }
    }
  }
  assertEquals(t.shape, [n * per, H, W, C]);
  assertEquals(Array.from(t.dataSync()), Array.from(want));
  tf.dispose([x, v, y, g, t]);
}

/** Shapes and pools: odd edges, C a multiple of 4 (the SIMD bodies) or not (the JS loop). */
const CASES: [number[], number[]][] = [
  [[2, 7, 9, 3], [2, 2]],
  [[1, 9, 8, 2], [3, 2]],
  [[3, 7, 9, 8], [2, 2]],
  [[2, 9, 7, 4], [3, 2]],
  [[2, 6, 6, 12], [1, 3]],
  [[1, 5, 4, 4], [1, 1]],
];

/** Large enough for the SIMD kernels to split the examples between threads (odd counts). */
const LARGE: [number[], number[]] = [[5, 33, 31, 80], [2, 2]];

/** Every case with the SIMD bodies on and off, on the active backend. */
function checkAll(cases = CASES): void {
  try {
    for (const simd of [true, false]) {
      wasmMaxPoolKernels.simd = simd;
      for (const [shape, pool] of cases) {
        for (const random of [false, true]) {
          for (const gate of [false, true]) checkKernels(shape, pool, random, gate);
        }
      }
    }
  } finally {
    wasmMaxPoolKernels.simd = true;
  }
}

Deno.test("the wasm masked max-pool kernels use x's first maximum (ties included)", async () => {
  await tf.setBackend("cpu");
  assertEquals(maskedMaxPoolReady(), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    assertEquals(maskedMaxPoolReady(), true);
    checkAll();
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

Deno.test("the wasm masked max-pool kernels run on threaded wasm's shared memory", async () => {
  await onThreadedWasm("wasm-maxpool-test", () => {
    assertEquals(maskedMaxPoolReady(), true);
    checkAll([...CASES, LARGE]);
  });
});
