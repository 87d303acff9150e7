import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../../lib/backend/wasm_threads.ts";
import {
  activeWasmBackend,
  heapMemory,
  heapParallelism,
  heapRun,
  heapThreadsFor,
  type WasmBackendLike,
} from "../../lib/backend/_wasm_ops.ts";
import {
  heapThreads,
  heapThreadStats,
  runningHeapThreads,
  stopHeapThreads,
} from "../../lib/backend/_heap_threads.ts";
import { FunctionBuilder, I32, Op } from "../../lib/util/_wasm_emitter.ts";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import {
  wasmWinograd,
  winogradRuns,
  withWinogradConvs,
} from "../../lib/backend/tfjs/_wasm_winograd.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { cases } from "../_cases.ts";
import { lcgValues, runChildScript, untilHeapThreads } from "../_threads.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

const THREADED = "wasm-heap-threads-test";

const values = lcgValues;

/** `fill(dst, n, v)`: n i32 values v from byte address dst. */
function fillModule(): Record<string, FunctionBuilder> {
  const f = new FunctionBuilder([I32, I32, I32]);
  const [dst, n, v] = [0, 1, 2];
  const end = f.local(I32);
  f.get(n).i32(4).op(Op.i32Mul).get(dst).op(Op.i32Add).set(end);
  f.forLoop(dst, end, 4, () => {
    f.get(dst).get(v).mem(Op.i32Store, 2, 0);
  });
  return { fill: f };
}

/** The threaded backend with helper threads started (polls until they answer). */
async function threadedWithHelpers(name = THREADED): Promise<WasmBackendLike> {
  await tf.setBackend(name);
  const backend = activeWasmBackend();
  assert(backend !== null, "the threaded backend is not a tfjs-wasm one");
  await untilHeapThreads(backend, 2);
  return backend;
}

/** A conv layer with batch-norm in training mode: output and all gradients, on `name`. */
async function convBnStep(name: string): Promise<Float32Array[]> {
  const before = tf.getBackend();
  await tf.setBackend(name);
  try {
    // 8·30·30 positions × 27 taps × 32 filters: large enough for the filter gradient and the
    // batch-norm passes to be split between threads
    const x = tf.tensor4d(values(8 * 32 * 32 * 3, 1), [8, 32, 32, 3]);
    const w = tf.tensor4d(values(3 * 3 * 3 * 32, 2), [3, 3, 3, 32]);
    const g = tf.tensor1d(values(32, 3).map((v) => 1 + 0.5 * v));
    const b = tf.tensor1d(values(32, 4));
    const weights = tf.tensor4d(values(8 * 30 * 30 * 32, 5), [8, 30, 30, 32]);
    const f = (...[xx, ww, gg, bb]: tf.Tensor[]) => {
      const z = tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, "valid");
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      const y = tf.batchNorm(z, mean, variance, bb as tf.Tensor1D, gg as tf.Tensor1D, 1e-3);
      return tf.sum(tf.mul(tf.relu(y), weights));
    };
    const { value, grads } = tf.valueAndGrads(f)([x, w, g, b]);
    const out = await Promise.all(
      [value, ...grads].map((t) => t.data() as Promise<Float32Array>),
    );
    tf.dispose([x, w, g, b, weights, value, ...grads]);
    return out;
  } finally {
    await tf.setBackend(before);
  }
}

registerWasmTrainingKernels(); // before the threaded backend starts: it copies wasm's kernels
const report = await enableWasmThreads({ threads: 2, backendName: THREADED, quiet: true });

