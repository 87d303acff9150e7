/**
 * One conv on tfjs-wasm: masokit's direct kernel (`convGemm`: im2col blocks + the fused
 * products, lib/backend/tfjs/_wasm_conv_gemm.ts) against tfjs-wasm's own (XNNPACK) in alternating
 * calls, on the shapes of smallCNN's training step (batch 10, its convs' forward passes) and of
 * largeCNN's recording pass (batch 8). With `--fresh-filter` each call gets a new filter tensor,
 * as a training step's convs do (XNNPACK then packs it again); by default the filter stays, as in
 * the engine's passes. Each pair checked for agreement first (relative to the largest output).
 * The times are of the kernel call alone (tfjs-wasm computes as it is called), not of reading the
 * output back.
 *
 * With `--ab-row-copies` the other arm is ours with the im2col copying tap by tap
 * (`wasmConvGemm.rowCopies` off) instead of XNNPACK.
 *
 * Run: `deno run -A bench/wasm_conv_gemm_bench.ts [--reps=15] [--fresh-filter] [--block-bytes=N]
 * [--only=TEXT] [--ab-row-copies]` (`--only`: the shapes whose label contains TEXT).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";
import { wasmConvGemm } from "../lib/backend/tfjs/_wasm_conv_gemm.ts";

const arg = (name: string, fallback: number) => {
  const a = Deno.args.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
};
const REPS = arg("reps", 15);
const FRESH = Deno.args.includes("--fresh-filter");
wasmConvGemm.blockBytes = arg("block-bytes", wasmConvGemm.blockBytes);
const ONLY = Deno.args.find((s) => s.startsWith("--only="))?.slice(7);
// --ab-row-copies: the other arm is ours with im2col copying tap by tap (`rowCopies` off)
const AB_ROWS = Deno.args.includes("--ab-row-copies");

tf.env().set("PROD", true);
const choice = await selectBackend({ prefer: "wasm", wasmThreads: 2 });

/** [x shape, kernel, cout, stride, padding, what]. */
const shapes: [
  [number, number, number, number],
  number,
  number,
  number,
  "same" | "valid",
  string,
][] = [
  [[10, 32, 32, 3], 3, 32, 1, "valid", "smallCNN conv1, batch 10"],
  [[10, 15, 15, 32], 3, 64, 1, "valid", "smallCNN conv2, batch 10"],
  [[10, 6, 6, 64], 1, 128, 1, "valid", "smallCNN conv3 (1×1), batch 10"],
  [[64, 32, 32, 3], 3, 32, 1, "valid", "smallCNN conv1, batch 64"],
  [[8, 32, 32, 3], 3, 96, 1, "same", "largeCNN conv1, batch 8"],
  [[8, 34, 34, 96], 3, 96, 1, "valid", "largeCNN conv2/3, batch 8"],
  [[8, 18, 18, 96], 3, 192, 1, "valid", "largeCNN conv4, batch 8"],
  [[8, 18, 18, 192], 3, 192, 1, "valid", "largeCNN conv5, batch 8"],
  [[8, 7, 7, 192], 1, 192, 1, "valid", "largeCNN conv8 (1×1), batch 8"],
];

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(
  `one conv (+ bias, ReLU), ours (convGemm) vs XNNPACK, alternating, median of ${REPS}; ` +
    `${
      FRESH ? "a new filter each call (training)" : "the same filter (the engine)"
    }; ${choice.reason}`,
);
console.log(
  `| conv | x → cout | ${
    AB_ROWS ? "ours, tap-by-tap im2col" : "XNNPACK"
  } | ours | ratio | G multiply-adds/s (ours) | max rel. diff |`,
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const [xs, k, co, s, pad, what] of shapes) {
  if (ONLY !== undefined && !what.includes(ONLY)) continue;
  const x = tf.randomNormal(xs, 0, 1, "float32", 1);
  const w0 = tf.randomNormal([k, k, xs[3], co], 0, 0.2, "float32", 2);
  const b = tf.randomNormal([co], 0, 1, "float32", 3);
  const run = (w: tf.Tensor) =>
    tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: w as tf.Tensor4D,
      strides: s,
      pad,
      bias: b,
      activation: "relu",
    });
  const time = async (ours: boolean) => {
    if (AB_ROWS) Object.assign(wasmConvGemm, { enabled: true, rowCopies: ours });
    else wasmConvGemm.enabled = ours;
    const w = FRESH ? tf.add(w0, 0) : w0;
    // tfjs-wasm runs a kernel when it is called: the time leaves out reading the output back
    const t0 = performance.now();
    const y = run(w);
    const ms = performance.now() - t0;
    const v = await y.data();
    y.dispose();
    if (FRESH) w.dispose();
    return { ms, v };
  };
  const runs0 = wasmConvGemm.runs;
  const a = await time(true), e = await time(false);
  if (wasmConvGemm.runs === runs0) throw new Error(`${what}: the kernel did not run`);
  let err = 0, scale = 0;
  for (let i = 0; i < e.v.length; i++) {
    err = Math.max(err, Math.abs(a.v[i] - e.v[i]));
    scale = Math.max(scale, Math.abs(e.v[i]));
  }
  if (!(err <= 1e-5 * scale)) throw new Error(`${what}: ours differs by ${err} (scale ${scale})`);
  const ms: [number[], number[]] = [[], []];
  for (let r = 0; r < REPS; r++) {
    ms[0].push((await time(false)).ms);
    ms[1].push((await time(true)).ms);
  }
  Object.assign(wasmConvGemm, { enabled: true, rowCopies: true });
  const [xn, ours] = ms.map(median);
  const oh = pad === "same" ? Math.ceil(xs[1] / s) : Math.ceil((xs[1] - k + 1) / s);
  const ow = pad === "same" ? Math.ceil(xs[2] / s) : Math.ceil((xs[2] - k + 1) / s);
  const macs = xs[0] * oh * ow * co * k * k * xs[3];
  console.log(
    `| ${what} | [${xs}] → ${co}, ${k}×${k}, ${pad} | ${xn.toFixed(2)} ms | ${
      ours.toFixed(2)
    } ms | ` +
      `${(xn / ours).toFixed(2)}× | ${(macs / ours / 1e6).toFixed(1)} | ${
        (err / scale).toExponential(1)
      } |`,
  );
  tf.dispose([x, w0, b]);
}
console.log(`load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
