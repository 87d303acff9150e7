import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import {
  registerWebGpuTrainingKernels,
  unregisterWebGpuTrainingKernels,
} from "../../lib/train/webgpu_kernels.ts";
import { assert, assertAllClose, assertEquals } from "../_assert.ts";
import { adamRun, on } from "./_backends.ts";

/** Deterministic pseudo-random values in [-1, 1), plus an offset (a mean far from 0). */
function values(n: number, seed: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = offset + ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string) {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  assertAllClose(actual, expected, tol, what, Math.max(scale, 1e-30));
}

await tf.ready();
const hasWebGpu = await tf.setBackend("webgpu").then((ok) => ok, () => false);
await tf.setBackend("cpu");
if (!hasWebGpu) console.warn("webgpu_kernels_test: no WebGPU adapter, webgpu tests ignored");
registerWebGpuTrainingKernels();

Deno.test("registerWebGpuTrainingKernels() is idempotent and can be undone", () => {
  assertEquals(registerWebGpuTrainingKernels(), {
    replaced: [],
    added: [],
    gradients: [],
    writeUploads: true,
    alreadyRegistered: true,
  });
  const mine = tf.getKernel("Mean", "webgpu");
  assertEquals(unregisterWebGpuTrainingKernels().sort(), [
    "MasokitAdamUpdate",
    "MasokitBatchNormGrad",
    "MasokitBroadcastLeading",
    "Mean",
    "Sum",
  ]);
  const original = tf.getKernel("Mean", "webgpu");
  assert(original !== undefined && original !== mine, "the original Mean kernel is back");
  assertEquals(tf.getKernel("MasokitBatchNormGrad", "webgpu"), undefined);
  assertEquals(unregisterWebGpuTrainingKernels(), []);
  const again = registerWebGpuTrainingKernels();
  assertEquals(again.replaced.sort(), ["Mean", "Sum"]);
  assertEquals(again.added.sort(), [
    "MasokitAdamUpdate",
    "MasokitBatchNormGrad",
    "MasokitBroadcastLeading",
  ]);
  assertEquals(again.gradients, []); // they stay installed (global), falling back without kernels
  assert(tf.getKernel("Mean", "webgpu") !== original, "masokit's Mean is registered again");
});

Deno.test({
  name: "Sum and Mean over leading axes on webgpu equal the cpu backend's",
  ignore: !hasWebGpu,
  fn: async (t) => {
    const cases: { shape: number[]; axes: number[]; keepDims?: boolean }[] = [
      { shape: [64, 30, 30, 32], axes: [0, 1, 2] }, // smallCNN's first BN: two stages
      { shape: [3, 5, 4, 6], axes: [0, 1, 2], keepDims: true }, // one stage
      { shape: [7, 130], axes: [0] }, // three column tiles, last one partial
      { shape: [5000, 1], axes: [0] }, // one column, many groups
      { shape: [6, 4, 9], axes: [0, 1] },
      { shape: [4, 5, 6], axes: [1, 2] }, // not leading: the original kernel
      { shape: [4, 5], axes: [0, 1] }, // all axes: the original kernel
    ];
    for (const { shape, axes, keepDims } of cases) {
      await t.step(`${shape.join("×")} over [${axes}]${keepDims ? ", keepDims" : ""}`, async () => {
        const xv = values(size(shape), size(shape) % 97 + 1, 3);
        const run = () => {
          const x = tf.tensor(xv, shape);
          return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
        };
        const cpu = await on("cpu", run);
        const gpu = await on("webgpu", run);
        // float32 sums of up to 57,600 terms in different orders.
        assertClose(gpu[0], cpu[0], 1e-5, "sum");
        assertClose(gpu[1], cpu[1], 1e-5, "mean");
      });
    }
  },
});

Deno.test({
  name: "batch-norm training gradients on webgpu with these kernels equal the cpu backend's",
  ignore: !hasWebGpu,
  fn: async () => {
    const shape = [8, 10, 10, 12];
    const xv = values(size(shape), 5, 0.5), wv = values(size(shape), 6);
    const gv = values(12, 7, 1), bv = values(12, 8);
    const run = () => {
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const y = tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
        return tf.sum(tf.mul(y, tf.tensor(wv, shape)));
      };
      const x = tf.tensor(xv, shape);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return [mean, variance, ...tf.grads(f)([x, tf.tensor1d(gv), tf.tensor1d(bv)])];
    };
    const cpu = await on("cpu", run);
    const gpu = await on("webgpu", run);
    const names = ["mean", "variance", "dx", "dγ", "dβ"];
    for (let i = 0; i < cpu.length; i++) assertClose(gpu[i], cpu[i], 1e-4, names[i]);
  },
});

