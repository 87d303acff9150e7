/**
 * The spline engine on the paper's smallCNN (32×32×3, batch-norm folded, 10 classes),
 * batch 64 — or with `--net=largeCNN` its largeCNN, batch 16 (`--batch=N` sets it) — in
 * images/s: all 10 templates and offsets (`affineMap`) and ⟨A[x]_c, x⟩ for
 * all c (`templateInnerProducts`), for
 * - the float64 CPU reference (`backend: "cpu"`),
 * - the tfjs engine on tfjs-wasm, stock (one thread) and threaded with 2 XNNPACK threads
 *   (`enableWasmThreads`), side by side in one process,
 * - with `--peer`, PyTorch 1.13 on 2 threads in the same run (bench/_peer_affine.py):
 *   `vmap(jacrev(f))` for all templates, one JVP for ⟨A_c, x⟩.
 *
 * - with `--ab-pool`, paired rounds on the 2-thread backend with the wasm max-pool kernels
 *   (lib/backend/tfjs/_wasm_masked_max_pool.ts) with their SIMD bodies, with their JS loop,
 *   and off (the generic mask/mul path); with `--ab-relu`, the ReLU recorded as its output
 *   with the sign-mask kernel (lib/backend/tfjs/_wasm_sign_mask.ts) and as Step/Multiply slopes;
 *   with `--ab-few`, the transposed first layer with masokit's few-outputs kernel
 *   (lib/backend/tfjs/_wasm_conv_few_outputs.ts) and with XNNPACK's conv; with `--ab-fused`,
 *   conv → ReLU → pool as the fused gathering / scattering kernels
 *   (lib/backend/tfjs/_wasm_conv_pool.ts) and as conv + masked pool; with `--ab-tiles`, the first
 *   layer's pooled transpose as window tiles and as masked pool + conv; with `--ab-scatter`, a
 *   pooled conv's transpose scattered only where `scatterPays` says so and wherever the
 *   scattering kernel applies; with `--ab-winograd`,
 *   stride-1 3×3 convs of ≥ 16 channels by Winograd with the tile by rule, F(4), F(2)
 *   (lib/backend/tfjs/_wasm_winograd.ts)
 *   and on XNNPACK directly; with `--ab-winograd-products`, Winograd's products in the fused
 *   kernel with relaxed SIMD's multiply-add, with a multiply and an add, and as XNNPACK's 1×1
 *   convs over chunks of tiles; with `--ab-ties-free`, ⟨A_c, x⟩'s pass that records codes by
 *   Winograd and by products; with `--ab-conv-gemm`, the convs Winograd does not take (the passes
 *   that record codes) by masokit's direct kernel (lib/backend/tfjs/_wasm_conv_gemm.ts) and on
 *   XNNPACK; with `--ab-helpers`,
 *   masokit's heap kernels on helper threads and on the calling thread alone; with `--ab-spin`,
 *   the heap's threads polling 100 µs for their next part before they sleep, and sleeping at once.
 *
 * `--no-reference` leaves the float64 CPU reference out (on largeCNN it takes minutes).
 *
 * A/B modes run in `--rounds=N` (default 4) paired rounds, the order reversed every other round,
 * and end with each mode's median over the rounds.
 *
 * Run: `deno run -A bench/affine_compare.ts [--net=smallCNN|largeCNN] [--batch=N] [--reps=5] [--rounds=4]
 * [--no-reference] [--peer] [--ab-pool] [--ab-relu] [--ab-few] [--ab-fused] [--ab-scatter] [--ab-tiles]
 * [--ab-winograd] [--ab-winograd-products] [--ab-ties-free] [--ab-conv-gemm] [--ab-helpers] [--ab-spin]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../lib/affine/template_inner_products.ts";
import { wasmMaxPoolKernels } from "../lib/backend/tfjs/_wasm_masked_max_pool.ts";
import { wasmSignMaskKernel } from "../lib/backend/tfjs/_wasm_sign_mask.ts";
import { wasmConvFewOutputs } from "../lib/backend/tfjs/_wasm_conv_few_outputs.ts";
import { heapThreads } from "../lib/backend/_heap_threads.ts";
import { activeWasmBackend, heapThreadsReady } from "../lib/backend/_wasm_ops.ts";
import { wasmConvPool } from "../lib/backend/tfjs/_wasm_conv_pool.ts";
import { wasmWinograd } from "../lib/backend/tfjs/_wasm_winograd.ts";
import { wasmConvGemm } from "../lib/backend/tfjs/_wasm_conv_gemm.ts";
import { imagesPerSecond } from "./_images_per_second.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const REPS = Number(value("reps") ?? 5);
const ROUNDS = Number(value("rounds") ?? 4);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  throw new RangeError(`--rounds=${value("rounds")}: expected a positive integer`);
}
const NET = value("net") ?? "smallCNN";
const NETWORKS = { smallCNN, largeCNN } as const;
if (!(NET in NETWORKS)) throw new RangeError(`--net=${NET}: expected smallCNN or largeCNN`);
const BATCH = Number(value("batch") ?? (NET === "largeCNN" ? 16 : 64));
if (!Number.isInteger(BATCH) || BATCH < 1) {
  throw new RangeError(`--batch=${value("batch")}: expected a positive integer`);
}

const r = await enableWasmThreads({ threads: 2, backendName: "wasm-t2" });
if (!r.enabled) console.error(`threaded wasm unavailable: ${r.reason}`);
await tf.setBackend("wasm");

const net = fromLayersModel(NETWORKS[NET as keyof typeof NETWORKS]({ seed: 1 }));
const x = tf.randomUniform([BATCH, 32, 32, 3], -1, 1);

/** Median images/s of `reps` runs after one warm-up. */
function rate(fn: () => tf.Tensor | { data: Float64Array }, reps: number): number {
  return imagesPerSecond(fn, BATCH, reps);
}

