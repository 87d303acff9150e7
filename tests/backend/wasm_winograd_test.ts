/**
 * masokit's Winograd conv on tfjs-wasm (lib/backend/tfjs/_wasm_winograd.ts) against a float64
 * brute-force convolution: every tile, bias and ReLU, padding on every side and beyond the
 * kernel, partial tiles at the bottom and right edges, output channels that fill the products'
 * register blocks or not; the fused kernel (blocks of tiles that end inside rows and parts,
 * with and without relaxed SIMD's multiply-add) and the one with XNNPACK's products (chunks
 * of tiles that split rows); helper threads; the transpose's filters; its rules and its
 * refusals.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  gemmFunction,
  wasmWinograd,
  WINOGRAD_CONV,
  winogradConvReady,
  winogradFilterValues,
  winogradTileFor,
} from "../../lib/backend/tfjs/_wasm_winograd.ts";
import type { WinogradTile } from "../../lib/backend/winograd_math.ts";
import { heapThreadStats } from "../../lib/backend/_heap_threads.ts";
import { assembleModule, relaxedSimd } from "../../lib/util/_wasm_emitter.ts";
import { lcgValues, onThreadedWasm } from "../_threads.ts";
import { withSettings } from "../_settings.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Brute force in float64: `[rows, oh, ow, cout]` of a 3×3 correlation, HWIO kernel. */
function reference(
  x: Float32Array,
  [rows, h, w, cin]: number[],
  k: Float64Array,
  cout: number,
  [pt, pb, pl, pr]: number[],
  bias?: Float32Array,
  relu = false,
): Float64Array {
  const oh = h + pt + pb - 2, ow = w + pl + pr - 2;
  const out = new Float64Array(rows * oh * ow * cout);
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        for (let o = 0; o < cout; o++) {
          let s = bias?.[o] ?? 0;
          for (let p = 0; p < 3; p++) {
            const iy = y + p - pt;
            if (iy < 0 || iy >= h) continue;
            for (let q = 0; q < 3; q++) {
              const ix = xx + q - pl;
              if (ix < 0 || ix >= w) continue;
              for (let i = 0; i < cin; i++) {
                s += x[((r * h + iy) * w + ix) * cin + i] * k[((p * 3 + q) * cin + i) * cout + o];
              }
            }
          }
          out[((r * oh + y) * ow + xx) * cout + o] = relu ? Math.max(0, s) : s;
        }
      }
    }
  }
  return out;
}

/** Runs the kernel on the active backend. */
function winograd(
  x: Float32Array,
  shape: number[],
  u: Float64Array[],
  cout: number,
  pad: number[],
  m: WinogradTile,
  bias?: Float32Array,
  relu = false,
): { values: Float32Array; shape: number[] } {
  const inputs: Record<string, tf.Tensor> = { x: tf.tensor(x, shape) };
  u.forEach((v, xi) => inputs[`u${xi}`] = tf.tensor(Float32Array.from(v), [1, 1, shape[3], cout]));
  if (bias) inputs.bias = tf.tensor(bias, [cout]);
  const y = tf.engine().runKernel(WINOGRAD_CONV, inputs, { tile: m, relu, pad }) as tf.Tensor;
  const out = { values: y.dataSync() as Float32Array, shape: y.shape };
  tf.dispose([y, ...Object.values(inputs)]);
  return out;
}

/** x shape, output channels, padding [top, bottom, left, right], bias and ReLU. */
const cases: [number[], number, number[], boolean][] = [
  [[3, 7, 7, 8], 12, [1, 1, 1, 1], true], // "same": partial tiles at the bottom and right
  [[2, 9, 11, 16], 8, [0, 2, 1, 0], false], // uneven padding
  [[2, 5, 6, 4], 4, [2, 2, 2, 2], true], // "full": every tile a border tile
  [[1, 4, 4, 4], 8, [3, 0, 0, 3], false], // padding beyond the kernel: rows of zeros
  [[1, 3, 3, 4], 4, [0, 0, 0, 0], true], // one output pixel
  [[3, 10, 9, 12], 36, [1, 1, 1, 1], true], // 9 column quads: 2 register blocks and 1 more
  [[2, 6, 6, 8], 20, [0, 0, 0, 0], false], // 5 column quads: 1 block and 1 more
  [[40, 12, 12, 32], 16, [1, 1, 1, 1], true], // enough tiles to split between threads
];