Deno.test({
  name: "heap kernels run in parts on helper threads over the shared heap",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async (t) => {
    const backend = await threadedWithHelpers();
    try {
      await t.step("every part writes its own range", () => {
        const buf = backend.makeOutput([3000], "int32");
        const a = (backend.typedArrayFromHeap(buf) as Int32Array).byteOffset;
        heapRun(backend, "test fill", fillModule, "fill", [[a, 1000, 7], [a + 4000, 2000, 9]]);
        const v = backend.typedArrayFromHeap(buf) as Int32Array;
        assertEquals(v.slice(0, 1000).every((x) => x === 7), true);
        assertEquals(v.slice(1000).every((x) => x === 9), true);
        backend.disposeData(buf.dataId);
      });
      await t.step("back-to-back and spaced calls, with the threads polling or not", async () => {
        // a helper polls `spinMicros` for its next part after one, then sleeps: calls that come
        // at once (found while polling), after a pause (asleep), and with polling off
        const spin = heapThreads.spinMicros;
        const buf = backend.makeOutput([2000], "int32");
        const parts = heapThreadStats.helperParts;
        try {
          for (let i = 0; i < 60; i++) {
            heapThreads.spinMicros = [spin, 0, 50][i % 3];
            if (i % 4 === 3) await new Promise((r) => setTimeout(r, 2));
            const a = (backend.typedArrayFromHeap(buf) as Int32Array).byteOffset;
            heapRun(backend, "test fill", fillModule, "fill", [[a, 1000, i], [a + 4000, 1000, -i]]);
            const v = backend.typedArrayFromHeap(buf) as Int32Array;
            assert(v.slice(0, 1000).every((x) => x === i), `call ${i}: the calling thread's part`);
            assert(v.slice(1000).every((x) => x === -i), `call ${i}: the helper's part`);
          }
        } finally {
          heapThreads.spinMicros = spin;
          backend.disposeData(buf.dataId);
        }
        assertEquals(heapThreadStats.helperParts - parts, 60);
      });
      await t.step("a part that traps on a helper throws here; helpers keep working", () => {
        const memory = heapMemory(backend)!;
        const outside = memory.buffer.byteLength; // one past the heap
        assertThrows(
          () => heapRun(backend, "test fill", fillModule, "fill", [[0, 0, 0], [outside, 4, 1]]),
          WebAssembly.RuntimeError,
        );
        assertEquals(heapParallelism(backend), 2);
        const buf = backend.makeOutput([8], "int32");
        const a = (backend.typedArrayFromHeap(buf) as Int32Array).byteOffset;
        heapRun(backend, "test fill", fillModule, "fill", [[a, 4, 3], [a + 16, 4, 5]]);
        assertEquals([...backend.typedArrayFromHeap(buf)], [3, 3, 3, 3, 5, 5, 5, 5]);
        backend.disposeData(buf.dataId);
      });
    } finally {
      await tf.setBackend("cpu");
    }
  },
});

Deno.test({
  name: "conv + batch-norm training gradients with helper threads equal the cpu backend's",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async () => {
    await threadedWithHelpers();
    await tf.setBackend("cpu");
    const cpu = await convBnStep("cpu");
    const helpers = heapThreads.helpers;
    const names = ["loss", "d/dx", "d/dw", "d/dγ", "d/dβ"];
    for (const on of [true, false]) {
      heapThreads.helpers = on ? helpers : 0;
      try {
        const wasm = await convBnStep(THREADED);
        for (let i = 0; i < names.length; i++) {
          const scale = largestMagnitude(cpu[i]);
          assert(scale > 0, `${names[i]} is all zeros`);
          assertAllClose(wasm[i], cpu[i], 2e-4, `${names[i]} (helpers ${on})`, scale);
        }
      } finally {
        heapThreads.helpers = helpers;
      }
    }
  },
});

Deno.test({
  name: "Winograd's filter transforms split between helper threads equal the cpu backend's",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async () => {
    // 128 × 256 filters: 32,768 floats an array, enough for the transforms to split
    const xv = values(2 * 6 * 6 * 128, 11), wv = values(9 * 128 * 256, 12);
    const dyv = values(2 * 4 * 4 * 256, 13);
    const run = () => {
      const x = tf.tensor4d(xv, [2, 6, 6, 128]), w = tf.tensor4d(wv, [3, 3, 128, 256]);
      const dy = tf.tensor4d(dyv, [2, 4, 4, 256]);
      const y = tf.conv2d(x, w, 1, "valid");
      const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        strides: 1,
        pad: "valid",
        dataFormat: "NHWC",
        filterShape: [3, 3, 128, 256],
      }) as tf.Tensor;
      const out = [y, dw].map((t) => t.dataSync() as Float32Array);
      tf.dispose([x, w, dy, y, dw]);
      return out;
    };
    await tf.setBackend("cpu");
    const cpu = run();
    const backend = await threadedWithHelpers();
    const { minFilterMacs } = wasmWinograd;
    wasmWinograd.minFilterMacs = 0;
    try {
      assertEquals(heapParallelism(backend), 2);
      const before = winogradRuns.count;
      const wasm = withWinogradConvs(run);
      assertEquals(winogradRuns.count - before, 2, "the conv and dW by Winograd");
      ["conv", "dW"].forEach((what, i) =>
        assertAllClose(wasm[i], cpu[i], 1e-5, what, largestMagnitude(cpu[i]))
      );
    } finally {
      wasmWinograd.minFilterMacs = minFilterMacs;
      await tf.setBackend("cpu");
    }
  },
});

