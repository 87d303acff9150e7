/**
 * One stride-1 3×3 conv on tfjs-wasm (2 XNNPACK threads and masokit's helper threads): XNNPACK's
 * conv against masokit's Winograd kernel (lib/backend/tfjs/_wasm_winograd.ts) with F(2),
 * F(4) and F(6) (the fused kernel), and F(4) with XNNPACK's products over chunks of tiles (its
 * calls alternating with the fused F(4)'s), median ms of `--reps` calls after two warm-ups, and each one's largest error against a
 * float64 conv (sampled output pixels), relative to the largest output, and F(4)'s 36 products
 * `[tiles, cin] · [cin, cout]` on XNNPACK alone (their rate in multiply-adds: the rest of F(4)'s
 * time is its transforms). Shapes: largeCNN's
 * transposed passes (80 rows: 8 images × 10 classes) and forward convs, smallCNN's second conv;
 * or one given as `--shape=rows,h,cin,cout,pad`.
 *
 * Run: `deno run -A bench/wasm_winograd_bench.ts [--reps=5] [--shape=80,34,96,96,0]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import {
  wasmWinograd,
  WINOGRAD_CONV,
  winogradConvReady,
  winogradFilterValues,
} from "../lib/backend/tfjs/_wasm_winograd.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const REPS = Number(value("reps") ?? 5);
const report = await enableWasmThreads({ threads: 2, backendName: "wasm-t2" });
await tf.setBackend(report.enabled ? "wasm-t2" : "wasm");
if (!winogradConvReady([3, 3], [1, 1], 16, 16)) throw new Error("the Winograd kernel is not ready");

/**
 * Median ms of `REPS` calls of each of `fs` after two warm-ups each (the result read each time),
 * the calls alternating between them, so that a change of the machine's speed meets all alike.
 */
function times(...fs: (() => tf.Tensor)[]): number[] {
  const run = (f: () => tf.Tensor) => {
    const o = f();
    o.dataSync();
    o.dispose();
  };
  fs.forEach((f) => (run(f), run(f)));
  const ts: number[][] = fs.map(() => []);
  for (let i = 0; i < REPS; i++) {
    fs.forEach((f, k) => {
      const t0 = performance.now();
      run(f);
      ts[k].push(performance.now() - t0);
    });
  }
  return ts.map((t) => t.sort((a, b) => a - b)[REPS >> 1]);
}

/** Median ms of `REPS` calls after two warm-ups. */
const time = (f: () => tf.Tensor) => times(f)[0];

/** The largest error of `y` against float64 at 64 sampled outputs, relative to the largest. */
function error(
  y: Float32Array,
  x: Float32Array,
  k: Float64Array,
  [rows, h, cin, cout, pad]: number[],
): number {
  const oh = h + 2 * pad - 2;
  let worst = 0, big = 0;
  for (let s = 0; s < 64; s++) {
    const r = (s * 7) % rows, oy = (s * 5) % oh, ox = (s * 11) % oh, o = (s * 13) % cout;
    let v = 0;
    for (let p = 0; p < 3; p++) {
      for (let q = 0; q < 3; q++) {
        const iy = oy + p - pad, ix = ox + q - pad;
        if (iy < 0 || ix < 0 || iy >= h || ix >= h) continue;
        for (let i = 0; i < cin; i++) {
          v += x[((r * h + iy) * h + ix) * cin + i] * k[((p * 3 + q) * cin + i) * cout + o];
        }
      }
    }
    worst = Math.max(worst, Math.abs(y[((r * oh + oy) * oh + ox) * cout + o] - v));
    big = Math.max(big, Math.abs(v));
  }
  return worst / big;
}