function checkAll(): void {
  assert(winogradConvReady([3, 3], [1, 1], 16, 16), "not ready on wasm");
  for (const [shape, cout, pad, withBias] of cases) {
    const size = shape.reduce((a, b) => a * b), cin = shape[3];
    const x = lcgValues(size, 3), k = Float64Array.from(lcgValues(9 * cin * cout, 5));
    const bias = withBias ? lcgValues(cout, 7) : undefined;
    const want = reference(x, shape, k, cout, pad, bias, withBias);
    for (const m of [2, 4, 6] as const) {
      const what = `x [${shape}] → ${cout}, pad [${pad}], F(${m})`;
      const got = winograd(
        x,
        shape,
        winogradFilterValues(k, cin, cout, false, m),
        cout,
        pad,
        m,
        bias,
        withBias,
      );
      assertEquals(got.shape, [
        shape[0],
        shape[1] + pad[0] + pad[1] - 2,
        shape[2] + pad[2] + pad[3] - 2,
        cout,
      ], what);
      assertAllClose(got.values, want, 1e-5, what, Math.max(largestMagnitude(want), 1));
    }
  }
}

/** The transpose's filters: the correlation of a gradient with the flipped kernel, channels swapped. */
function checkTranspose(): void {
  const [rows, oh, ow, cout, cin] = [3, 6, 5, 12, 8]; // the layer: cin → cout, valid 3×3
  const g = lcgValues(rows * oh * ow * cout, 11),
    k = Float64Array.from(lcgValues(9 * cin * cout, 13));
  // brute force: dx[r, y, x, i] = Σ g[r, y − p, x − q, o] · k[p, q, i, o]
  const h = oh + 2, w = ow + 2, want = new Float64Array(rows * h * w * cin);
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        for (let p = 0; p < 3; p++) {
          for (let q = 0; q < 3; q++) {
            for (let i = 0; i < cin; i++) {
              let s = 0;
              for (let o = 0; o < cout; o++) {
                s += g[((r * oh + y) * ow + xx) * cout + o] * k[((p * 3 + q) * cin + i) * cout + o];
              }
              want[((r * h + y + p) * w + xx + q) * cin + i] += s;
            }
          }
        }
      }
    }
  }
  for (const m of [2, 4] as const) {
    const u = winogradFilterValues(k, cin, cout, true, m);
    const got = winograd(g, [rows, oh, ow, cout], u, cin, [2, 2, 2, 2], m);
    assertEquals(got.shape, [rows, h, w, cin]);
    assertAllClose(got.values, want, 1e-5, `transpose F(${m})`, largestMagnitude(want));
  }
}

