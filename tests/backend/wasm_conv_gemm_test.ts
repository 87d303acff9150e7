/**
 * masokit's direct conv on tfjs-wasm (lib/backend/tfjs/_wasm_conv_gemm.ts: im2col blocks and the
 * fused products) against a float64 brute-force convolution: kernel sizes 1, 3 and 5, strides 1
 * and 2, padding on every side and beyond the kernel, input channels that fill vectors or not
 * (1, 3, 5, 8), output channels that fill the products' register blocks or not, bias and ReLU;
 * blocks that end inside rows and images, one block and many, on the calling thread and split
 * between threads; exact ties (equal receptive fields give equal bits); the training kernels'
 * and the engine's calls; refusals.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  CONV_GEMM,
  convGemmApplies,
  convGemmReady,
  type ConvGemmShape,
  wasmConvGemm,
} from "../../lib/backend/tfjs/_wasm_conv_gemm.ts";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
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

/** A conv's geometry from its input, kernel, channels, strides and padding. */
function geometry(
  [, h, w, cin]: number[],
  [kh, kw]: number[],
  cout: number,
  [sh, sw]: number[],
  [pt, pb, pl, pr]: number[],
): ConvGemmShape {
  const oh = Math.floor((h + pt + pb - kh) / sh) + 1, ow = Math.floor((w + pl + pr - kw) / sw) + 1;
  return { h, w, cin, cout, kh, kw, sh, sw, pt, pl, oh, ow };
}

/** Brute force in float64: `[n, oh, ow, cout]`, HWIO kernel, zero outside the input. */
function reference(
  x: Float32Array,
  n: number,
  s: ConvGemmShape,
  k: Float32Array,
  bias?: Float32Array,
  relu = false,
): Float64Array {
  const out = new Float64Array(n * s.oh * s.ow * s.cout);
  for (let r = 0; r < n; r++) {
    for (let y = 0; y < s.oh; y++) {
      for (let xx = 0; xx < s.ow; xx++) {
        for (let o = 0; o < s.cout; o++) {
          let sum = bias?.[o] ?? 0;
          for (let p = 0; p < s.kh; p++) {
            const iy = y * s.sh + p - s.pt;
            if (iy < 0 || iy >= s.h) continue;
            for (let q = 0; q < s.kw; q++) {
              const ix = xx * s.sw + q - s.pl;
              if (ix < 0 || ix >= s.w) continue;
              for (let i = 0; i < s.cin; i++) {
                sum += x[((r * s.h + iy) * s.w + ix) * s.cin + i] *
                  k[((p * s.kw + q) * s.cin + i) * s.cout + o];
              }
            }
          }
          out[((r * s.oh + y) * s.ow + xx) * s.cout + o] = relu ? Math.max(0, sum) : sum;
        }
      }
    }
  }
  return out;
}

/** Runs the kernel on the active backend. */
function direct(
  x: Float32Array,
  shape: number[],
  k: Float32Array,
  kernel: number[],
  cout: number,
  strides: number[],
  pad: number[],
  bias?: Float32Array,
  relu = false,
): { values: Float32Array; shape: number[] } {
  const inputs: Record<string, tf.Tensor> = {
    x: tf.tensor(x, shape),
    filter: tf.tensor(k, [kernel[0], kernel[1], shape[3], cout]),
  };
  if (bias) inputs.bias = tf.tensor(bias, [cout]);
  const y = tf.engine().runKernel(CONV_GEMM, inputs, { strides, pad, relu }) as tf.Tensor;
  const out = { values: y.dataSync() as Float32Array, shape: y.shape };
  tf.dispose([y, ...Object.values(inputs)]);
  return out;
}

/** x shape, kernel, output channels, strides, padding [top, bottom, left, right], bias + ReLU. */
const cases: [number[], number[], number, number[], number[], boolean][] = [
  [[2, 7, 9, 3], [3, 3], 8, [1, 1], [0, 0, 0, 0], true], // a first layer: 27 taps, padded to 28
  [[3, 9, 7, 5], [3, 3], 4, [2, 2], [1, 1, 1, 1], false], // 5 channels, stride 2, "same"
  [[2, 11, 10, 4], [5, 5], 12, [1, 1], [2, 2, 2, 2], true], // 5×5; 3 quads: 1 block and 1 more
  [[3, 5, 6, 8], [1, 1], 20, [1, 1], [0, 0, 0, 0], false], // 1×1: 5 quads
  [[2, 6, 5, 1], [3, 3], 4, [1, 2], [3, 0, 0, 3], true], // padding beyond the kernel, 1 channel
  [[1, 3, 3, 8], [3, 3], 36, [1, 1], [0, 0, 0, 0], true], // one output pixel, 9 quads
  [[40, 12, 12, 16], [3, 3], 16, [1, 1], [1, 1, 1, 1], true], // many pixels: threads, blocks
  [[3, 8, 8, 12], [3, 2], 8, [2, 1], [0, 1, 1, 0], false], // a 3×2 kernel, uneven strides
  [[1, 2, 2, 3], [3, 3], 4, [1, 1], [1, 1, 1, 1], true], // a kernel wider than the image
];

