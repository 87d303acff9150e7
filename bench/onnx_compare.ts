/**
 * A PyTorch model analysed through ONNX: ResNet-18 (the CIFAR variant, 11.2 M parameters, 32×32×3,
 * 10 classes) built and exported by bench/_peer_onnx.py with `torch.onnx.export`'s defaults, read
 * by `fromOnnx`, and timed on the same inputs on both sides, in the same run, on 2 threads:
 * - `fromOnnx`: reading and converting the file (ms);
 * - all 10 templates A[x] (`affineMap`, the tfjs engine on tfjs-wasm with 2 threads) against
 *   PyTorch 1.13's `vmap(jacrev(f))`, images/s;
 * - ⟨A[x]_c, x⟩ for all c (`templateInnerProducts`) against one PyTorch JVP, images/s;
 * - agreement: masokit's float32 templates, back in PyTorch's layout (`channelsFirst`), against
 *   PyTorch's, relative to their largest entry; and masokit's float64 forward pass against the
 *   engine's float32 A·x + B.
 *
 * With `--profile`, the templates' time kernel by kernel (`tf.profile`); with `--ab-conv-gemm`, 3
 * paired rounds with the recording pass's convs by masokit's direct kernel and on XNNPACK.
 *
 * Run: `deno run -A bench/onnx_compare.ts [--batch=8] [--reps=3] [--profile] [--ab-conv-gemm]`
 * (needs python3 with torch).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import { activeWasmBackend, heapThreadsReady } from "../lib/backend/_wasm_ops.ts";
import { fromOnnx } from "../lib/network/from_onnx.ts";
import { channelsFirst, channelsLast } from "../lib/network/layout.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../lib/affine/template_inner_products.ts";
import { forward } from "../lib/network/forward.ts";
import { wasmConvGemm } from "../lib/backend/tfjs/_wasm_conv_gemm.ts";
import { imagesPerSecond } from "./_images_per_second.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const BATCH = Number(value("batch") ?? 8), REPS = Number(value("reps") ?? 3);
for (const [k, v] of [["batch", BATCH], ["reps", REPS]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`--${k}=${v}: expected a positive integer`);
  }
}

const dir = await Deno.makeTempDir({ prefix: "masokit-onnx-bench-" });
const python = ["/usr/bin/python3", "python3"].find((p) => {
  try {
    return new Deno.Command(p, { args: ["-c", "import torch"], stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
});
if (!python) throw new Error("no python3 imports torch (apt-get install python3-torch)");
const peerRun = await new Deno.Command(python, {
  args: [
    new URL("./_peer_onnx.py", import.meta.url).pathname,
    dir,
    `--batch=${BATCH}`,
    `--reps=${REPS}`,
  ],
  stderr: "piped",
}).output();
if (!peerRun.success) throw new Error(new TextDecoder().decode(peerRun.stderr));
const peer = JSON.parse(new TextDecoder().decode(peerRun.stdout).trim().split("\n").at(-1)!);

const bytes = await Deno.readFile(`${dir}/model.onnx`);
const loads: number[] = [];
let net = fromOnnx(bytes);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  net = fromOnnx(bytes);
  loads.push(performance.now() - t0);
}
loads.sort((a, b) => a - b);

const r = await enableWasmThreads({ threads: 2, backendName: "wasm-t2" });
if (!r.enabled) throw new Error(`threaded wasm unavailable: ${r.reason}`);
await tf.setBackend("wasm-t2");
await heapThreadsReady(activeWasmBackend()!);

const nchw = new Float32Array((await Deno.readFile(`${dir}/x.f32`)).buffer);
const xb = channelsLast({ data: nchw, shape: [BATCH, 3, 32, 32] });
const x = tf.tensor(Float32Array.from(xb.data), xb.shape as number[]);

const rate = (fn: () => tf.Tensor) => imagesPerSecond(fn, BATCH, REPS);
const templates = () => {
  const { A, B } = affineMap(net, x, { backend: "tfjs" });
  B.dispose();
  return A;
};

const templatesRate = rate(templates);
const innerRate = rate(() => templateInnerProducts(net, x, { backend: "tfjs" }));

// agreement with PyTorch's templates, and A·x + B with the float64 forward pass
const { A, B } = affineMap(net, x, { backend: "tfjs" });
const a = A.dataSync(), b = B.dataSync();
A.dispose();
B.dispose();
const C = net.outputSize, D = net.inputSize;
const mine = channelsFirst({ data: a, shape: [BATCH * C, 32, 32, 3] }).data;
const theirs = new Float32Array((await Deno.readFile(`${dir}/templates.f32`)).buffer);
let largest = 0, worst = 0;
for (const v of theirs) largest = Math.max(largest, Math.abs(v));
for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
const z64 = forward(net, xb).data;
let zLargest = 0, zWorst = 0;
for (let n = 0; n < BATCH; n++) {
  for (let c = 0; c < C; c++) {
    let s = b[n * C + c];
    for (let d = 0; d < D; d++) s += a[(n * C + c) * D + d] * xb.data[n * D + d];
    zLargest = Math.max(zLargest, Math.abs(z64[n * C + c]));
    zWorst = Math.max(zWorst, Math.abs(s - z64[n * C + c]));
  }
}
x.dispose();
await Deno.remove(dir, { recursive: true });

const f = (v: number) => v.toFixed(v < 10 ? 2 : 1);
console.log(
  `ResNet-18 (CIFAR variant, ${(peer.parameters / 1e6).toFixed(1)} M parameters) from ` +
    `torch.onnx.export (PyTorch ${peer.torch}), batch ${BATCH}, median of ${REPS} runs, ` +
    `${navigator.hardwareConcurrency} cores`,
);
console.log(
  `fromOnnx: ${loads[1].toFixed(0)} ms (${(bytes.length / 2 ** 20).toFixed(1)} MiB file)`,
);
console.log("| quantity | masokit (tfjs-wasm, 2 threads) | PyTorch (2 threads) | ratio |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| all 10 templates A[x] | ${f(templatesRate)} img/s | ${
    f(peer.templates)
  } img/s (vmap(jacrev)) | ${(templatesRate / peer.templates).toFixed(2)}× |`,
);
console.log(
  `| ⟨A[x]_c, x⟩, all c | ${f(innerRate)} img/s | ${f(peer.inner)} img/s (one jvp) | ${
    (innerRate / peer.inner).toFixed(2)
  }× |`,
);
console.log(
  `templates vs PyTorch's: max |Δ| ${(worst / largest).toExponential(2)} of the largest entry; ` +
    `A·x + B (float32) vs the float64 forward pass: ${
      (zWorst / zLargest).toExponential(2)
    } of the largest output`,
);

if (Deno.args.includes("--profile")) {
  // where one batch's templates spend their time, kernel by kernel (tf.profile)
  const x2 = tf.tensor(Float32Array.from(xb.data), xb.shape as number[]);
  const prof = await tf.profile(() => {
    const { A, B } = affineMap(net, x2, { backend: "tfjs" });
    A.dataSync();
    tf.dispose([A, B]);
  });
  x2.dispose();
  const byKernel = new Map<string, number>();
  for (const k of prof.kernels) {
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  console.log(`templates of one batch of ${BATCH}, kernel by kernel (${total.toFixed(0)} ms):`);
  for (const [name, ms] of [...byKernel].sort((p, q) => q[1] - p[1]).slice(0, 8)) {
    console.log(`  ${name} ${ms.toFixed(0)} ms (${(100 * ms / total).toFixed(0)}%)`);
  }
}
if (Deno.args.includes("--ab-conv-gemm")) {
  // the recording pass's convs by masokit's direct kernel and on XNNPACK, paired rounds
  const x3 = tf.tensor(Float32Array.from(xb.data), xb.shape as number[]);
  const run = () => {
    const { A, B } = affineMap(net, x3, { backend: "tfjs" });
    B.dispose();
    return A;
  };
  for (let round = 0; round < 3; round++) {
    for (const on of round % 2 ? [true, false] : [false, true]) {
      wasmConvGemm.enabled = on;
      const r = imagesPerSecond(run, BATCH, REPS);
      console.log(
        `round ${round + 1}, recording pass ${on ? "direct conv" : "XNNPACK"}: ${
          r.toFixed(2)
        } img/s`,
      );
    }
  }
  wasmConvGemm.enabled = true;
  x3.dispose();
}
