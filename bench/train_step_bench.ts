/**
 * smallCNN training step (lib/models/small_cnn.ts, batch 64, 32×32×3, batch-norm in training
 * mode, Adam) in images/s; with `--net=largeCNN` (CPU only) the paper's largeCNN, batch 16
 * (`--batch=N` sets either).
 *
 * CPU (default): tfjs `wasm` with masokit's training kernels, in one process next to tfjs `cpu`
 * (skip it with `--cpu-steps=0`); `--threads=N` runs wasm on N XNNPACK threads
 * (`selectBackend({ wasmThreads: N })`, default: threads on where available, `--threads=1`:
 * the stock single-threaded build); `--no-fused` registers only the kernels that existed before
 * the fused batch-norm gradient (for before/after comparisons in one run); `--ab` adds a paired
 * comparison, alternating steps with and without the fused batch-norm gradients (`--ab=input`:
 * with and without the first layer's input gradient; `--ab=pool`: with the SIMD max-pool
 * gradient and with the JS loop; `--ab=filter`: the filter gradients with the direct SIMD kernel
 * and on XNNPACK; `--ab=bn-simd`: batch-norm's passes (moments, forward, gradient) in SIMD and
 * in JS loops; `--ab=bn-layer`: the `BatchNormalization` layer's training pass as one kernel and
 * as tfjs's moments and `FusedBatchNorm`; `--ab=helpers`: masokit's heap kernels split over helper threads and on the
 * calling thread alone; `--ab=adam`: Adam's update as one fused kernel call a variable and as
 * tfjs's ops; `--ab=winograd`: stride-1 3×3 convs of 16+ channels by Winograd and by the direct kernels (the
 * direct conv, the direct filter gradient);
 * `--ab=winograd-products`: Winograd's convs by the fused kernel and with XNNPACK's products;
 * `--ab=conv-gemm`: the convs Winograd does not take by masokit's direct kernel (im2col blocks and
 * the fused products) and on XNNPACK;
 * `--ab=adam-simd`: the fused Adam update in SIMD and as a JS loop;
 * `--ab=relu-grad`: ReLU's gradient as one kernel (`MasokitReluGrad`) and as tfjs's `Step` and
 * `Multiply`; `--ab=slice`: `Slice` by runs of whole trailing axes and by tfjs-wasm's kernel (a
 * zero-padding layer's gradient: largeCNN);
 * `--ab=recent`: all of the twenty-third session's kernels together (the direct conv, the
 * one-pass flip, Adam in SIMD, ReLU's gradient in one pass, Slice by runs) and none of them;
 * `--ab=flip`: the input gradient's flipped, transposed filter in one pass and by tfjs-wasm's
 * `Reverse` and `Transpose`;
 * `--ab=gather`: each step's batch picked out of 3,000 images by `tf.gather`, as `train()` does,
 * with the row-copy `GatherV2` and with tfjs-wasm's;
 * `--ab=winograd-filter`: Winograd's filter transforms in training (`G g Gᵀ`, the filter
 * gradient's `Gᵀ S G`) by one generated kernel and as a product on XNNPACK with copies;
 * `--ab=small-matmul`: a dense layer's products (batch 1, small) by the generated kernel and on
 * XNNPACK; `--ab=step-kernels`: the twenty-fourth session's five changes together (the filter
 * transforms, the small products, the cross-entropy, the moving statistics, the penalty) and none
 * of them; `--ab=softmax-ce`: the loss (softmax
 * cross-entropy, as `train()` computes it) as one kernel forward and one backward, and as
 * `tf.losses.softmaxCrossEntropy` of a one-hot; `--ab=moving-averages`: a batch-norm layer's
 * moving statistics updated by one kernel and by tfjs-layers' six ops; `--ab=spin`: the heap's
 * threads polling `--spin=µs` (default 100) for their next part before sleeping, and sleeping at
 * once; `--ab=pointwise`: a 1×1 conv's filter gradient by the register-blocked products and by
 * the direct kernel; `--ab=session25`: both (the twenty-fifth session's changes) and neither;
 * `--ab=row-copies`: the direct conv's im2col copying a receptive field's row at once where the
 * input channels are not a multiple of 4 (the first layer), and tap by tap;
 * `--lambda=λ` adds λ times
 * the orthogonality penalty of eq. (13) to the loss, as `train()` does (`--ab=orthogonality`: the
 * penalty as one kernel forward and one backward, and as tfjs's ops; λ = 1 unless given);
 * `--min-filter-macs=N` sets `wasmWinograd.minFilterMacs`, the fewest multiply-adds of a conv
 * that training takes by Winograd;
 * `--input-grad` computes it everywhere, as stock tfjs does);
 * `--peer`: also
 * PyTorch (bench/_peer_train_step.py, 2 threads) when python3-torch is installed.
 *
 * GPU: `--backend=webgpu` trains on tfjs-webgpu, stock and with `registerWebGpuTrainingKernels()`'s
 * parts added one by one (reductions, fused batch-norm gradients, `writeBuffer` uploads, fused
 * Adam update; stock and all also with a batch made from CPU values at each step, as `train()`
 * feeds them), and with `--no-bn` also without batch-norm (stock and all), plus `tf.moments`
 * over [64, 30, 30, 32] alone. Needs a real adapter to mean
 * anything (on Mesa llvmpipe, a software rasteriser, it only shows that everything runs). On
 * the lent GPU machine (shared/PEERS.md, "Running Deno WebGPU"): `deno bundle
 * bench/train_step_bench.ts -o .gpu/train_step.bundle.js`, then there
 * `/tmp/deno run -A .gpu/train_step.bundle.js --backend=webgpu --no-bn`.
 *
 * Run: `deno run -A bench/train_step_bench.ts [--steps=20] [--cpu-steps=1] [--threads=2]
 * [--no-fused] [--ab | --ab=input | --ab=pool | --ab=filter | --ab=bn-simd | --ab=bn-layer | --ab=helpers | --ab=adam | --ab=winograd | --ab=winograd-products | --ab=conv-gemm | --ab=adam-simd | --ab=relu-grad | --ab=slice | --ab=recent | --ab=flip | --ab=gather | --ab=winograd-filter | --ab=small-matmul | --ab=step-kernels | --ab=softmax-ce | --ab=moving-averages | --ab=orthogonality | --ab=spin | --ab=pointwise | --ab=session25 | --ab=row-copies] [--spin=µs] [--lambda=λ] [--net=smallCNN|largeCNN] [--batch=N] [--min-filter-macs=N] [--input-grad] [--peer] [--profile] [--warmup=3]`, or
 * `deno run -A bench/train_step_bench.ts --backend=webgpu [--steps=20] [--no-bn]`.
 *
 * @module
 */
