import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import { wasmPointwiseFilterGrad } from "../../lib/train/_wasm_pointwise_filter_grad.ts";
import { activeWasmBackend } from "../../lib/backend/_wasm_ops.ts";
import { heapThreadStats } from "../../lib/backend/_heap_threads.ts";
import { lcgValues, onThreadedWasm } from "../_threads.ts";
import { assert, assertAllClose, assertEquals, largestMagnitude } from "../_assert.ts";
import { on } from "./_backends.ts";

await tf.ready();
registerWasmTrainingKernels(); // before the threaded backend starts: it copies wasm's kernels
await tf.setBackend("cpu");

/** A 1×1 conv's filter gradient through `tf.grad` (a non-uniform loss), for [n, h, w, c] → co. */
function filterGrad([n, h, w, c, co]: number[], seed: number): () => tf.Tensor[] {
  const xv = lcgValues(n * h * w * c, seed), wv = lcgValues(c * co, seed + 1);
  const lv = lcgValues(n * h * w * co, seed + 2);
  return () => {
    const x = tf.tensor4d(xv, [n, h, w, c]);
    const loss = (f: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, "valid"), tf.tensor(lv, [n, h, w, co])));
    return [tf.grad(loss)(tf.tensor4d(wv, [1, 1, c, co]))];
  };
}

// smallCNN's third layer at batch 10 (8 parts), a single part, output channels not a multiple of
// 8 (the products' last block of 4), and enough positions for all 8 parts
const shapes = [[10, 6, 6, 64, 128], [3, 5, 7, 4, 4], [2, 9, 9, 20, 12], [16, 12, 12, 32, 36]];

/** Runs each shape on `backend` with the kernel on and off against tfjs-cpu (float64 sums). */
async function againstCpu(backend: string) {
  for (const [i, shape] of shapes.entries()) {
    const f = filterGrad(shape, 10 * i + 1);
    const [cpu] = await on("cpu", f);
    const scale = largestMagnitude(cpu);
    assert(scale > 0, `${shape}: dW is all zeros`);
    for (const enabled of [true, false]) {
      wasmPointwiseFilterGrad.enabled = enabled;
      const runs = wasmPointwiseFilterGrad.runs;
      try {
        const [wasm] = await on(backend, f);
        assertAllClose(wasm, cpu, 2e-6, `${shape} on ${backend} (kernel ${enabled})`, scale);
        assertEquals(wasmPointwiseFilterGrad.runs - runs, enabled ? 1 : 0, `${shape}: runs`);
      } finally {
        wasmPointwiseFilterGrad.enabled = true;
      }
    }
  }
}

Deno.test("a 1×1 conv's filter gradient by the products' kernel equals tfjs-cpu on wasm", async () => {
  await againstCpu("wasm");
});

Deno.test("a 1×1 conv's filter gradient split between helper threads equals tfjs-cpu", async () => {
  let threaded = "";
  await onThreadedWasm("wasm-pointwise-test", () => {
    threaded = tf.getBackend();
    assert(activeWasmBackend() !== null, "the threaded backend is not a tfjs-wasm one");
  });
  const parts = heapThreadStats.helperParts;
  await againstCpu(threaded);
  assert(heapThreadStats.helperParts > parts, "no part ran on a helper thread");
});

Deno.test("the kernel leaves a padded, strided or odd-channel 1×1 conv to the other paths", async () => {
  const cases: [string, () => tf.Tensor[]][] = [
    ["padded", () => {
      const x = tf.tensor4d(lcgValues(2 * 4 * 4 * 8, 5), [2, 4, 4, 8]);
      const f = tf.tensor4d(lcgValues(8 * 8, 6), [1, 1, 8, 8]);
      return [tf.grad((k) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 1, 1)))(f)];
    }],
    ["strided", () => {
      const x = tf.tensor4d(lcgValues(2 * 5 * 5 * 8, 7), [2, 5, 5, 8]);
      const f = tf.tensor4d(lcgValues(8 * 8, 8), [1, 1, 8, 8]);
      return [tf.grad((k) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 2, "valid")))(f)];
    }],
    ["3 input channels", () => {
      const x = tf.tensor4d(lcgValues(2 * 4 * 4 * 3, 9), [2, 4, 4, 3]);
      const f = tf.tensor4d(lcgValues(3 * 8, 10), [1, 1, 3, 8]);
      return [tf.grad((k) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 1, "valid")))(f)];
    }],
  ];
  for (const [name, f] of cases) {
    const [cpu] = await on("cpu", f);
    const runs = wasmPointwiseFilterGrad.runs;
    const [wasm] = await on("wasm", f);
    assertEquals(wasmPointwiseFilterGrad.runs, runs, `${name}: the kernel ran`);
    assertAllClose(wasm, cpu, 2e-6, name, largestMagnitude(cpu));
  }
});
