/**
 * The two ways the tfjs engine on tfjs-wasm (2 threads) takes a pooled conv's transpose —
 * `MasokitPoolConvTranspose`'s scatter, or the masked pool's transpose and then the conv's
 * transpose by Winograd — on one layer at a time, against the engine's choice (`scatters()`,
 * lib/backend/tfjs/run.ts: by `scatterPays()`, lib/backend/tfjs/_wasm_conv_pool.ts, where
 * Winograd takes the transpose).
 *
 * Each shape is a network `conv 3×3 (or 1×1) → ReLU → max-pool 2 → dense(10)` on
 * `[H, H, Cin]` inputs; its templates (`affineMap`) are timed with the rule switched off
 * (`wasmConvPool.scatterRule = false`: scattered wherever the kernel applies) and with the
 * scatter switched off (`wasmConvPool.transpose = false`), alternately in the order A B B A,
 * and the medians' difference per image is the two transposes' difference (the rest of the
 * pass is the same). A batch holds about 2·10⁶ input floats. The conv's own transpose is by
 * Winograd where it takes it (3×3, ≥ 16 channels), else XNNPACK's; `ratio` is the scatter's
 * time over the other way's, `right` whether the engine's choice is the faster.
 *
 * With `--net=largeCNN` (or smallCNN) it times that network's templates end to end instead
 * (batch 8, or 64 for smallCNN), in blocks of `--runs` runs a mode — by the rule, then always
 * scattered, four blocks in turn — and prints each block's runs and median: the scatter's speed
 * depends on where the heap has put its buffers, so blocks show it where paired single runs
 * (`bench/affine_compare.ts --ab-scatter`) average it away.
 *
 * Run: `deno run -A bench/pooled_transpose_bench.ts [--runs=8]
 * [--shapes="H,Cin,Cout,k,padding;…"] [--net=largeCNN|smallCNN [--profile]]` (padding `valid`,
 * `same` or `full`; `--profile` adds one call of each mode kernel by kernel).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { wasmConvPool } from "../lib/backend/tfjs/_wasm_conv_pool.ts";
import { scatters } from "../lib/backend/tfjs/run.ts";
import type { Conv2DLayer, SplineNetwork } from "../lib/network/spline_network.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const RUNS = Number(value("runs") ?? 8);
if (!Number.isInteger(RUNS) || RUNS < 2) {
  throw new RangeError(`--runs=${value("runs")}: expected an integer ≥ 2`);
}
/** largeCNN's and smallCNN's pooled convs, 4 KiB-aligned rows, and channel counts around 32. */
const DEFAULT_SHAPES = "34,96,96,3,full;18,192,192,3,valid;6,192,192,1,valid;15,32,64,3,valid;" +
  "6,64,128,1,valid;32,32,32,3,valid;31,32,32,3,valid;16,96,96,3,valid;17,96,96,3,valid;" +
  "45,16,16,3,valid;32,16,16,3,valid;23,64,64,3,valid;15,48,48,3,valid;9,192,192,3,valid";
const shapes = (value("shapes") ?? DEFAULT_SHAPES).split(";").filter(Boolean).map((spec) => {
  const [h, cin, cout, k, padding] = spec.split(",");
  const nums = [h, cin, cout, k].map(Number);
  if (
    !nums.every((v) => Number.isInteger(v) && v > 0) || !["valid", "same", "full"].includes(padding)
  ) {
    throw new RangeError(
      `--shapes: "${spec}": expected H,Cin,Cout,k,padding (valid, same or full)`,
    );
  }
  return { h: nums[0], cin: nums[1], cout: nums[2], k: nums[3], padding };
});

const r = await enableWasmThreads({ threads: 2, backendName: "wasm-t2" });
if (!r.enabled) console.error(`threaded wasm unavailable: ${r.reason}`);
await tf.setBackend(r.enabled ? "wasm-t2" : "wasm");

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** One call of the templates (and offsets) on the tfjs engine, the result read. */
function templates(net: SplineNetwork, x: tf.Tensor): void {
  const { A, B } = affineMap(net, x, { backend: "tfjs" });
  A.dataSync();
  tf.dispose([A, B]);
}