/** Runs `f` with `proto[method]` wrapped so that `record` sees each call's arguments. */
async function spying<T extends object, K extends keyof T & string>(
  proto: T,
  method: K,
  record: (...args: never[]) => void,
  f: () => Promise<void>,
): Promise<void> {
  const original = proto[method] as (...args: unknown[]) => unknown;
  (proto as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    (record as (...args: unknown[]) => void)(...args);
    return original.apply(this, args);
  };
  try {
    await f();
  } finally {
    (proto as Record<string, unknown>)[method] = original;
  }
}

/** Runs `f` and records the GPU buffers created meanwhile (size, mapped or not). */
async function buffersCreated(
  f: () => Promise<void>,
): Promise<{ size: number; mapped: boolean }[]> {
  const created: { size: number; mapped: boolean }[] = [];
  await spying(GPUDevice.prototype, "createBuffer", (d: GPUBufferDescriptor) => {
    created.push({ size: d.size, mapped: d.mappedAtCreation === true });
  }, f);
  return created;
}

/** One batch-norm training step's gradients, as a model's would be computed. */
function batchNormStep(shape: number[], xv: Float32Array, wv: Float32Array) {
  const c = shape[shape.length - 1];
  const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const y = tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
    return tf.sum(tf.mul(y, tf.tensor(wv, shape)));
  };
  return tf.grads(f)([tf.tensor(xv, shape), tf.ones([c]), tf.zeros([c])]);
}

Deno.test({
  name: "on webgpu the fused batch-norm gradients run, with and without a scale",
  ignore: !hasWebGpu,
  fn: async () => {
    const shape = [4, 6, 5, 7];
    const xv = values(size(shape), 11, 2), wv = values(size(shape), 12);
    await tf.setBackend("webgpu");
    try {
      const info = await tf.profile(() => tf.dispose(batchNormStep(shape, xv, wv)));
      const ran = new Set(info.kernels.map((k) => k.name));
      assert(ran.has("MasokitBatchNormGrad"), `kernels: ${[...ran]}`);
      assert(ran.has("MasokitBroadcastLeading"), `kernels: ${[...ran]}`);
      assert(!ran.has("Tile"), "tfjs's batch-norm gradient (its Tile) did not run");
    } finally {
      await tf.setBackend("cpu");
    }
    // the kernel itself, with and without γ, against its closed form in float64 (tfjs's own
    // gradient cannot run without a scale: tf.grad throws through tf.batchNorm without one)
    const c = shape[3], rows = size(shape) / c, eps = 1e-2;
    const mv = values(c, 13, 2), vv = values(c, 14, 1.5), gv = values(c, 15, 1);
    const dyv = values(size(shape), 16);
    for (const scaled of [true, false]) {
      const got = await on("webgpu", () => {
        const inputs: tf.NamedTensorMap = {
          x: tf.tensor(xv, shape),
          mean: tf.tensor1d(mv),
          variance: tf.tensor1d(vv),
          dy: tf.tensor(dyv, shape),
          ...(scaled ? { scale: tf.tensor1d(gv) } : {}),
        };
        return tf.engine().runKernel("MasokitBatchNormGrad", inputs, {
          varianceEpsilon: eps,
        }) as tf.Tensor[];
      });
      const s1 = new Float64Array(c), s2 = new Float64Array(c);
      for (let i = 0; i < size(shape); i++) {
        s1[i % c] += dyv[i];
        s2[i % c] += dyv[i] * (xv[i] - mv[i % c]);
      }
      const r = Array.from(vv, (v) => 1 / Math.sqrt(v + eps));
      const g = (j: number) => (scaled ? gv[j] : 1);
      const want = [
        Float32Array.from(dyv, (d, i) => d * g(i % c) * r[i % c]),
        Float32Array.from(s1, (s, j) => -g(j) * r[j] * s),
        Float32Array.from(s2, (s, j) => -0.5 * g(j) * r[j] ** 3 * s),
        Float32Array.from(s2, (s, j) => r[j] * s),
        Float32Array.from(s1),
      ];
      const names = ["dx", "dμ", "dσ²", "dγ", "dβ"];
      assertEquals(rows, 120);
      for (let i = 0; i < 5; i++) {
        assertClose(got[i], want[i], 1e-5, `${names[i]}${scaled ? "" : ", no scale"}`);
      }
    }
  },
});