import {
  fusedSoftmaxCrossEntropy,
  softmaxCrossEntropy,
} from "../lib/train/_softmax_cross_entropy.ts";
import { orthogonalityPenalty } from "../lib/train/orthogonality.ts";
import { fusedOrthogonalityPenalty } from "../lib/train/_orthogonality_kernel.ts";
import { wasmSmallMatMul } from "../lib/train/_wasm_small_matmul.ts";
import { wasmPointwiseFilterGrad } from "../lib/train/_wasm_pointwise_filter_grad.ts";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { selectBackend } from "../lib/train/backend.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { wasmWinograd, withWinogradConvs } from "../lib/backend/tfjs/_wasm_winograd.ts";
import { registerWasmTrainingKernels } from "../lib/train/wasm_kernels.ts";
import { withoutInputGradients } from "../lib/train/input_gradient.ts";
import { wasmMaxPoolKernels } from "../lib/backend/tfjs/_wasm_masked_max_pool.ts";
import { wasmFilterGradKernel } from "../lib/train/_wasm_filter_grad.ts";
import { wasmBatchNormSimd } from "../lib/train/_wasm_batch_norm_simd.ts";
import { fusedBatchNormLayer } from "../lib/train/_batch_norm_layer.ts";
import { wasmGatherRows } from "../lib/train/_wasm_gather.ts";
import { wasmConvGemm } from "../lib/backend/tfjs/_wasm_conv_gemm.ts";
import { wasmFilterFlip } from "../lib/train/_wasm_filter_flip.ts";
import { wasmAdamSimd } from "../lib/train/_wasm_adam_simd.ts";
import { wasmSliceRuns } from "../lib/train/_wasm_slice.ts";
import { RELU_GRAD } from "../lib/train/_fused_gradients.ts";
import { heapThreads } from "../lib/backend/_heap_threads.ts";
import {
  registerWebGpuTrainingKernels,
  unregisterWebGpuTrainingKernels,
} from "../lib/train/webgpu_kernels.ts";