const shapes = value("shape") !== undefined ? [value("shape")!.split(",").map(Number)] : [
  [80, 34, 96, 96, 0], // largeCNN's transposed conv3 (full padding made valid)
  [80, 18, 192, 192, 0], // transposed conv5
  [8, 32, 96, 96, 1], // forward conv2 ("same")
  [64, 15, 32, 64, 0], // smallCNN's second conv
];
console.log(`one 3×3 conv on ${tf.getBackend()}, median of ${REPS}:`);
console.log(
  "| x [rows, h, h, cin] → cout, pad | XNNPACK | F(2) | F(4) | F(6) | F(4), XNNPACK's products | F(4)'s 36 products alone on XNNPACK | error XNNPACK / F(2) / F(4) / F(6) / F(4) XNNPACK's products |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [rows, h, cin, cout, pad] of shapes) {
  const xv = tf.randomNormal([rows, h, h, cin], 0, 1, "float32", 1).dataSync() as Float32Array;
  const kv = Float64Array.from(tf.randomNormal([3, 3, cin, cout], 0, 0.1, "float32", 2).dataSync());
  const x = tf.tensor(xv, [rows, h, h, cin]) as tf.Tensor4D;
  const k = tf.tensor(Float32Array.from(kv), [3, 3, cin, cout]) as tf.Tensor4D;
  const padding: [[0, 0], [number, number], [number, number], [0, 0]] = [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
  const direct = () => tf.conv2d(x, k, 1, padding);
  const runs = [{
    ms: time(direct),
    err: error(direct().dataSync() as Float32Array, xv, kv, [rows, h, cin, cout, pad]),
  }];
  let products = "";
  let chunked = { ms: 0, err: 0 };
  for (const m of [2, 4, 6] as const) {
    const inputs: Record<string, tf.Tensor> = { x };
    winogradFilterValues(kv, cin, cout, false, m).forEach((u, xi) =>
      inputs[`u${xi}`] = tf.tensor(Float32Array.from(u), [1, 1, cin, cout])
    );
    if (m === 4) {
      // the kernel's products on their own: [1, 1, tiles, cin] · u[ξ] on XNNPACK, as it runs them
      const oh = h + 2 * pad - 2, tiles = rows * Math.ceil(oh / 4) ** 2;
      const v = tf.randomNormal([1, 1, tiles, cin], 0, 1, "float32", 3) as tf.Tensor4D;
      const us = Object.keys(inputs).filter((key) => key !== "x").map((key) => inputs[key]);
      const ms = time(() => {
        let last: tf.Tensor | null = null;
        for (const u of us) {
          last?.dispose();
          last = tf.conv2d(v, u as tf.Tensor4D, 1, "valid");
        }
        return last!;
      });
      const macs = tiles * us.length * cin * cout;
      products = `${ms.toFixed(1)} ms (${(macs / ms / 1e6).toFixed(1)} G multiply-adds/s)`;
      v.dispose();
    }
    const wino = () =>
      tf.engine().runKernel(WINOGRAD_CONV, inputs, {
        tile: m,
        relu: false,
        pad: [pad, pad, pad, pad],
      }) as tf.Tensor;
    const err = () => error(wino().dataSync() as Float32Array, xv, kv, [rows, h, cin, cout, pad]);
    if (m !== 4) runs.push({ ms: time(wino), err: err() });
    else {
      // the same with XNNPACK's products over chunks of tiles (the fused kernel's alternative),
      // calls alternating with the fused kernel's
      const withFused = (fused: boolean) => () => {
        wasmWinograd.fused = fused;
        try {
          return wino();
        } finally {
          wasmWinograd.fused = true;
        }
      };
      const [fusedMs, chunkedMs] = times(withFused(true), withFused(false));
      runs.push({ ms: fusedMs, err: err() });
      wasmWinograd.fused = false;
      try {
        chunked = { ms: chunkedMs, err: err() };
      } finally {
        wasmWinograd.fused = true;
      }
    }
    tf.dispose(Object.values(inputs).filter((t) => t !== x));
  }
  console.log(
    `| [${rows}, ${h}, ${h}, ${cin}] → ${cout}, ${pad} | ${
      runs.map((r) => `${r.ms.toFixed(1)} ms`).join(" | ")
    } | ${chunked.ms.toFixed(1)} ms | ${products} | ${
      [...runs, chunked].map((r) => r.err.toExponential(1)).join(" / ")
    } |`,
  );
  tf.dispose([x, k]);
}
