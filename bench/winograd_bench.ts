/**
 * Winograd F(m × m, 3 × 3) against the product, on the WebGPU adapter there is:
 *
 * 1. accuracy: one 3×3 conv (largeCNN's 18×18×192 → 192 by default, ReLU'd inputs, He-scaled
 *    weights), 2 rows, against float64 brute force on the same float32-rounded values;
 * 2. speed of that conv, 16 rows, best of 3 after a warm-up;
 * 3. with `--networks`: smallCNN (8 images) and largeCNN (2 images) templates and ⟨A_c, x⟩
 *    through the engine with `winograd` 4, 6, 2 and false, F(4) and F(6) with their transforms
 *    staged (and the templates' largest error against the float64 CPU reference), and with F(4) in place of the window
 *    tiles of conv → ReLU → max-pool blocks whose conv has 16+ input channels.
 *
 * On a software adapter (llvmpipe) the speeds say how the multiply-adds saved pay against the
 * transforms on a CPU, nothing of a GPU. `deno run -A bench/winograd_bench.ts [H C] [--networks]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext, webgpuHooks } from "../lib/backend/webgpu/device.ts";
import { Recorder, recordWinograd } from "../lib/backend/webgpu/run.ts";
import { readBack } from "../lib/backend/webgpu/_gpu.ts";
import { conv2dGemm } from "../lib/backend/webgpu/kernels/conv2d.ts";
import { affineMapWebGpu, innerProductsWebGpu } from "../lib/backend/webgpu/passes.ts";
import type { Conv2DLayer } from "../lib/network/spline_network.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { relativeError } from "./_relative_error.ts";

await tf.setBackend("cpu");
const ctx = await webgpuContext();
if (ctx === null) {
  console.log("no WebGPU adapter");
  Deno.exit(0);
}
const [H, C] = Deno.args.filter((a) => !a.startsWith("--")).map(Number);
const S = H || 18, CH = C || 192;

/** Seeded values in [−1, 1). */
function seeded(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const f32 = (a: Float64Array) => a.map(Math.fround);
const layer: Conv2DLayer = {
  kind: "conv2d",
  name: `conv ${S}×${S}×${CH}`,
  inputShape: [S, S, CH],
  outputShape: [S, S, CH],
  kernel: f32(seeded(9 * CH * CH, 1).map((v) => v * Math.sqrt(6 / (9 * CH)))),
  bias: f32(seeded(CH, 2).map((v) => 0.1 * v)),
  kernelSize: [3, 3],
  strides: [1, 1],
  padding: [1, 1, 1, 1],
};

/** The conv of `rows` rows of `x`: by the product (`m` 0) or Winograd F(m). */
async function conv(x: Float32Array, rows: number, m: 0 | 2 | 4 | 6): Promise<Float32Array> {
  const rec = new Recorder(ctx!, "winograd bench");
  try {
    const out = rows * S * S * CH;
    const y = rec.buffer(out, "y");
    const xb = rec.upload(x, "x");
    if (m === 0) {
      const w = rec.upload(Float32Array.from(layer.kernel), "w");
      const b = rec.upload(Float32Array.from(layer.bias!), "b");
      rec.gemm(conv2dGemm(layer, true), [xb, w, b, y], { rows });
    } else {
      webgpuHooks.winograd = m;
      // one slice: a budget of the whole temporaries
      const slices = recordWinograd(rec, layer, {
        inputs: [xb],
        y,
        rows,
        rowFloats: Infinity,
        bias: true,
      });
      if (slices !== 1) throw new Error(`Winograd did not run (${slices} slices)`);
    }
    rec.submit();
    const [data] = await readBack(ctx!, [{ buffer: y, bytes: out * 4 }]);
    return new Float32Array(data);
  } finally {
    delete webgpuHooks.winograd;
    rec.release();
  }
}

const name = (m: 0 | 2 | 4 | 6) => m === 0 ? "product" : `Winograd F(${m} × ${m}, 3 × 3)`;
console.log(`adapter: ${ctx.adapterName}; ${layer.name} → ${CH}, same padding`);

// 1. accuracy against float64 on the float32 values
const rows = 2;
const x = Float32Array.from(seeded(rows * S * S * CH, 3).map((v) => Math.max(0, v)));
const want = new Float64Array(rows * S * S * CH);
for (let r = 0; r < rows; r++) {
  for (let oy = 0; oy < S; oy++) {
    for (let ox = 0; ox < S; ox++) {
      const o = ((r * S + oy) * S + ox) * CH;
      for (let co = 0; co < CH; co++) want[o + co] = layer.bias![co];
      for (let t = 0; t < 9; t++) {
        const iy = oy + Math.floor(t / 3) - 1, ix = ox + (t % 3) - 1;
        if (iy < 0 || iy >= S || ix < 0 || ix >= S) continue;
        for (let ci = 0; ci < CH; ci++) {
          const v = x[((r * S + iy) * S + ix) * CH + ci], k = (t * CH + ci) * CH;
          for (let co = 0; co < CH; co++) want[o + co] += v * layer.kernel[k + co];
        }
      }
    }
  }
}
const top = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
for (const m of [0, 2, 4, 6] as const) {
  const got = await conv(x, rows, m);
  let most = 0, sq = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    most = Math.max(most, d);
    sq += d * d;
  }
  console.log(
    `${name(m)}: largest error ${(most / top).toExponential(2)}, RMS ${
      (Math.sqrt(sq / got.length) / top).toExponential(2)
    } of the largest output`,
  );
}