const arg = (name: string, fallback: number) => {
  const a = Deno.args.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
};
const flag = (name: string) => Deno.args.includes(`--${name}`);
const NET = Deno.args.find((s) => s.startsWith("--net="))?.split("=")[1] ?? "smallCNN";
if (NET !== "smallCNN" && NET !== "largeCNN") {
  throw new RangeError(`--net=${NET}: expected smallCNN or largeCNN`);
}
const STEPS = arg("steps", 20), CPU_STEPS = arg("cpu-steps", 1);
const BATCH = arg("batch", NET === "largeCNN" ? 16 : 64);
// the fewest multiply-adds of a conv that training runs by Winograd (0: all that it takes)
const MIN_FILTER_MACS = arg("min-filter-macs", wasmWinograd.minFilterMacs);
if (!(MIN_FILTER_MACS >= 0)) {
  throw new RangeError(`--min-filter-macs=${MIN_FILTER_MACS}: expected a number ≥ 0`);
}
wasmWinograd.minFilterMacs = MIN_FILTER_MACS;
for (const [name, value] of [["batch", BATCH], ["steps", STEPS]] as const) {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`--${name}=${value}: expected a positive integer`);
  }
}
/** The benchmark's network (tf.layers, seeded). */
const network = (batchNorm = true) =>
  NET === "largeCNN" ? largeCNN({ batchNorm, seed: 1 }) : smallCNN({ batchNorm, seed: 1 });
const WARMUP = arg("warmup", 3);
const THREADS = arg("threads", 0); // 0: selectBackend's default
// λ of the orthogonality penalty added to the loss (--ab=orthogonality: 1 unless given)
const LAMBDA = arg("lambda", flag("ab=orthogonality") ? 1 : 0);
const BACKEND = (Deno.args.find((s) => s.startsWith("--backend="))?.split("=")[1] ?? "wasm") as
  | "wasm"
  | "webgpu";

interface Measured {
  label: string;
  steps: number;
  medianMs: number;
  imgPerSec: number;
  profile: string;
}

/** One Adam step of softmax cross-entropy on (x, labels y), as `train()` computes it, returning the loss. */
function minimizer(
  model: tf.LayersModel,
  opt: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
): () => tf.Scalar {
  // as train() runs its steps: the wasm kernels' convs may run by Winograd
  return () =>
    withWinogradConvs(() =>
      opt.minimize(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor;
        const ce = tf.mean(softmaxCrossEntropy(y as tf.Tensor1D, logits, 10));
        if (LAMBDA === 0) return ce as tf.Scalar;
        // + λ · eq. (13)'s penalty of the final Dense layer's kernel, as train() adds it
        const kernel = model.layers.at(-1)!.weights.find((w) => w.shape.length === 2)!;
        return tf.add(ce, tf.mul(LAMBDA, orthogonalityPenalty(kernel.read()))) as tf.Scalar;
      }, true)!
    );
}

/** Steps `--profile` profiles. */
const PROFILE_STEPS = 10;
/** `--profile=shapes`: each kernel's time by its input shapes too. */
const PROFILE_SHAPES = Deno.args.includes("--profile=shapes");