Deno.test({
  name: "the engine's templates with helper threads equal the float64 reference",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async () => {
    // the pooled CNN: the fused pool/ReLU/conv transposes split their examples between threads
    const c = cases(31).find((k) => k.name.startsWith("pooled CNN"))!;
    const net = fromLayersModel(c.model);
    const ref = affineMap(net, c.x, { backend: "cpu" });
    const a = ref.A.dataSync(), b = ref.B.dataSync();
    await threadedWithHelpers();
    try {
      const x = tf.tensor(c.x.dataSync(), c.x.shape);
      const ours = affineMap(net, x, { backend: "tfjs" });
      assertAllClose(ours.A.dataSync(), a, 1e-4, "A", largestMagnitude(a));
      assertAllClose(ours.B.dataSync(), b, 1e-4, "B", largestMagnitude(b));
      tf.dispose([x, ours.A, ours.B]);
    } finally {
      await tf.setBackend("cpu");
    }
  },
});

Deno.test({
  name:
    "training kernels give the same bits before and after the helper threads start; tf.removeBackend() stops them",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async () => {
    // a fresh threaded backend, its helpers stopped: its first kernels run before any new
    // helper has answered (tf.setBackend() waits for the first helpers)
    const name = "wasm-heap-threads-fresh";
    const running = runningHeapThreads();
    const fresh = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
    assert(fresh.enabled, fresh.reason);
    const x = values(16 * 15 * 15 * 32, 7), dy = values(16 * 13 * 13 * 64, 8);
    const step = () => {
      const xt = tf.tensor4d(x, [16, 15, 15, 32]), dyt = tf.tensor4d(dy, [16, 13, 13, 64]);
      // 3×3×32 taps: the direct kernel only because the heap has helpers, in 8 partial sums
      const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, {
        strides: 1,
        pad: "valid",
        dataFormat: "NHWC",
        filterShape: [3, 3, 32, 64],
      }) as tf.Tensor;
      const { mean, variance } = tf.moments(dyt, [0, 1, 2]);
      const out = [dw, mean, variance].map((t) => Array.from(t.dataSync()));
      tf.dispose([xt, dyt, dw, mean, variance]);
      return out;
    };
    await tf.setBackend(name);
    try {
      const backend = activeWasmBackend()!;
      assertEquals(heapParallelism(backend), 2); // started by tf.setBackend()
      stopHeapThreads(heapMemory(backend)!);
      assertEquals(heapParallelism(backend), 1); // starts new helpers; none has answered yet
      const before = step();
      await threadedWithHelpers(name);
      const after = step();
      for (let i = 0; i < before.length; i++) assertEquals(after[i], before[i], `output ${i}`);
    } finally {
      await tf.setBackend("cpu");
      tf.removeBackend(name);
    }
    // tf.removeBackend() stopped its helpers (they would keep its memory alive)
    const start = performance.now();
    while (runningHeapThreads() !== running) {
      assert(performance.now() - start < 10_000, `${runningHeapThreads()} helpers still run`);
      await new Promise((r) => setTimeout(r, 20));
    }
  },
});

Deno.test({
  name: "a threaded backend's heap kernels use as many threads as its XNNPACK",
  ignore: !report.enabled || heapThreads.helpers === 0,
  fn: async () => {
    const name = "wasm-heap-threads-one";
    const one = await enableWasmThreads({ threads: 1, backendName: name, quiet: true });
    assert(one.enabled, one.reason);
    await tf.setBackend(name);
    try {
      assertEquals(heapThreadsFor(activeWasmBackend()!), 1); // 1 XNNPACK thread: no helpers
    } finally {
      await tf.setBackend("cpu");
      tf.removeBackend(name);
    }
    await tf.setBackend(THREADED);
    try {
      assertEquals(heapThreadsFor(activeWasmBackend()!), 2);
    } finally {
      await tf.setBackend("cpu");
    }
  },
});

Deno.test({
  name: "helper threads do not keep a script alive",
  ignore: !report.enabled || heapThreads.helpers === 0,
  permissions: { run: true, read: true },
  fn: async () => {
    const lib = (p: string) => new URL(`../../lib/${p}`, import.meta.url).href;
    const script = `
      import * as tf from "@tensorflow/tfjs";
      import "@tensorflow/tfjs-backend-wasm";
      import { selectBackend } from "${lib("train/backend.ts")}";
      import { heapParallelism, activeWasmBackend } from "${lib("backend/_wasm_ops.ts")}";
      await selectBackend({ prefer: "wasm", wasmThreads: 2 });
      const backend = activeWasmBackend();
      heapParallelism(backend); // starts the helpers
      while (heapParallelism(backend) < 2) await new Promise((r) => setTimeout(r, 20));
      const x = tf.randomNormal([8, 32, 32, 3]), dy = tf.randomNormal([8, 30, 30, 32]);
      const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 3, 32],
      });
      console.log("parts", heapParallelism(backend), dw.shape.join("x"));
    `;
    const text = await runChildScript(script);
    assert(text.endsWith("parts 2 3x3x3x32"), text);
  },
});