Deno.test({
  name: "on webgpu, uploads go through writeBuffer: no staging buffer, values intact",
  ignore: !hasWebGpu,
  fn: async () => {
    const n = 3000; // above tfjs-webgpu's CPU hand-off threshold (1,000 values)
    const f32 = values(n, 21), i32 = Int32Array.from(values(n, 22), (v) => Math.round(v * 1000));
    const bools = Uint8Array.from(values(n, 23), (v) => (v > 0 ? 1 : 0));
    // a view into the middle of a larger buffer, and plain numbers
    const wide = values(n + 20, 24), view = wide.subarray(7, 7 + n);
    const plain = Array.from(values(n, 25));
    const run = () => [
      tf.add(tf.tensor1d(f32), 1),
      tf.add(tf.tensor1d(i32, "int32"), 1).toFloat(),
      tf.logicalNot(tf.tensor1d(bools, "bool")).toFloat(),
      tf.add(tf.tensor1d(view), 1),
      tf.add(tf.tensor1d(plain), 1),
    ];
    const expected = [
      Float32Array.from(f32, (v) => v + 1),
      Float32Array.from(i32, (v) => v + 1),
      Float32Array.from(bools, (v) => 1 - v),
      Float32Array.from(view, (v) => v + 1),
      Float32Array.from(plain, (v) => Math.fround(Math.fround(v) + 1)),
    ];
    let out: Float32Array[] = [];
    const ours = await buffersCreated(async () => {
      out = await on("webgpu", run);
    });
    for (let i = 0; i < 5; i++) assertEquals(Array.from(out[i]), Array.from(expected[i]));
    assertEquals(ours.filter((b) => b.mapped && b.size >= n), [], "no mapped staging buffer");
    // tfjs's own uploads, for contrast: a mapped buffer for each of the five tensors
    unregisterWebGpuTrainingKernels();
    try {
      const stock = await buffersCreated(async () => {
        out = await on("webgpu", run);
      });
      for (let i = 0; i < 5; i++) assertEquals(Array.from(out[i]), Array.from(expected[i]));
      assertEquals(stock.filter((b) => b.mapped && b.size >= n * 4).length, 5);
    } finally {
      registerWebGpuTrainingKernels();
    }
  },
});

/** Runs `f` and records the sizes of the queue writes meanwhile (uploads and uniforms). */
async function queueWrites(f: () => Promise<void>): Promise<number[]> {
  const sizes: number[] = [];
  await spying(
    GPUQueue.prototype,
    "writeBuffer",
    (_b: GPUBuffer, _o: number, data: BufferSource, _d?: number, size?: number) => {
      sizes.push(size ?? data.byteLength);
    },
    f,
  );
  return sizes;
}

Deno.test({
  name: "on webgpu a batch-norm training step uploads only its inputs",
  ignore: !hasWebGpu,
  fn: async () => {
    const shape = [8, 10, 10, 16];
    const bytes = size(shape) * 4;
    const xv = values(size(shape), 31, 1), wv = values(size(shape), 32);
    const step = async () => {
      const grads = batchNormStep(shape, xv, wv);
      await Promise.all(grads.map((g) => g.data()));
      tf.dispose(grads);
    };
    const large = async () => {
      await step(); // warm
      let created: { size: number; mapped: boolean }[] = [];
      const writes = await queueWrites(async () => {
        created = await buffersCreated(step);
      });
      assertEquals(created.filter((b) => b.mapped), [], "no staging buffer");
      return writes.filter((n) => n >= bytes).length;
    };
    await tf.setBackend("webgpu");
    try {
      // x, the weights and ones(x.shape) for the gradient of the loss's full sum (tfjs's: not
      // over leading axes only); tfjs's Mean gradient would upload one more for each moment
      assertEquals(await large(), 3);
      registerWebGpuTrainingKernels({ fuseBatchNorm: false });
      assertEquals(tf.getKernel("MasokitBroadcastLeading", "webgpu"), undefined);
      assertEquals(await large(), 5);
    } finally {
      registerWebGpuTrainingKernels();
      await tf.setBackend("cpu");
    }
  },
});

Deno.test("registerWebGpuTrainingKernels() refuses options that are not booleans", () => {
  for (const options of [{ fuseBatchNorm: "yes" }, { writeUploads: 1 }, { fuseAdam: 0 }]) {
    let message = "";
    try {
      registerWebGpuTrainingKernels(options as never);
    } catch (e) {
      message = (e as Error).message;
    }
    assert(
      /expected a boolean/.test(message) &&
        /(fuseBatchNorm|writeUploads|fuseAdam) is/.test(message),
      message,
    );
  }
});

Deno.test({
  name: "on webgpu Adam's fused update follows tfjs's Adam on cpu, step by step",
  ignore: !hasWebGpu,
  fn: async () => {
    const cpu = await adamRun("cpu", 4, "cpu");
    const gpu = await adamRun("webgpu", 4, "webgpu");
    assert(gpu.ran.has("MasokitAdamUpdate") && !gpu.ran.has("Sqrt"), `ran: ${[...gpu.ran]}`);
    assert(!cpu.ran.has("MasokitAdamUpdate") && cpu.ran.has("Sqrt"), "tfjs's update on cpu");
    assertEquals(gpu.names, cpu.names);
    // weights, iterations (4), first and second moments
    assertEquals([gpu.values[3][0], cpu.values[3][0]], [4, 4]);
    for (let i = 0; i < cpu.values.length; i++) {
      assertClose(gpu.values[i], cpu.values[i], 1e-5, i < 3 ? `w${i}` : cpu.names[i - 3]);
    }
  },
});