async function measure(
  label: string,
  steps: number,
  warmup: number,
  options: { batchNorm?: boolean; profile?: boolean; freshBatch?: boolean } = {},
): Promise<Measured> {
  const model = network(options.batchNorm ?? true);
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  // freshBatch: each step's batch made from CPU values (uploaded), as train() feeds them
  const values = options.freshBatch ? x.dataSync().slice() : null;
  const step = async () => {
    const xs = values === null ? x : tf.tensor(values, x.shape);
    const run = minimizer(model, opt, xs, y);
    // as train() does, unless --input-grad asks for tfjs's stock behaviour
    const loss = flag("input-grad") ? run() : withoutInputGradients([xs], run);
    await loss.data();
    loss.dispose();
    if (xs !== x) xs.dispose();
  };
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  let profile = "";
  if (options.profile) {
    // each kernel's time and calls a step, averaged over PROFILE_STEPS profiled steps, and the
    // kernels' total against the profiled steps' own time (the rest: tfjs's bookkeeping)
    const agg = new Map<string, [number, number]>();
    let total = 0, wall = 0;
    for (let i = 0; i < PROFILE_STEPS; i++) {
      const t0 = performance.now();
      const info = await tf.profile(async () => await step());
      wall += performance.now() - t0;
      for (const k of info.kernels) {
        if (k.name.endsWith("__op")) continue;
        const key = PROFILE_SHAPES
          ? `${k.name}${JSON.stringify(k.inputShapes).replaceAll("],[", "]·[")}`
          : k.name;
        const [ms, n] = agg.get(key) ?? [0, 0];
        const kernelMs = (await k.kernelTimeMs) as number;
        total += kernelMs;
        agg.set(key, [ms + kernelMs, n + 1]);
      }
    }
    const per = (v: number) => (v / PROFILE_STEPS).toFixed(2);
    profile = `kernels ${per(total)} of ${per(wall)} ms a profiled step; ` +
      [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, PROFILE_SHAPES ? 40 : 20)
        .map(([k, [ms, n]]) => `${k} ${per(ms)}ms/${n / PROFILE_STEPS}`).join(", ");
  }
  tf.dispose([x, y, ...model.weights.map((w) => w.read())]);
  opt.dispose();
  return { label, steps, medianMs: median, imgPerSec: (BATCH * 1000) / median, profile };
}

/** Median ms of `tf.moments` over smallCNN's first batch-norm input (includes one readback). */
async function momentsMs(): Promise<number> {
  const x = tf.randomNormal([64, 30, 30, 32], 0, 1, "float32", 3);
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    await variance.data();
    if (i >= 2) times.push(performance.now() - t0);
    tf.dispose([mean, variance]);
  }
  x.dispose();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

function peer(): { imgPerSec: number; line: string } | null {
  try {
    // Debian's python3-torch lives under /usr/bin/python3 (a pyenv python3 may shadow it).
    const python = ["/usr/bin/python3", "python3"].find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return p === "python3";
      }
    })!;
    const out = new Deno.Command(python, {
      args: [
        new URL("./_peer_train_step.py", import.meta.url).pathname,
        `--net=${NET}`,
        `--batch=${BATCH}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const text = new TextDecoder().decode(out.stdout).trim();
    const m = text.match(/img\/s ([\d.]+)/);
    return out.success && m ? { imgPerSec: Number(m[1]), line: text } : null;
  } catch {
    return null;
  }
}

function print(results: Measured[], peerFigure: number | null): void {
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(28)}: ${
        r.imgPerSec.toFixed(r.imgPerSec < 100 ? 1 : 0).padStart(5)
      } img/s ` +
        `(median ${r.medianMs.toFixed(1)} ms/step over ${r.steps} steps` +
        (peerFigure ? `; ${(r.imgPerSec / peerFigure).toFixed(3)}× peer)` : ")"),
    );
    if (r.profile) console.log(`    kernel ms/calls a step (${PROFILE_STEPS} steps): ${r.profile}`);
  }
}