/** `--net`: the network's templates in blocks of `RUNS` runs a mode, then (`--profile`) kernels. */
async function networkBlocks(name: string, profile: boolean): Promise<void> {
  const NETWORKS = { smallCNN, largeCNN } as const;
  if (!(name in NETWORKS)) throw new RangeError(`--net=${name}: expected smallCNN or largeCNN`);
  const net = fromLayersModel(NETWORKS[name as keyof typeof NETWORKS]({ seed: 1 }));
  const batch = name === "largeCNN" ? 8 : 64;
  const x = tf.randomUniform([batch, 32, 32, 3], -1, 1);
  const label = (rule: boolean) => rule ? "by the rule" : "always scattered";
  console.log(`${name}, batch ${batch}, templates on ${tf.getBackend()} (img/s), blocks in turn:`);
  for (let block = 0; block < 4; block++) {
    const rule = block % 2 === 0;
    wasmConvPool.scatterRule = rule;
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      templates(net, x);
      rates.push(batch / ((performance.now() - t0) / 1000));
    }
    console.log(
      `- ${label(rule)}: ${rates.map((v) => v.toFixed(1)).join(", ")} (median ${
        median(rates).toFixed(2)
      })`,
    );
  }
  // one call of each mode kernel by kernel (tf.profile: each kernel's wall time, run alone)
  for (const rule of profile ? [true, false] : []) {
    wasmConvPool.scatterRule = rule;
    const info = await tf.profile(() => templates(net, x));
    const byName = new Map<string, [number, number]>();
    for (const k of info.kernels) {
      if (k.name.endsWith("__op")) continue; // a fused op's wrapper: its kernel is listed too
      const [ms, calls] = byName.get(k.name) ?? [0, 0];
      byName.set(k.name, [ms + Number(k.kernelTimeMs), calls + 1]);
    }
    const total = [...byName.values()].reduce((t, [ms]) => t + ms, 0);
    const top = [...byName].sort((a, b) => b[1][0] - a[1][0]).slice(0, 6);
    console.log(
      `- kernels, ${label(rule)}: ${total.toFixed(0)} ms; ${
        top.map(([k, [ms, calls]]) => `${k} ${ms.toFixed(0)} ms / ${calls}`).join(", ")
      }`,
    );
  }
  wasmConvPool.scatterRule = true;
  x.dispose();
}

/** The table: each shape's two ways, in the order A B B A, against the engine's choice. */
function layerTable(): void {
  console.log(
    `tfjs engine on ${tf.getBackend()}, templates of conv → ReLU → max-pool 2 → dense(10):`,
  );
  console.log(
    "| conv input → Cout, k, padding | batch | scatter (ms/img) | masked pool + transpose (ms/img) | ratio | engine scatters | right |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const { h, cin, cout, k, padding } of shapes) {
    const layers: tf.layers.Layer[] = [];
    const inputShape = [h, h, cin];
    if (padding === "full") {
      layers.push(tf.layers.zeroPadding2d({ inputShape, padding: k - 1 }));
    }
    layers.push(
      tf.layers.conv2d({
        ...(padding === "full" ? {} : { inputShape }),
        filters: cout,
        kernelSize: k,
        padding: padding === "same" ? "same" : "valid",
        activation: "relu",
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10 }),
    );
    const model = tf.sequential({ layers });
    const net = fromLayersModel(model);
    // the conv's input as the engine sees it
    const conv = net.layers.find((l): l is Conv2DLayer => l.kind === "conv2d")!;
    const batch = Math.max(2, Math.round(2e6 / (h * h * cin)));
    const x = tf.randomUniform([batch, h, h, cin], -1, 1);
    const modes = {
      scatter: () => Object.assign(wasmConvPool, { transpose: true, scatterRule: false }),
      winograd: () => Object.assign(wasmConvPool, { transpose: false, scatterRule: true }),
    };
    const times: Record<keyof typeof modes, number[]> = { scatter: [], winograd: [] };
    for (const set of Object.values(modes)) {
      set();
      templates(net, x); // warm-up: kernels compiled, constants made
    }
    const order = ["scatter", "winograd", "winograd", "scatter"] as const;
    for (let i = 0; i < 2 * RUNS; i++) {
      const mode = order[i % 4];
      modes[mode]();
      const t0 = performance.now();
      templates(net, x);
      times[mode].push(performance.now() - t0);
    }
    Object.assign(wasmConvPool, { transpose: true, scatterRule: true });
    const sc = median(times.scatter) / batch, w = median(times.winograd) / batch;
    const pays = scatters(conv);
    console.log(
      `| [${conv.inputShape}] → ${cout}, ${k}×${k}, ${padding} | ${batch} | ${sc.toFixed(2)} | ${
        w.toFixed(2)
      } | ${(sc / w).toFixed(2)} | ${pays} | ${pays === sc < w ? "yes" : "no"} |`,
    );
    x.dispose();
    model.dispose();
  }
}

const NET = value("net"), PROFILE = Deno.args.includes("--profile");
if (PROFILE && NET === undefined) {
  throw new RangeError("--profile: profiles a network's templates, so it needs --net=…");
}
if (NET !== undefined) await networkBlocks(NET, PROFILE);
else layerTable();
