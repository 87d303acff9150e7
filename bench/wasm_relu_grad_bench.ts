/**
 * ReLU's gradient on tfjs-wasm: masokit's one-pass kernel (`MasokitReluGrad`,
 * lib/train/_wasm_relu_grad.ts) split between threads and on one thread, against tfjs's
 * `Step` then `Multiply`, interleaved, median of `--reps`, on smallCNN's (batch 10) and largeCNN's
 * (batch 16) activations; each checked against tfjs's first, bit for bit.
 *
 * Run: `deno run -A bench/wasm_relu_grad_bench.ts [--reps=40]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";
import { wasmReluGrad } from "../lib/train/_wasm_relu_grad.ts";
import { RELU_GRAD } from "../lib/train/_fused_gradients.ts";

const reps = Number(Deno.args.find((a) => a.startsWith("--reps="))?.slice(7) ?? 40);
tf.env().set("PROD", true);
const choice = await selectBackend({ prefer: "wasm", wasmThreads: 2 });
const minSplit = wasmReluGrad.minSplitValues;
console.log(`ReLU's gradient, ms a call, median of ${reps}; ${choice.reason}`);
console.log("| activations | one pass, split | one pass, one thread | Step + Multiply |");
console.log("| --- | --- | --- | --- |");
for (const shape of [[10, 30, 30, 32], [10, 13, 13, 64], [16, 36, 36, 96], [16, 16, 16, 192]]) {
  const x = tf.randomNormal(shape, 0, 1, "float32", 1);
  const dy = tf.randomNormal(shape, 0, 1, "float32", 2);
  const fused = (split: number) => () => {
    wasmReluGrad.minSplitValues = split;
    return tf.engine().runKernel(RELU_GRAD, { x, dy }) as tf.Tensor;
  };
  const modes = [
    fused(4),
    fused(Number.POSITIVE_INFINITY),
    () => tf.tidy(() => tf.mul(dy, tf.step(x))),
  ];
  const want = modes[2]();
  for (const m of modes.slice(0, 2)) {
    const got = m();
    const [a, b] = [got.dataSync(), want.dataSync()];
    if (!a.every((v, i) => Object.is(v, b[i]))) throw new Error(`[${shape}]: differs from tfjs's`);
    got.dispose();
  }
  want.dispose();
  const times = modes.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (const [k, m] of modes.entries()) {
      const t0 = performance.now();
      m().dispose();
      times[k].push(performance.now() - t0);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  console.log(`| [${shape}] | ${times.map((t) => `${median(t).toFixed(3)} ms`).join(" | ")} |`);
  tf.dispose([x, dy]);
}
wasmReluGrad.minSplitValues = minSplit;
console.log(`load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