/** The tfjs engine on the active backend: [templates img/s, ⟨A_c, x⟩ img/s]. */
function tfjsEngineRates(): [number, number] {
  const xt = tf.tensor(x.dataSync(), x.shape);
  const aff = () => {
    const { A, B } = affineMap(net, xt, { backend: "tfjs" });
    B.dispose();
    return A;
  };
  const rates: [number, number] = [
    rate(aff, REPS),
    rate(() => templateInnerProducts(net, xt, { backend: "tfjs" }), REPS * 3),
  ];
  xt.dispose();
  return rates;
}

const rows: [string, number, number][] = [];
const xb = { data: Float64Array.from(x.dataSync()), shape: x.shape };
if (!Deno.args.includes("--no-reference")) {
  rows.push([
    "masokit CPU reference (float64, 1 thread)",
    rate(() => affineMap(net, xb, { backend: "cpu" }).A, 1),
    rate(() => templateInnerProducts(net, xb, { backend: "cpu" }), 2),
  ]);
}
for (const backend of ["wasm", ...(r.enabled ? ["wasm-t2"] : [])]) {
  await tf.setBackend(backend);
  await heapThreadsReady(activeWasmBackend()!); // masokit's kernels split from the first call
  rows.push([
    `masokit tfjs engine on ${backend === "wasm" ? "wasm (1 thread)" : "wasm, 2 threads"}`,
    ...tfjsEngineRates(),
  ]);
}