if (BACKEND === "webgpu") {
  const choice = await selectBackend({ prefer: "webgpu" });
  console.log(`smallCNN train step, batch ${BATCH}, Adam, ${choice.reason}:`);
  const results: Measured[] = [];
  const profile = flag("profile") || PROFILE_SHAPES;
  unregisterWebGpuTrainingKernels();
  if (flag("no-bn")) {
    results.push(await measure("webgpu, no BN, stock", STEPS, WARMUP, { batchNorm: false }));
  }
  const stockMoments = await momentsMs();
  results.push(await measure("webgpu, BN, stock tfjs", STEPS, WARMUP, { profile }));
  results.push(await measure("  fresh batch each step", STEPS, WARMUP, { freshBatch: true }));
  // masokit's parts one by one: the reductions, + the fused gradients, + writeBuffer uploads,
  // + the fused Adam update
  const off = { fuseBatchNorm: false, writeUploads: false, fuseAdam: false };
  registerWebGpuTrainingKernels(off);
  const ourMoments = await momentsMs();
  results.push(await measure("webgpu, BN, reductions", STEPS, WARMUP));
  registerWebGpuTrainingKernels({ ...off, fuseBatchNorm: true });
  results.push(await measure("  + fused BN gradients", STEPS, WARMUP));
  registerWebGpuTrainingKernels({ fuseAdam: false });
  results.push(await measure("  + writeBuffer uploads", STEPS, WARMUP));
  registerWebGpuTrainingKernels();
  results.push(await measure("  + fused Adam update", STEPS, WARMUP, { profile }));
  results.push(await measure("  fresh batch each step", STEPS, WARMUP, { freshBatch: true }));
  if (flag("no-bn")) {
    results.push(await measure("webgpu, no BN, masokit", STEPS, WARMUP, { batchNorm: false }));
  }
  print(results, null);
  console.log(
    `  tf.moments([64, 30, 30, 32], [0, 1, 2]), median of 10: stock ${
      stockMoments.toFixed(2)
    } ms, masokit ${ourMoments.toFixed(2)} ms`,
  );
  console.log(`  load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
} else {
  const choice = await selectBackend({
    prefer: "wasm",
    ...(THREADS > 0 ? { wasmThreads: THREADS } : {}),
  });
  if (flag("no-fused")) registerWasmTrainingKernels({ fuseBatchNorm: false });
  const label = `wasm${flag("no-fused") ? " (no fused BN)" : ""}`;
  const wasm = await measure(label, STEPS, WARMUP, { profile: flag("profile") || PROFILE_SHAPES });
  const results = [wasm];
  // Paired A/B modes: the flag (after `--`), the two arms' labels, and how to switch the change
  // on or off (every switch is on by default; the mode's own is switched on again afterwards).
  const helpers = heapThreads.helpers;
  const SPIN = arg("spin", 100);
  const reluGrad = (on: boolean) => {
    // without the kernel, ReLU's gradient falls back to tfjs's
    if (on) registerWasmTrainingKernels();
    else tf.unregisterKernel(RELU_GRAD, "wasm");
  };
  const abModes: Record<string, { labels: [string, string]; set: (on: boolean) => void }> = {
    ab: {
      labels: ["A/B: fused BN gradients", "A/B: tfjs BN gradients"],
      set: (on) => registerWasmTrainingKernels({ fuseBatchNorm: on }),
    },
    // the step itself skips the input gradient or not
    "ab=input": {
      labels: ["A/B: input gradient skipped", "A/B: input gradient computed"],
      set: () => {},
    },
    "ab=pool": {
      labels: ["A/B: max-pool gradient, SIMD", "A/B: max-pool gradient, JS loop"],
      set: (on) => (wasmMaxPoolKernels.simd = on),
    },
    "ab=filter": {
      labels: ["A/B: filter gradient, direct SIMD", "A/B: filter gradient, XNNPACK"],
      set: (on) => (wasmFilterGradKernel.enabled = on),
    },
    "ab=bn-simd": {
      labels: ["A/B: batch-norm passes, SIMD", "A/B: batch-norm passes, JS loops"],
      set: (on) => (wasmBatchNormSimd.enabled = on),
    },
    "ab=bn-layer": {
      labels: ["A/B: BN layer as one kernel", "A/B: BN layer, tfjs's moments"],
      set: (on) => (fusedBatchNormLayer.enabled = on),
    },
    "ab=helpers": {
      labels: ["A/B: heap kernels on helper threads", "A/B: heap kernels on one thread"],
      set: (on) => (heapThreads.helpers = on ? helpers : 0),
    },
    "ab=spin": {
      labels: [`A/B: helpers poll ${SPIN} µs`, "A/B: helpers sleep at once"],
      set: (on) => (heapThreads.spinMicros = on ? SPIN : 0),
    },
    "ab=pointwise": {
      labels: ["A/B: 1×1 filter grad, products", "A/B: 1×1 filter grad, direct kernel"],
      set: (on) => (wasmPointwiseFilterGrad.enabled = on),
    },
    "ab=row-copies": {
      labels: ["A/B: im2col rows at once", "A/B: im2col tap by tap"],
      set: (on) => (wasmConvGemm.rowCopies = on),
    },
    "ab=session25": {
      labels: ["A/B: 25th session's changes", "A/B: without them"],
      set: (on) => {
        heapThreads.spinMicros = on ? SPIN : 0;
        wasmPointwiseFilterGrad.enabled = on;
      },
    },
    "ab=adam": {
      labels: ["A/B: Adam's update fused", "A/B: Adam's update, tfjs's ops"],
      set: (on) => registerWasmTrainingKernels({ fuseAdam: on }),
    },
    "ab=winograd": {
      labels: ["A/B: 3×3 convs by Winograd", "A/B: 3×3 convs, direct kernels"],
      set: (on) => (wasmWinograd.enabled = on),
    },
    "ab=winograd-products": {
      labels: ["A/B: Winograd's fused kernel", "A/B: Winograd's products on XNNPACK"],
      set: (on) => (wasmWinograd.fused = on),
    },
    // each step's batch gathered from a training set (below)
    "ab=gather": {
      labels: ["A/B: batch by row copies", "A/B: batch by tfjs's gather"],
      set: (on) => (wasmGatherRows.enabled = on),
    },
    "ab=conv-gemm": {
      labels: ["A/B: other convs, direct kernel", "A/B: other convs, XNNPACK"],
      set: (on) => (wasmConvGemm.enabled = on),
    },
    "ab=flip": {
      labels: ["A/B: dx's filter in one pass", "A/B: dx's filter by Reverse"],
      set: (on) => (wasmFilterFlip.enabled = on),
    },
    "ab=adam-simd": {
      labels: ["A/B: Adam's update in SIMD", "A/B: Adam's update, JS loop"],
      set: (on) => (wasmAdamSimd.enabled = on),
    },
    "ab=relu-grad": {
      labels: ["A/B: ReLU's gradient, one kernel", "A/B: ReLU's gradient, Step, Multiply"],
      set: reluGrad,
    },
    "ab=slice": {
      labels: ["A/B: Slice by runs", "A/B: Slice, tfjs-wasm's"],
      set: (on) => (wasmSliceRuns.enabled = on),
    },
    "ab=winograd-filter": {
      labels: ["A/B: filter transforms, one kernel", "A/B: filter transforms, XNNPACK"],
      set: (on) => (wasmWinograd.filterKernel = on),
    },
    "ab=small-matmul": {
      labels: ["A/B: small products, own kernel", "A/B: small products, XNNPACK"],
      set: (on) => (wasmSmallMatMul.enabled = on),
    },
    "ab=softmax-ce": {
      labels: ["A/B: cross-entropy, two kernels", "A/B: cross-entropy, tfjs's ops"],
      set: (on) => (fusedSoftmaxCrossEntropy.enabled = on),
    },
    "ab=moving-averages": {
      labels: ["A/B: BN moving statistics, one kernel", "A/B: BN moving statistics, tfjs's ops"],
      set: (on) => (fusedBatchNormLayer.movingAverages = on),
    },
    "ab=orthogonality": {
      labels: ["A/B: penalty, two kernels", "A/B: penalty, tfjs's ops"],
      set: (on) => (fusedOrthogonalityPenalty.enabled = on),
    },
    "ab=step-kernels": {
      labels: ["A/B: 24th session's changes", "A/B: without them"],
      set: (on) => {
        wasmWinograd.filterKernel = on;
        wasmSmallMatMul.enabled = on;
        fusedSoftmaxCrossEntropy.enabled = on;
        fusedBatchNormLayer.movingAverages = on;
        fusedOrthogonalityPenalty.enabled = on;
      },
    },
    "ab=recent": {
      labels: ["A/B: 23rd session's kernels", "A/B: without them"],
      set: (on) => {
        reluGrad(on);
        for (const s of [wasmConvGemm, wasmFilterFlip, wasmAdamSimd, wasmSliceRuns]) s.enabled = on;
      },
    },
  };
  const ab = Object.keys(abModes).find((name) => flag(name)) ?? null;
  if (ab !== null) {
    // Paired comparison under the same load: every other step with the change switched off.
    const mode = abModes[ab];
    const steps: [number[], number[]] = [[], []];
    const model = network();
    const opt = tf.train.adam(1e-3);
    const x = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, "float32", 1);
    const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
    // --ab=gather: a training set to pick each step's batch from, as train() does
    const pool = ab === "ab=gather" ? tf.randomNormal([3000, 32, 32, 3], 0, 1, "float32", 3) : null;
    for (let i = 0; i < 2 * STEPS + 2; i++) {
      const on = i % 2 === 0;
      mode.set(on);
      const t0 = performance.now();
      const picked = pool === null
        ? null
        : tf.tidy(() =>
          tf.gather(pool, Int32Array.from({ length: BATCH }, (_, j) => (i * 7919 + j * 331) % 3000))
        );
      const xs = picked ?? x;
      const run = minimizer(model, opt, xs, y);
      const loss = ab === "ab=input" && !on ? run() : withoutInputGradients([xs], run);
      await loss.data();
      loss.dispose();
      picked?.dispose();
      if (i >= 2) steps[on ? 0 : 1].push(performance.now() - t0);
    }
    mode.set(true);
    tf.dispose([x, y]);
    pool?.dispose();
    opt.dispose();
    const labels = mode.labels;
    for (const [k, ts] of steps.entries()) {
      const sorted = [...ts].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      results.push({
        label: labels[k],
        steps: ts.length,
        medianMs: median,
        imgPerSec: (BATCH * 1000) / median,
        profile: "",
      });
    }
  }
  if (CPU_STEPS > 0) {
    await selectBackend({ prefer: "cpu" });
    results.push(await measure("cpu", CPU_STEPS, 0)); // ≈1 min a step: no warm-up
  }
  const torch = flag("peer") ? peer() : null;
  const peerFigure = torch?.imgPerSec ?? (NET === "smallCNN" ? 1024 : null);
  console.log(`${NET} train step, batch ${BATCH}, BN training mode, Adam, this CPU:`);
  console.log(`  ${choice.reason}`);
  print(results, peerFigure);
  const cpu = results.find((r) => r.label === "cpu");
  if (cpu) console.log(`  wasm / cpu: ${(wasm.imgPerSec / cpu.imgPerSec).toFixed(1)}×`);
  console.log(
    `  peer: ${
      torch
        ? `PyTorch measured now (${torch.line})`
        : NET === "smallCNN"
        ? "PyTorch 1.13, 2 threads, 1,024 img/s (shared/PEERS.md)"
        : "none (--peer measures PyTorch)"
    }`,
  );
  console.log(`  load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
}
