import * as tf from "@tensorflow/tfjs";
import { describeGpuAdapter, selectBackend } from "../../lib/train/backend.ts";
import { activeWasmBackend, heapParallelism } from "../../lib/backend/_wasm_ops.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import { runChildScript } from "../_threads.ts";

await tf.ready();

/**
 * Runs `code` in a child Deno (the wasm backend can be started, and threaded, only once per
 * process) and parses the last line it printed as JSON.
 */
async function lastJsonLine(code: string) {
  return JSON.parse((await runChildScript(code)).split("\n").pop()!);
}

Deno.test("selectBackend() picks wasm by default and honours explicit choices", async (t) => {
  const previous = tf.getBackend();
  try {
    await t.step("auto → wasm, with the training kernels registered", async () => {
      const choice = await selectBackend();
      assertEquals(choice.backend, "wasm");
      assertEquals(tf.getBackend(), "wasm");
      assertMatch(choice.reason, /^auto: wasm/);
      // Threads default to the core count; the reason names the build that runs.
      const cores = Math.min(8, navigator.hardwareConcurrency || 1);
      assertMatch(choice.reason, cores > 1 ? /(\d+ threads|1 thread \()/ : /1 thread/);
      // on the threaded build masokit's heap kernels are split from the start, thread for thread
      const threads = choice.reason.match(/(\d+) threads/)?.[1];
      if (threads !== undefined) {
        assertMatch(choice.reason, new RegExp(`masokit kernels on ${threads} threads`));
        assertEquals(heapParallelism(activeWasmBackend()!), Number(threads));
      }
      assert(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
      // The filter gradient of a 1×1 convolution of ones is the number of pixels.
      const dw = tf.grad((w) =>
        tf.conv2d(tf.ones([2, 3, 3, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, "valid").sum()
      )(
        tf.zeros([1, 1, 1, 1]),
      );
      assertEquals(Array.from(await dw.data()), [18]);
    });
    await t.step("cpu on request", async () => {
      const choice = await selectBackend({ prefer: "cpu" });
      assertEquals(choice, { backend: "cpu", reason: choice.reason });
      assertEquals(tf.getBackend(), "cpu");
    });
    await t.step("wasm on request", async () => {
      const choice = await selectBackend({ prefer: "wasm" });
      assertEquals(choice.backend, "wasm");
      assertEquals(tf.getBackend(), "wasm");
    });
    await t.step("auto never picks a software WebGPU adapter", async () => {
      const gpu = await describeGpuAdapter();
      const choice = await selectBackend({ prefer: "auto" });
      assert(choice.backend !== "webgpu");
      if (gpu !== null && /llvmpipe/i.test(gpu.description)) {
        assert(gpu.software, `llvmpipe must count as software: ${JSON.stringify(gpu)}`);
        assertMatch(choice.reason, /software/);
      }
    });
    await t.step("wasmThreads out of range is a RangeError naming it", async () => {
      for (const bad of [0, 9, 1.5, Number.NaN]) {
        await assertRejects(
          () => selectBackend({ prefer: "wasm", wasmThreads: bad }),
          (e: Error) =>
            e instanceof RangeError && e.message.includes(`wasmThreads is ${bad}, expected`),
        );
      }
    });
    await t.step("an already started wasm backend is reused, threads unchanged", async () => {
      const first = await selectBackend({ prefer: "wasm" });
      const again = await selectBackend({ prefer: "wasm", wasmThreads: 1 });
      assertEquals(again.reason, first.reason);
    });
    await t.step("an unknown preference is a RangeError naming it", async () => {
      await assertRejects(
        () => selectBackend({ prefer: "tpu" as unknown as "cpu" }),
        (e: Error) => e instanceof RangeError && e.message.includes('"tpu"'),
      );
    });
  } finally {
    await tf.setBackend(previous);
  }
});

Deno.test("selectBackend({ wasmThreads: 2 }) trains with the same gradients as cpu", async () => {
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { selectBackend } from "${new URL("../../lib/train/backend.ts", import.meta.url)}";
    const seq = (n, g) => Array.from({ length: n }, (_, i) => g(i));
    const f = () => {
      const x = tf.tensor4d(seq(2 * 6 * 6 * 4, Math.sin), [2, 6, 6, 4]);
      const w = tf.tensor4d(seq(3 * 3 * 4 * 5, Math.cos), [3, 3, 4, 5]);
      return tf.grad((w) => tf.conv2d(x, w, 1, "valid").square().sum())(w);
    };
    const choice = await selectBackend({ prefer: "wasm", wasmThreads: 2 });
    const wasm = Array.from(await f().data());
    await tf.setBackend("cpu");
    const cpu = Array.from(await f().data());
    console.log(JSON.stringify({ reason: choice.reason, wasm, cpu }));
  `;
  const { reason, wasm, cpu } = await lastJsonLine(code);
  assertMatch(reason, /2 threads|1 thread \(/);
  const scale = Math.max(...cpu.map(Math.abs));
  for (let i = 0; i < cpu.length; i++) {
    assert(Math.abs(wasm[i] - cpu[i]) <= 1e-5 * scale, `dW[${i}]: ${wasm[i]} vs ${cpu[i]}`);
  }
});

Deno.test("on threaded wasm, Adam's SIMD update split between threads equals the JS loop bit for bit", async () => {
  const lib = (path: string) => new URL(`../../lib/${path}`, import.meta.url).href;
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { selectBackend } from "${lib("train/backend.ts")}";
    import { wasmAdamSimd } from "${lib("train/_wasm_adam_simd.ts")}";
    import { heapParallelism, activeWasmBackend } from "${lib("backend/_wasm_ops.ts")}";
    const choice = await selectBackend({ prefer: "wasm", wasmThreads: 2 });
    const n = 40_003; // above minSplitValues, and 3 weights past the last vector
    const seq = (k, g) => Float32Array.from({ length: n }, (_, i) => g(i * 0.37 + k));
    const run = (simd) => {
      wasmAdamSimd.enabled = simd;
      const w = tf.variable(tf.tensor1d(seq(1, Math.sin)));
      const opt = tf.train.adam(0.05, 0.8, 0.9, 1e-3);
      for (let s = 0; s < 4; s++) {
        opt.applyGradients({ [w.name]: tf.tensor1d(seq(s, Math.cos)) });
      }
      const values = Array.from(w.dataSync());
      w.dispose();
      opt.dispose();
      return values;
    };
    const simd = run(true), loop = run(false);
    const same = simd.every((v, i) => Object.is(v, loop[i]));
    const changed = simd.some((v, i) => v !== Math.fround(Math.sin(i * 0.37 + 1)));
    console.log(JSON.stringify({
      reason: choice.reason, same, changed, threads: heapParallelism(activeWasmBackend()),
    }));
  `;
  const { reason, same, changed, threads } = await lastJsonLine(code);
  assertMatch(reason, /2 threads|1 thread \(/);
  assert(changed, "Adam changed no weight");
  assert(same, "the SIMD update differs from the JS loop");
  if (/2 threads/.test(reason)) assert(threads === 2, `heap parallelism ${threads}`);
});