function checkAll(): void {
  for (const [shape, kernel, cout, strides, pad, withBias] of cases) {
    const s = geometry(shape, kernel, cout, strides, pad);
    assert(convGemmReady(s), `not ready for ${JSON.stringify(s)}`);
    const size = shape.reduce((a, b) => a * b);
    const x = lcgValues(size, 3), k = lcgValues(kernel[0] * kernel[1] * shape[3] * cout, 5);
    const bias = withBias ? lcgValues(cout, 7) : undefined;
    const want = reference(x, shape[0], s, k, bias, withBias);
    const what = `x [${shape}] ⊛ ${kernel.join("×")} → ${cout}, strides [${strides}], pad [${pad}]`;
    const runs = wasmConvGemm.runs;
    const got = direct(x, shape, k, kernel, cout, strides, pad, bias, withBias);
    assertEquals(wasmConvGemm.runs, runs + 1, what);
    assertEquals(got.shape, [shape[0], s.oh, s.ow, cout], what);
    assertAllClose(got.values, want, 1e-5, what, Math.max(largestMagnitude(want), 1));
  }
}

/**
 * Exact ties: an image of a constant background with one pattern stamped at several places
 * (two of them cut by the border): outputs whose receptive fields are equal are equal to the
 * bit, and a field of zeros gives exactly the bias.
 */
function checkTies(): void {
  const [h, w, cin, cout] = [13, 14, 3, 8];
  const x = new Float32Array(2 * h * w * cin);
  const stamp = lcgValues(3 * 3 * cin, 9);
  const at = [[1, 1], [6, 8], [9, 2], [11, 12]]; // the last one runs off the bottom-right edge
  for (let r = 0; r < 2; r++) {
    for (const [y0, x0] of at) {
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          if (y0 + i >= h || x0 + j >= w) continue;
          for (let c = 0; c < cin; c++) {
            x[((r * h + y0 + i) * w + x0 + j) * cin + c] = stamp[(i * 3 + j) * cin + c];
          }
        }
      }
    }
  }
  const k = lcgValues(9 * cin * cout, 4), bias = lcgValues(cout, 8);
  const pad = [1, 1, 1, 1];
  const got = direct(x, [2, h, w, cin], k, [3, 3], cout, [1, 1], pad, bias, false).values;
  // group the outputs by their receptive field's values; each group must hold one bit pattern
  const fields = new Map<string, number[]>();
  for (let r = 0; r < 2; r++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const field: number[] = [];
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            const iy = y + i - 1, ix = xx + j - 1;
            for (let c = 0; c < cin; c++) {
              field.push(
                iy < 0 || iy >= h || ix < 0 || ix >= w ? 0 : x[((r * h + iy) * w + ix) * cin + c],
              );
            }
          }
        }
        const key = field.join(",");
        fields.set(key, [...(fields.get(key) ?? []), (r * h + y) * w + xx]);
      }
    }
  }
  let repeated = 0;
  for (const [key, pixels] of fields) {
    if (pixels.length > 1) repeated++;
    for (let o = 0; o < cout; o++) {
      const first = got[pixels[0] * cout + o];
      for (const p of pixels) assertEquals(got[p * cout + o], first, `field ${key}, channel ${o}`);
      if (key.split(",").every((v) => v === "0")) assertEquals(first, bias[o]);
    }
  }
  assert(repeated >= 20, `only ${repeated} repeated fields`);
}

