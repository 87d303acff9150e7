/**
 * One Adam update (`tf.train.adam`, masokit's fused `MasokitAdamUpdate` on tfjs-wasm) of a
 * variable of largeCNN's 192 → 192 filter shape and of smallCNN's 32 → 64 one, with the SIMD
 * update (lib/train/_wasm_adam_simd.ts) and with the JS loop, alternating; also tfjs's own ops
 * (`registerWasmTrainingKernels({ fuseAdam: false })`). The three give the same weights bit for
 * bit (checked here after each run's first update).
 *
 * Run: `deno run -A bench/wasm_adam_bench.ts [--reps=30] [--rounds=2]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";
import { registerWasmTrainingKernels } from "../lib/train/wasm_kernels.ts";
import { wasmAdamSimd } from "../lib/train/_wasm_adam_simd.ts";

const arg = (name: string, fallback: number) => {
  const a = Deno.args.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
};
const REPS = arg("reps", 30), ROUNDS = arg("rounds", 2);
tf.env().set("PROD", true);
const choice = await selectBackend({ prefer: "wasm", wasmThreads: 2 });

const modes: [string, () => void][] = [
  ["SIMD (default)", () => {
    registerWasmTrainingKernels();
    wasmAdamSimd.enabled = true;
  }],
  ["fused, JS loop", () => {
    registerWasmTrainingKernels();
    wasmAdamSimd.enabled = false;
  }],
  ["tfjs's ops", () => registerWasmTrainingKernels({ fuseAdam: false })],
];
console.log(`Adam update, ms a call, median of ${REPS} × ${ROUNDS} rounds; ${choice.reason}`);
console.log(`| variable | ${modes.map(([m]) => m).join(" | ")} |`);
console.log(`| --- | ${modes.map(() => "---").join(" | ")} |`);
for (const shape of [[3, 3, 192, 192], [3, 3, 32, 64]]) {
  const init = tf.randomNormal(shape, 0, 1, "float32", 1);
  const g = tf.randomNormal(shape, 0, 1, "float32", 2);
  const times = modes.map(() => [] as number[]);
  let first: Float32Array | null = null;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [label, set]] of modes.entries()) {
      set();
      const w = tf.variable(init.clone());
      const opt = tf.train.adam(1e-3);
      opt.applyGradients([{ name: w.name, tensor: g }]);
      const after = w.dataSync() as Float32Array;
      if (first === null) first = after.slice();
      else if (!after.every((v, i) => Object.is(v, first![i]))) {
        throw new Error(`${label}: the first update differs from SIMD's`);
      }
      for (let i = 0; i < REPS; i++) {
        const t0 = performance.now();
        opt.applyGradients([{ name: w.name, tensor: g }]);
        times[k].push(performance.now() - t0);
      }
      w.dispose();
      opt.dispose();
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(
    `| [${shape}] (${shape.reduce((a, b) => a * b)} weights) | ${
      times.map((t) => `${median(t).toFixed(3)} ms`).join(" | ")
    } |`,
  );
  tf.dispose([init, g]);
}
registerWasmTrainingKernels();
wasmAdamSimd.enabled = true;
console.log(`load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