// 2. speed of the conv
const R = 16, xs = Float32Array.from(seeded(R * S * S * CH, 9));
for (const m of [0, 2, 4, 6] as const) {
  let best = Infinity;
  for (let rep = 0; rep < 4; rep++) {
    const t0 = performance.now();
    await conv(xs, R, m);
    if (rep > 0) best = Math.min(best, performance.now() - t0);
  }
  console.log(`${name(m)}: ${R} rows in ${best.toFixed(1)} ms (best of 3, read back included)`);
}

// 3. the engine on smallCNN and largeCNN
if (Deno.args.includes("--networks")) {
  for (const [arch, n] of [["smallCNN", 8], ["largeCNN", 2]] as const) {
    const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
    const net = fromLayersModel(model);
    const xn = Float64Array.from({ length: n * net.inputSize }, (_, i) => Math.sin(i * 12.9898));
    const ref = affineMap(net, { data: xn, shape: [n, ...net.inputShape] }, { backend: "cpu" });
    const settings = [
      { name: "winograd 4", hooks: { winograd: 4 } },
      { name: "winograd 4, staged transforms", hooks: { winograd: 4, winogradStaged: true } },
      { name: "winograd 6", hooks: { winograd: 6 } },
      { name: "winograd 6, staged transforms", hooks: { winograd: 6, winogradStaged: true } },
      { name: "winograd 2", hooks: { winograd: 2 } },
      { name: "winograd false", hooks: { winograd: false } },
      { name: "winograd 4 instead of wide window tiles", hooks: { windowTiles: "narrow" } },
    ] as const;
    for (const { name, hooks } of settings) {
      Object.assign(webgpuHooks, hooks);
      let tA = Infinity, tI = Infinity, errA = 0;
      for (let rep = 0; rep < 3; rep++) {
        let t0 = performance.now();
        const { A } = await affineMapWebGpu(ctx, net, { x: xn, n });
        errA = relativeError(A, ref.A.data);
        if (rep > 0) tA = Math.min(tA, performance.now() - t0);
        t0 = performance.now();
        await innerProductsWebGpu(ctx, net, { x: xn, n });
        if (rep > 0) tI = Math.min(tI, performance.now() - t0);
      }
      delete webgpuHooks.winograd;
      delete webgpuHooks.winogradStaged;
      delete webgpuHooks.windowTiles;
      console.log(
        `${arch}, ${name}: templates ${(n / tA * 1000).toFixed(2)} img/s, <A_c, x> ${
          (n / tI * 1000).toFixed(2)
        } img/s (${n} images, best of 2 after a warm-up); A within ${
          errA.toExponential(2)
        } of the float64 reference's largest entry`,
      );
    }
    model.dispose();
  }
}
