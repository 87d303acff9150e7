/**
 * largeCNN's first conv (3 → 96 channels, 3×3, on 32×32) transposed through its ReLU for `rows`
 * rows of gradients, the two ways the WebGPU engine can: a sign pass, then the col2im product
 * (3 columns, depth 864: the rule before taps, and still the software adapters' rule), against
 * taps (a product of 27 columns, depth 96, reading through the ReLU's codes, then each input
 * pixel's taps summed: kernels/conv_taps.ts). Each way is timed as one submit, the median of 5
 * after a warm-up; the two outputs must agree within 1e-5 of the largest value (else exit 1).
 *
 * `deno run -A bench/conv_taps_bench.ts [rows] [--hw]`: `--hw` runs the products in the tiles a
 * GPU gets (a software adapter's are direct, one invocation an output). On a software adapter the
 * timings say how the two compare there only.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { foldedLayers } from "../lib/network/folded_layers.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { Recorder } from "../lib/backend/webgpu/run.ts";
import { readBack } from "../lib/backend/webgpu/_gpu.ts";
import { conv2dTransposeGemm, transposedConvKernel } from "../lib/backend/webgpu/kernels/conv2d.ts";
import {
  convTapsGemm,
  convTapsKernel,
  convTapsSumShader,
} from "../lib/backend/webgpu/kernels/conv_taps.ts";
import { signMaskedShader } from "../lib/backend/webgpu/kernels/sign.ts";
import type { Conv2DLayer, ReluLayer } from "../lib/network/spline_network.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();
if (gpu === null) throw new Error("conv_taps_bench: no WebGPU adapter");
const hw = Deno.args.includes("--hw");
const ctx = hw ? { ...gpu, isFallback: false } : gpu;
const rows = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 40);
if (!Number.isInteger(rows) || rows < 1) {
  throw new RangeError(`conv_taps_bench: rows ${rows}, expected a positive integer`);
}
const model = largeCNN({ seed: 1 });
const [conv, relu] = foldedLayers(fromLayersModel(model)) as [Conv2DLayer, ReluLayer];
if (conv.kind !== "conv2d" || relu.kind !== "relu") {
  throw new Error("conv_taps_bench: largeCNN's folded layers should start conv → ReLU");
}
const units = conv.outputShape.reduce((a, b) => a * b);
const inSize = conv.inputShape.reduce((a, b) => a * b);
const g = Float32Array.from({ length: rows * units }, (_, i) => Math.sin(i * 0.37));
const bits = Uint32Array.from(
  { length: rows * Math.ceil(units / 32) },
  (_, i) => Math.imul(i + 1, 2654435761) >>> 0,
);

/** The median time of 5 submits (after one warm-up) of `record`, and its output. */
async function time(
  record: (rec: Recorder, g: GPUBuffer, codes: GPUBuffer, y: GPUBuffer) => void,
): Promise<{ ms: number; y: Float32Array }> {
  const ms: number[] = [];
  let y = new Float32Array(0);
  for (let rep = 0; rep < 6; rep++) {
    const rec = new Recorder(ctx, "conv taps bench");
    try {
      const gb = rec.upload(g, "g"), cb = rec.upload(bits, "codes");
      const yb = rec.buffer(rows * inSize, "y");
      await ctx.device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      record(rec, gb, cb, yb);
      rec.submit();
      await ctx.device.queue.onSubmittedWorkDone();
      if (rep > 0) ms.push(performance.now() - t0);
      if (rep === 5) {
        y = new Float32Array((await readBack(ctx, [{ buffer: yb, bytes: rows * inSize * 4 }]))[0]);
      }
    } finally {
      rec.release();
    }
  }
  return { ms: ms.sort((a, b) => a - b)[2], y };
}

const upload = (rec: Recorder, v: Float64Array) => rec.upload(Float32Array.from(v), "weights");
const col2im = await time((rec, gb, cb, y) => {
  const masked = rec.buffer(rows * units, "masked");
  rec.run(signMaskedShader(relu), [gb, cb, masked], { rows, perRow: units });
  const w = upload(rec, transposedConvKernel(conv));
  rec.gemm(conv2dTransposeGemm(conv), [masked, w, rec.upload(new Float32Array(1), "b"), y], {
    rows,
  });
});
const taps = await time((rec, gb, cb, y) => {
  const spec = convTapsGemm(conv, { sign: { slope: 0 } });
  const t = rec.buffer(rows * spec.mPerRow * spec.n, "taps");
  const w = upload(rec, convTapsKernel(conv));
  rec.gemm(spec, [gb, cb, w, rec.upload(new Float32Array(1), "b"), t], { rows });
  rec.run(convTapsSumShader(conv), [t, y], { rows, perRow: inSize });
});
let diff = 0, largest = 0;
for (let i = 0; i < col2im.y.length; i++) {
  diff = Math.max(diff, Math.abs(col2im.y[i] - taps.y[i]));
  largest = Math.max(largest, Math.abs(col2im.y[i]));
}
const ok = diff <= 1e-5 * largest;
console.log(
  `${ctx.adapterName}, ${
    hw ? "a GPU's tiled products" : "the adapter's products"
  }, ${rows} rows: ` +
    `sign pass + col2im product ${col2im.ms.toFixed(1)} ms, taps ${taps.ms.toFixed(1)} ms ` +
    `(${(col2im.ms / taps.ms).toFixed(2)}×); outputs ${ok ? "agree" : "DIFFER"} (${
      (diff / largest).toExponential(1)
    } of the largest value)`,
);
model.dispose();
if (!ok) Deno.exit(1);
