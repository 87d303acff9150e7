/**
 * smallCNN training step (batch 64, 32×32×3, batch-norm in training mode, Adam) in images/s:
 * tfjs `wasm` with masokit's training kernels next to tfjs `cpu`, in one run; with `--peer`,
 * also PyTorch (bench/_peer_train_step.py, 2 threads) when python3-torch is installed.
 *
 * Run: `deno run -A bench/train_step_bench.ts [--steps=20] [--cpu-steps=1] [--peer]`
 *
 * The model is built inline (the paper's smallCNN); switch to lib/models/small_cnn.ts's
 * `smallCNN()` once it exists.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/train/backend.ts";

const arg = (name: string, fallback: number) => {
  const a = Deno.args.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
};
const STEPS = arg("steps", 20), CPU_STEPS = arg("cpu-steps", 1), BATCH = 64;

/** conv3×3(32, no bias)-BN-ReLU → pool → conv3×3(64)-BN-ReLU → pool → conv1×1(128)-BN-ReLU → pool → dense(10). */
function smallCNN(): tf.Sequential {
  const m = tf.sequential();
  const block = (filters: number, kernelSize: number, inputShape?: number[]) => {
    m.add(
      tf.layers.conv2d({
        filters,
        kernelSize,
        useBias: false,
        ...(inputShape ? { inputShape } : {}),
      }),
    );
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.reLU());
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  };
  block(32, 3, [32, 32, 3]);
  block(64, 3);
  block(128, 1);
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, useBias: false }));
  return m;
}

async function measure(backend: "wasm" | "cpu", steps: number, warmup: number) {
  await selectBackend({ prefer: backend });
  const model = smallCNN();
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([BATCH, 32, 32, 3]);
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, 10, "int32"), 10).toFloat();
  const step = async () => {
    const loss = opt.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true)!;
    await loss.data();
    loss.dispose();
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
  if (backend === "wasm" && Deno.args.includes("--profile")) {
    const info = await tf.profile(async () => await step());
    const agg = new Map<string, number>();
    for (const k of info.kernels) {
      if (k.name.endsWith("__op")) continue;
      agg.set(k.name, (agg.get(k.name) ?? 0) + ((await k.kernelTimeMs) as number));
    }
    profile = [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)
      .map(([k, v]) => `${k} ${v.toFixed(1)}ms`).join(", ");
  }
  tf.dispose([x, y, ...model.weights.map((w) => w.read())]);
  opt.dispose();
  return { backend, steps, medianMs: median, imgPerSec: (BATCH * 1000) / median, profile };
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
      args: [new URL("./_peer_train_step.py", import.meta.url).pathname],
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

const wasm = await measure("wasm", STEPS, 3);
const cpu = await measure("cpu", CPU_STEPS, 0); // ≈1 min a step: no warm-up
const torch = Deno.args.includes("--peer") ? peer() : null;
const peerFigure = torch?.imgPerSec ?? 1024;
const peerSource = torch
  ? `PyTorch measured now (${torch.line})`
  : "PyTorch 1.13, 2 threads, 1,024 img/s (shared/PEERS.md)";
console.log(`smallCNN train step, batch ${BATCH}, BN training mode, Adam, this CPU:`);
for (const r of [wasm, cpu]) {
  console.log(
    `  tfjs ${r.backend.padEnd(4)}: ${r.imgPerSec.toFixed(0).padStart(5)} img/s ` +
      `(median ${r.medianMs.toFixed(1)} ms/step over ${r.steps} steps; ` +
      `${(r.imgPerSec / peerFigure).toFixed(3)}× peer)`,
  );
}
console.log(`  wasm / cpu: ${(wasm.imgPerSec / cpu.imgPerSec).toFixed(1)}×`);
console.log(`  peer: ${peerSource}`);
if (wasm.profile) console.log(`  wasm kernel time, one step: ${wasm.profile}`);