Deno.test("the Winograd conv equals a float64 brute-force conv on wasm", async (t) => {
  assertEquals(winogradConvReady([3, 3], [1, 1], 16, 16), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    await t.step("forward: both tiles, bias, ReLU, padding, partial tiles", checkAll);
    await t.step("the transpose's filters", checkTranspose);
    await t.step("fused, blocks of 2 tiles: blocks end inside rows", () => {
      assert(relaxedSimd(), "Deno's V8 validates relaxed SIMD");
      withSettings(wasmWinograd, { blockBytes: 1 }, checkAll);
    });
    await t.step("fused, blocks of a few tiles", () => {
      withSettings(wasmWinograd, { blockBytes: 64 * (32 + 16) * 4 * 6 }, checkAll);
    });
    await t.step("fused without relaxed SIMD's multiply-add", () => {
      withSettings(wasmWinograd, { fma: false }, () => {
        checkAll();
        checkTranspose();
      });
    });
    await t.step("XNNPACK's products, chunks of 7 tiles: chunks end inside rows", () => {
      withSettings(wasmWinograd, { fused: false, chunkBytes: 36 * (32 + 16) * 4 * 7 }, checkAll);
    });
    await t.step("refusals name the values", () => {
      const x = lcgValues(2 * 6 * 6 * 6, 1),
        u = Array.from({ length: 36 }, () => new Float64Array(6 * 8));
      assertThrows(
        () => winograd(x, [2, 6, 6, 6], u, 8, [0, 0, 0, 0], 4),
        /x \[2,6,6,6\] \(float32\), tile 4, filters \[1,1,6,8\], pad \[0,0,0,0\]: expected/,
      );
      const x8 = lcgValues(6 * 6 * 8, 1),
        u8 = Array.from({ length: 16 }, () => new Float64Array(64));
      assertThrows(
        () => winograd(x8, [1, 6, 6, 8], u8, 8, [0, -1, 0, 0], 2),
        /pad \[0,-1,0,0\]: expected/,
      );
      assertThrows(
        () => winograd(x8, [1, 6, 6, 8], u8, 8, [0, 0, 0, 0], 4),
        /tile 4, filters \[1,1,8,8\]/,
      );
      assertThrows(
        () => winograd(x8, [1, 6, 6, 8], u8, 8, [0, 0, 0, 0], 3 as WinogradTile),
        /tile 3/,
      );
    });
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("the Winograd conv splits tiles between threads on threaded wasm", async () => {
  await onThreadedWasm("wasm-winograd-test", () => {
    const before = heapThreadStats.helperParts;
    checkAll();
    checkTranspose();
    const fused = heapThreadStats.helperParts;
    withSettings(wasmWinograd, { fused: false }, checkAll);
    if (navigator.hardwareConcurrency >= 2) {
      assert(fused > before, "no part of the fused kernel ran on a helper thread");
      assert(heapThreadStats.helperParts > fused, "no transform ran on a helper thread");
    }
  });
});

Deno.test("which convs and tiles the engine runs by Winograd", async () => {
  await tf.setBackend("wasm");
  try {
    assertEquals(winogradConvReady([3, 3], [1, 1], 16, 16), true);
    assertEquals(winogradConvReady([3, 3], [1, 1], 12, 16), false); // too few channels
    assertEquals(winogradConvReady([3, 3], [1, 1], 16, 18), false); // not a multiple of 4
    assertEquals(winogradConvReady([5, 5], [1, 1], 16, 16), false);
    assertEquals(winogradConvReady([3, 3], [2, 2], 16, 16), false);
    wasmWinograd.enabled = false;
    assertEquals(winogradConvReady([3, 3], [1, 1], 16, 16), false);
  } finally {
    wasmWinograd.enabled = true;
    await tf.setBackend("cpu");
  }
  assertEquals(winogradTileFor(32, 32), 4); // 36·64 against 16·256 multiply-adds a channel pair
  assertEquals(winogradTileFor(6, 6), 2); // a tie: 144 each
  assertEquals(winogradTileFor(2, 2), 2); // 16 ≤ 0.6 · 9 · 4
  assertEquals(winogradTileFor(1, 2), false); // 16 > 0.6 · 9 · 2
  wasmWinograd.tile = 4;
  try {
    assertEquals(winogradTileFor(6, 6), 4);
    assertEquals(winogradTileFor(2, 2), false); // 36 > 0.6 · 9 · 4
  } finally {
    wasmWinograd.tile = "auto";
  }
});

Deno.test("the fused kernel's products equal float64 products, every register block and splat", () => {
  // [rows, cin, cout]: rows not a multiple of the block's, columns that leave a narrower block
  const shapes = [[5, 12, 20], [2, 4, 4], [7, 16, 52]];
  for (const fma of relaxedSimd() ? [true, false] : [false]) {
    for (const shuffle of [true, false]) {
      for (const [rows, quads] of [[2, 4], [4, 2], [3, 3], [1, 8]]) {
        for (const [m, cin, cout] of shapes) {
          const what = `${rows} × ${
            4 * quads
          } block, shuffle ${shuffle}, fma ${fma}, [${m}, ${cin}] · [${cin}, ${cout}]`;
          const gemm = gemmFunction(cin, cout, { fma, shuffle, rows, quads });
          const memory = new WebAssembly.Memory({ initial: 1 });
          const ex = new WebAssembly.Instance(
            new WebAssembly.Module(
              assembleModule({ gemm }, { shared: false, maxPages: null }) as Uint8Array<
                ArrayBuffer
              >,
            ),
            { env: { memory } },
          ).exports as { gemm: (a: number, b: number, c: number, rows: number) => void };
          const f32 = new Float32Array(memory.buffer);
          const padded = Math.ceil(m / rows) * rows; // the rows it computes
          const a = lcgValues(padded * cin, 17), b = lcgValues(cin * cout, 19);
          const A = 0, B = A + a.length, C = B + b.length, end = C + padded * cout;
          f32.set(a, A);
          f32.set(b, B);
          f32.fill(12345, C, end + 64); // a sentinel past the rows it computes, too
          ex.gemm(A * 4, B * 4, C * 4, m);
          const want = new Float64Array(m * cout);
          for (let r = 0; r < m; r++) {
            for (let o = 0; o < cout; o++) {
              for (let k = 0; k < cin; k++) want[r * cout + o] += a[r * cin + k] * b[k * cout + o];
            }
          }
          assertAllClose(f32.subarray(C, C + m * cout), want, 1e-5, what, largestMagnitude(want));
          assert(f32.subarray(end, end + 64).every((v) => v === 12345), `${what}: wrote past C`);
        }
      }
    }
  }
});
