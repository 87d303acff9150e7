import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import { smallMatMulRuns, wasmSmallMatMul } from "../../lib/train/_wasm_small_matmul.ts";
import { assert, assertAllClose, assertEquals, largestMagnitude } from "../_assert.ts";
import { fuzzRng, on } from "./_backends.ts";

registerWasmTrainingKernels();
// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** `A · B` (+ bias, ReLU) in float64, `a` `[M, K]` (or `[K, M]`), `b` `[K, N]` (or `[N, K]`). */
function reference(
  a: Float32Array,
  b: Float32Array,
  [m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  bias?: Float32Array,
  relu = false,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias?.[j] ?? 0;
      for (let p = 0; p < k; p++) {
        s += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      }
      out[i * n + j] = relu ? (s < 0 ? 0 : s) : s;
    }
  }
  return out;
}

Deno.test("small products on wasm by the generated kernel equal a float64 product", async (t) => {
  const rng = fuzzRng(41);
  // N's remainders 0–3, several blocks of 8 quads (N = 37, 70), depths 1…, rows 1…
  const shapes = [[10, 1152, 10], [1, 1, 1], [3, 7, 4], [5, 2, 37], [2, 9, 70], [7, 5, 3], [
    1152,
    10,
    10,
  ]];
  for (const [m, k, n] of shapes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      await t.step(`[${m}, ${k}] · [${k}, ${n}], transposed ${ta} ${tb}`, async () => {
        const a = rng.values(m * k), b = rng.values(k * n);
        const before = smallMatMulRuns.count;
        const [out] = await on("wasm", () => [
          tf.matMul(
            tf.tensor2d(a, ta ? [k, m] : [m, k]),
            tf.tensor2d(b, tb ? [n, k] : [k, n]),
            ta,
            tb,
          ),
        ]);
        assertEquals(smallMatMulRuns.count - before, 1, "the kernel ran");
        const ref = reference(a, b, [m, k, n], ta, tb);
        assertAllClose(out, ref, 1e-5, "product", Math.max(largestMagnitude(ref), 1));
      });
    }
  }
  await t.step(
    "a dense layer's forward pass: bias and ReLU (NaN kept), batch dims of 1",
    async () => {
      const [m, k, n] = [6, 40, 38]; // two blocks of quads and two single columns
      const a = rng.values(m * k), b = rng.values(k * n), bias = rng.values(n, { offset: 0.3 });
      a[5] = NaN; // row 0's outputs all NaN
      for (const activation of ["linear", "relu"] as const) {
        const before = smallMatMulRuns.count;
        const [out] = await on("wasm", () => [
          tf.fused.matMul({
            a: tf.tensor3d(a, [1, m, k]),
            b: tf.tensor3d(b, [1, k, n]),
            bias: tf.tensor1d(bias),
            activation,
          }),
        ]);
        assertEquals(smallMatMulRuns.count - before, 1, `the kernel ran (${activation})`);
        const ref = reference(a, b, [m, k, n], false, false, bias, activation === "relu");
        assert(out.slice(0, n).every(Number.isNaN), `row 0 NaN (${activation})`);
        assertAllClose(
          out.slice(n),
          ref.slice(n),
          1e-6,
          activation,
          largestMagnitude(ref.slice(n)),
        );
        assert(activation === "linear" || out.slice(n).every((v) => v >= 0), "ReLU");
      }
    },
  );
  await t.step(
    "larger products and other activations stay on XNNPACK",
    async () => {
      const before = smallMatMulRuns.count;
      const { maxMacs } = wasmSmallMatMul;
      wasmSmallMatMul.maxMacs = 100;
      try {
        const a = rng.values(6 * 5), b = rng.values(5 * 4);
        const run = () => [
          tf.matMul(tf.tensor2d(a, [6, 5]), tf.tensor2d(b, [5, 4])), // 120 multiply-adds
          tf.fused.matMul({
            a: tf.tensor2d(a.slice(0, 12), [3, 4]),
            b: tf.tensor2d(b.slice(0, 8), [4, 2]),
            activation: "elu",
          }),
          tf.fused.matMul({
            a: tf.tensor2d(a.slice(0, 12), [3, 4]),
            b: tf.tensor2d(b.slice(0, 8), [4, 2]),
            activation: "leakyrelu",
            leakyreluAlpha: 0.1,
          }),
        ];
        const [wasm, cpu] = [await on("wasm", run), await on("cpu", run)];
        assertEquals(smallMatMulRuns.count - before, 0);
        wasm.forEach((w, i) => assertAllClose(w, cpu[i], 1e-6, `output ${i}`, 1));
      } finally {
        wasmSmallMatMul.maxMacs = maxMacs;
      }
    },
  );
});

Deno.test("a dense layer's training gradients on wasm through the small products equal the cpu backend's", async () => {
  const rng = fuzzRng(43);
  const x = rng.values(10 * 48), w = rng.values(48 * 10), bias = rng.values(10);
  const run = () => {
    const f = (...[xx, ww, bb]: tf.Tensor[]) =>
      tf.sum(
        tf.mul(
          tf.fused.matMul({
            a: xx as tf.Tensor2D,
            b: ww as tf.Tensor2D,
            bias: bb,
            activation: "relu",
          }),
          tf.range(0, 100).reshape([10, 10]),
        ),
      );
    return tf.grads(f)([tf.tensor2d(x, [10, 48]), tf.tensor2d(w, [48, 10]), tf.tensor1d(bias)]);
  };
  const before = smallMatMulRuns.count;
  const wasm = await on("wasm", run);
  assert(smallMatMulRuns.count - before >= 3, "forward, dx and dW by the kernel");
  const cpu = await on("cpu", run);
  ["dx", "dW", "db"].forEach((what, i) =>
    assertAllClose(wasm[i], cpu[i], 1e-5, what, largestMagnitude(cpu[i]))
  );
});
