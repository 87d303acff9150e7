/**
 * tfjs `wasm` single-threaded (stock SIMD build) vs the threaded SIMD build with 1 and 2
 * XNNPACK threads (lib/backend/wasm_threads.ts), side by side in one process: a big conv2d
 * ([64,32,32,32] ∗ 3×3×32→64, "same"), its input and filter gradients (masokit's training
 * kernels), and the spline engine's `affineMap` of a smallCNN on wasm. Median ms of `--reps`.
 *
 * Run: `deno run -A bench/wasm_threads_bench.ts [--reps=7]`
 *
 * For the whole training step, preload the opt-in:
 * `MASOKIT_WASM_THREADS=2 deno run -A --preload lib/backend/_wasm_threads_preload.ts
 * bench/train_step_bench.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import { registerWasmTrainingKernels } from "../lib/train/wasm_kernels.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { affineMap } from "../lib/affine/affine_map.ts";

const repsArg = Deno.args.find((a) => a.startsWith("--reps="));
const REPS = repsArg ? Number(repsArg.split("=")[1]) : 7;

registerWasmTrainingKernels();
for (const threads of [1, 2]) {
  const r = await enableWasmThreads({ threads, backendName: `wasm-t${threads}` });
  if (!r.enabled) throw new Error(r.reason);
}

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const X = values(64 * 32 * 32 * 32, 1), W = values(3 * 3 * 32 * 64, 2);
const IMG = values(8 * 32 * 32 * 3, 3);

async function median(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const run = async () => {
    const t0 = performance.now();
    const out = fn();
    const all = Array.isArray(out) ? out : [out];
    await Promise.all(all.map((t) => t.data()));
    const ms = performance.now() - t0;
    tf.dispose(all);
    return ms;
  };
  await run(); // warm-up (XNNPACK operator creation)
  const ts: number[] = [];
  for (let i = 0; i < REPS; i++) ts.push(await run());
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

const rows: Record<string, Record<string, number>> = {};
await tf.setBackend("cpu");
const model = smallCNN({ seed: 1 });
const net = fromLayersModel(model);
for (const backend of ["wasm", "wasm-t1", "wasm-t2"]) {
  await tf.setBackend(backend);
  const x = tf.tensor4d(X, [64, 32, 32, 32]), w = tf.tensor4d(W, [3, 3, 32, 64]);
  const img = tf.tensor4d(IMG, [8, 32, 32, 3]);
  const dy = tf.conv2d(x, w, 1, "same");
  rows[backend] = {
    "conv2d fwd": await median(() => tf.conv2d(x, w, 1, "same")),
    "conv2d dx": await median(() => tf.conv2dTranspose(dy, w, [64, 32, 32, 32], 1, "same")),
    "conv2d dW": await median(() =>
      tf.grad((f) => tf.conv2d(x, f as tf.Tensor4D, 1, "same").mul(dy).sum())(w)
    ),
    "affineMap smallCNN ×8": await median(() => {
      const m = affineMap(net, img, { backend: "tfjs" });
      return [m.A, m.B] as tf.Tensor[];
    }),
  };
  tf.dispose([x, w, img, dy]);
}

const ops = Object.keys(rows.wasm);
console.log(`median ms over ${REPS} runs (${navigator.hardwareConcurrency} logical cores)`);
console.log(["op", "stock wasm", "threaded ×1", "threaded ×2", "stock / ×2"].join(" | "));
for (const op of ops) {
  const a = rows.wasm[op], b = rows["wasm-t1"][op], c = rows["wasm-t2"][op];
  console.log([op, a.toFixed(1), b.toFixed(1), c.toFixed(1), (a / c).toFixed(2) + "×"].join(" | "));
}