Deno.test("the direct conv equals a float64 brute-force conv on wasm, exact ties kept", async (t) => {
  const s = geometry([1, 5, 5, 4], [3, 3], 8, [1, 1], [0, 0, 0, 0]);
  assertEquals(convGemmReady(s), false); // only on wasm
  await tf.setBackend("wasm");
  try {
    await t.step("kernel sizes, strides, padding, channels, bias, ReLU", checkAll);
    await t.step("blocks of 4 pixels: blocks end inside rows and images", () => {
      withSettings(wasmConvGemm, { blockBytes: 1 }, checkAll);
    });
    await t.step("without relaxed SIMD's multiply-add", () => {
      withSettings(wasmConvGemm, { fma: false }, checkAll);
    });
    await t.step("im2col tap by tap instead of a row at once", () => {
      withSettings(wasmConvGemm, { rowCopies: false }, checkAll);
    });
    await t.step("a row copied at once or tap by tap: the same bits", () => {
      for (const [shape, kernel, cout, strides, pad] of cases) {
        if (shape[3] % 4 === 0) continue; // whole vectors a tap: no row copies
        const x = lcgValues(shape.reduce((a, b) => a * b), 11);
        const k = lcgValues(kernel[0] * kernel[1] * shape[3] * cout, 12);
        const rows = direct(x, shape, k, kernel, cout, strides, pad).values;
        let taps: Float32Array = new Float32Array();
        withSettings(wasmConvGemm, { rowCopies: false }, () => {
          taps = direct(x, shape, k, kernel, cout, strides, pad).values;
        });
        assertEquals(Array.from(rows), Array.from(taps), `x [${shape}] ⊛ ${kernel.join("×")}`);
      }
    });
    await t.step("equal receptive fields give equal bits", checkTies);
    await t.step("which shapes it takes; refusals name the values", () => {
      assert(convGemmApplies(s));
      assertEquals(convGemmApplies({ ...s, cout: 6 }), false); // not a multiple of 4
      assertEquals(convGemmApplies({ ...s, cin: 10 }), false); // > 8, not a multiple of 4
      assert(convGemmApplies({ ...s, cin: 7 }));
      assertEquals(convGemmApplies({ ...s, kh: 8, kw: 8 }), false); // more than 49 taps
      withSettings(wasmConvGemm, { enabled: false }, () => assertEquals(convGemmApplies(s), false));
      assertThrows(
        () =>
          direct(lcgValues(75, 1), [1, 5, 5, 3], lcgValues(27 * 6, 2), [3, 3], 6, [1, 1], [
            0,
            0,
            0,
            0,
          ]),
        Error,
        `${CONV_GEMM}: cannot run a conv of {"h":5,"w":5,"cin":3,"cout":6`,
      );
    });
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("the direct conv on threaded wasm splits pixels between threads, same bits", async () => {
  await tf.setBackend("wasm");
  const [shape, kernel, cout, strides, pad] = [[40, 12, 12, 16], [3, 3], 16, [1, 1], [1, 1, 1, 1]];
  const x = lcgValues(40 * 12 * 12 * 16, 3), k = lcgValues(9 * 16 * 16, 5);
  const single = direct(x, shape, k, kernel, cout, strides, pad).values;
  await onThreadedWasm("wasm-conv-gemm-t2", () => {
    checkAll();
    const split = direct(x, shape, k, kernel, cout, strides, pad).values;
    assertEquals(Array.from(split), Array.from(single));
  });
});

Deno.test("the training kernels run Conv2D and FusedConv2D by the direct conv outside Winograd", async () => {
  registerWasmTrainingKernels();
  const run = () => {
    const x = tf.tensor4d(lcgValues(2 * 9 * 10 * 3, 21), [2, 9, 10, 3]);
    const w = tf.tensor4d(lcgValues(27 * 12, 22), [3, 3, 3, 12]);
    const b = tf.tensor1d(lcgValues(12, 23));
    return [
      tf.conv2d(x, w, 2, "same"),
      tf.fused.conv2d({ x, filter: w, strides: 1, pad: "valid", bias: b, activation: "relu" }),
      tf.conv2d(x, w.slice([0, 0, 0, 0], [3, 3, 3, 6]), 1, "valid"), // 6 outputs: tfjs's kernel
    ];
  };
  const values = async (backend: string) => {
    await tf.setBackend(backend);
    const outs = tf.tidy(run);
    const v = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return v;
  };
  const cpu = await values("cpu");
  const runs = wasmConvGemm.runs;
  const wasm = await values("wasm");
  await tf.setBackend("cpu");
  assertEquals(wasmConvGemm.runs - runs, 2);
  cpu.forEach((c, i) => assertAllClose(wasm[i], c, 1e-5, `output ${i}`, largestMagnitude(c)));
});