const { helpers, spinMicros } = heapThreads;
/** Paired A/B modes: label and the switches to set. */
type Mode = readonly [string, () => void];
const abModes: Record<string, Mode[]> = {
  // the wasm max-pool kernels (SIMD, JS loop) and off
  "--ab-pool": [
    [
      "max-pool kernels SIMD",
      () => Object.assign(wasmMaxPoolKernels, { enabled: true, simd: true }),
    ],
    ["max-pool kernels JS loop", () => Object.assign(wasmMaxPoolKernels, { simd: false })],
    ["max-pool kernels off", () => Object.assign(wasmMaxPoolKernels, { enabled: false })],
  ],
  // the ReLU recorded as its output + the sign-mask kernel, or as Step/Multiply slopes
  "--ab-relu": [
    ["ReLU sign-mask kernel", () => (wasmSignMaskKernel.enabled = true)],
    ["ReLU step/multiply", () => (wasmSignMaskKernel.enabled = false)],
  ],
  // the transposed first layer (to 3 channels) with masokit's kernel or XNNPACK's conv
  "--ab-few": [
    ["first-layer transpose, masokit kernel", () => (wasmConvFewOutputs.enabled = true)],
    ["first-layer transpose, XNNPACK", () => (wasmConvFewOutputs.enabled = false)],
  ],
  // the pool → ReLU → conv transposes fused and scattering, or masked pool + XNNPACK conv
  "--ab-fused": [
    [
      "conv/ReLU/pool fused",
      () => Object.assign(wasmConvPool, { transpose: true, gather: true, tiles: true }),
    ],
    [
      "conv/ReLU/pool separate",
      () => Object.assign(wasmConvPool, { transpose: false, gather: false, tiles: false }),
    ],
  ],
  // a pooled conv's transpose scattered only where scatterPays() (else the masked pool's
  // transpose and a Winograd transpose), or scattered wherever the kernel applies
  "--ab-scatter": [
    ["pooled transposes scattered by rule", () => (wasmConvPool.scatterRule = true)],
    ["pooled transposes always scattered", () => (wasmConvPool.scatterRule = false)],
  ],
  // the first layer's pooled transpose as window tiles, or masked pool + few-outputs conv
  "--ab-tiles": [
    ["first layer as window tiles", () => (wasmConvPool.tiles = true)],
    ["first layer as pool + conv", () => (wasmConvPool.tiles = false)],
  ],
  // stride-1 3×3 convs of ≥ 16 channels by Winograd F(4) or F(2), or on XNNPACK directly
  "--ab-winograd": [
    [
      "3×3 convs by Winograd, tile by rule",
      () => Object.assign(wasmWinograd, { enabled: true, tile: "auto" }),
    ],
    ["3×3 convs by Winograd F(4)", () => Object.assign(wasmWinograd, { enabled: true, tile: 4 })],
    ["3×3 convs by Winograd F(2)", () => Object.assign(wasmWinograd, { enabled: true, tile: 2 })],
    ["3×3 convs on XNNPACK", () => (wasmWinograd.enabled = false)],
  ],
  // Winograd's products in the fused kernel (each thread's blocks of tiles in its caches, with
  // relaxed SIMD's multiply-add or a multiply and an add) or as XNNPACK 1×1 convs over chunks
  "--ab-winograd-products": [
    [
      "Winograd fused, multiply-add",
      () => Object.assign(wasmWinograd, { fused: true, fma: true }),
    ],
    [
      "Winograd fused, multiply and add",
      () => Object.assign(wasmWinograd, { fused: true, fma: false }),
    ],
    ["Winograd, XNNPACK's products", () => (wasmWinograd.fused = false)],
  ],
  // ⟨A_c, x⟩'s pass that records codes by Winograd (its value ignores how exact ties are
  // decided), or by XNNPACK's products as the passes for templates and codes
  "--ab-ties-free": [
    ["⟨A_c, x⟩'s recording pass by Winograd", () => (wasmWinograd.tiesFree = true)],
    ["⟨A_c, x⟩'s recording pass by products", () => (wasmWinograd.tiesFree = false)],
  ],
  // the convs Winograd does not take by masokit's direct kernel, or on XNNPACK
  "--ab-conv-gemm": [
    ["other convs by the direct kernel", () => (wasmConvGemm.enabled = true)],
    ["other convs on XNNPACK", () => (wasmConvGemm.enabled = false)],
  ],
  // masokit's heap kernels split over helper threads, or on the calling thread alone
  "--ab-helpers": [
    ["heap kernels on helper threads", () => (heapThreads.helpers = helpers)],
    ["heap kernels on one thread", () => (heapThreads.helpers = 0)],
  ],
  // helper threads polling for the next part a while (and the calling thread for theirs)
  // before they sleep, or sleeping at once
  "--ab-spin": [
    ["heap threads poll 100 µs", () => (heapThreads.spinMicros = 100)],
    ["heap threads sleep at once", () => (heapThreads.spinMicros = 0)],
  ],
};
for (const [flag, modes] of Object.entries(abModes)) {
  if (!Deno.args.includes(flag)) continue;
  // paired rounds on the last backend, modes alternating, in reverse order every other round
  // (a mode's speed can depend on what ran just before it: the heap's layout, for one)
  const byMode = new Map<string, [number, number][]>(modes.map(([label]) => [label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, set] of round % 2 === 0 ? modes : [...modes].reverse()) {
      set();
      const rates = tfjsEngineRates();
      byMode.get(label)!.push(rates);
      rows.push([`  A/B round ${round + 1}: ${label}`, ...rates]);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const [label, rates] of byMode) {
    rows.push([
      `  A/B median of ${ROUNDS} rounds: ${label}`,
      median(rates.map((r) => r[0])),
      median(rates.map((r) => r[1])),
    ]);
  }
  Object.assign(wasmMaxPoolKernels, { enabled: true, simd: true });
  wasmSignMaskKernel.enabled = true;
  wasmConvFewOutputs.enabled = true;
  Object.assign(wasmConvPool, { transpose: true, gather: true, tiles: true, scatterRule: true });
  Object.assign(heapThreads, { helpers, spinMicros });
  Object.assign(wasmWinograd, { enabled: true, tile: "auto", tiesFree: true });
  wasmConvGemm.enabled = true;
}

let peer: { templates: number; inner: number } | null = null;
if (Deno.args.includes("--peer")) {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      new URL("./_peer_affine.py", import.meta.url).pathname,
      `--net=${NET}`,
      `--batch=${BATCH}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output().catch(() => null);
  const text = out?.success ? new TextDecoder().decode(out.stdout) : "";
  const num = (k: string) => Number(text.match(new RegExp(`^${k} img/s ([\\d.]+)`, "m"))?.[1]);
  if (text) {
    peer = { templates: num("templates"), inner: Math.max(num("inner"), num("inner-forward-ad")) };
    rows.push(["PyTorch 1.13, 2 threads (same run)", peer.templates, peer.inner]);
  } else console.error("peer skipped: /usr/bin/python3 with torch not available");
}

console.log(`${NET}, batch ${BATCH}, this CPU:`);
console.log("| engine | all 10 templates A[x], B[x] (img/s) | ⟨A[x]_c, x⟩ for all c (img/s) |");
console.log("| --- | --- | --- |");
for (const [name, a, ip] of rows) {
  const ratio = (v: number, p?: number) => (p ? ` (${(v / p).toFixed(2)}× peer)` : "");
  console.log(
    `| ${name} | ${a.toFixed(1)}${ratio(a, peer?.templates)} | ${ip.toFixed(1)}${
      ratio(ip, peer?.inner)
    } |`,
  );
}
