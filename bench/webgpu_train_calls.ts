/**
 * What one smallCNN training step (batch 64, batch-norm, Adam) asks of WebGPU on tfjs-webgpu:
 * the API calls of a warm step — dispatches (bind groups), submits, queue writes, buffers
 * created (and how many of those are mapped staging buffers, with their bytes), read-backs —
 * stock and with `registerWebGpuTrainingKernels()`, and without batch-norm for scale. Counts,
 * not timings: they are the same on a software adapter and on a GPU.
 *
 * `deno run -A bench/webgpu_train_calls.ts`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { withoutInputGradients } from "../lib/train/input_gradient.ts";
import {
  registerWebGpuTrainingKernels,
  unregisterWebGpuTrainingKernels,
} from "../lib/train/webgpu_kernels.ts";

const counts = new Map<string, number>();
let staged = 0;
const bump = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
/** Counts the calls of `proto[name]` (and, for createBuffer, the mapped buffers' bytes). */
function count(proto: object, name: string): void {
  const p = proto as Record<string, (...a: unknown[]) => unknown>;
  const f = p[name];
  p[name] = function (this: unknown, ...a: unknown[]) {
    bump(name);
    const d = a[0] as GPUBufferDescriptor;
    if (name === "createBuffer" && d.mappedAtCreation) {
      bump("mapped buffers");
      staged += d.size;
    }
    return f.apply(this, a);
  };
}
count(GPUDevice.prototype, "createBindGroup");
count(GPUDevice.prototype, "createBuffer");
count(GPUDevice.prototype, "createComputePipeline");
count(GPUQueue.prototype, "submit");
count(GPUQueue.prototype, "writeBuffer");
count(GPUBuffer.prototype, "mapAsync");

if (!(await tf.setBackend("webgpu").catch(() => false))) {
  console.log("no WebGPU adapter");
  Deno.exit(0);
}

async function calls(batchNorm: boolean): Promise<string> {
  const model = smallCNN({ batchNorm, seed: 1 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([64, 32, 32, 3], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.randomUniform([64], 0, 10, "int32", 2), 10).toFloat();
  const step = async () => {
    const loss = withoutInputGradients([x], () =>
      opt.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
        true,
      )!);
    await loss.data();
    loss.dispose();
  };
  for (let i = 0; i < 3; i++) await step();
  counts.clear();
  staged = 0;
  await step();
  tf.dispose([x, y, ...model.weights.map((w) => w.read())]);
  opt.dispose();
  const n = (k: string) => counts.get(k) ?? 0;
  return `${n("createBindGroup")} dispatches, ${n("submit")} submits, ${
    n("writeBuffer")
  } queue writes, ${n("createBuffer")} buffers created (${n("mapped buffers")} mapped: ${
    (staged / 2 ** 20).toFixed(1)
  } MiB), ${n("createComputePipeline")} pipelines, ${n("mapAsync")} read-backs`;
}

console.log(
  `one warm smallCNN training step, batch 64, Adam, on '${
    (await navigator.gpu.requestAdapter())?.info.description
  }':`,
);
unregisterWebGpuTrainingKernels();
console.log(`  batch-norm, stock tfjs-webgpu: ${await calls(true)}`);
registerWebGpuTrainingKernels();
console.log(`  batch-norm, masokit's kernels: ${await calls(true)}`);
console.log(`  no batch-norm, masokit's kernels: ${await calls(false)}`);
