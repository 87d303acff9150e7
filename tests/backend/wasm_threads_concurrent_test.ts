import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../../lib/backend/wasm_threads.ts";
import { liveWorkers } from "../../lib/backend/_wasm_threads_glue.ts";
import { assert, assertMatch, assertStrictEquals } from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** A product computed on the active backend (64 for a working one). */
async function product(): Promise<number> {
  const a = tf.ones([64, 64]);
  const y = tf.matMul(a, a);
  const v = (await y.data())[0];
  tf.dispose([a, y]);
  return v;
}

/** Switches back to tfjs-cpu, removes `name` and waits for its workers to stop. */
async function remove(name: string): Promise<void> {
  await tf.setBackend("cpu");
  tf.removeBackend(name);
  await new Promise((r) => setTimeout(r, 50));
}

Deno.test("enableWasmThreads() and tf.setBackend() called concurrently: one module, no lost workers", async (t) => {
  const before = liveWorkers().length;
  await t.step("tf.setBackend() twice at once starts one module", async () => {
    const name = "wasm-threads-twice";
    const r = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
    assert(r.enabled, r.reason);
    const [, second] = await Promise.all([tf.setBackend(name), tf.setBackend(name)]);
    assert(second, "the second tf.setBackend() started the backend");
    assertStrictEquals(tf.getBackend(), name);
    assertStrictEquals(await product(), 64);
    assertStrictEquals(
      liveWorkers().length,
      before + 1,
      "pthread workers of one module (2 threads)",
    );
    await remove(name);
    assertStrictEquals(liveWorkers().length, before, "workers left after tf.removeBackend()");
  });
  await t.step("enabling again while tf.setBackend() starts the backend is refused", async () => {
    const name = "wasm-threads-starting";
    const r = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
    assert(r.enabled, r.reason);
    const set = tf.setBackend(name);
    const again = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
    assertStrictEquals(again.enabled, false);
    assertMatch(again.reason, /backend 'wasm-threads-starting' is being initialised/);
    assert(await set, "tf.setBackend() was undone");
    assertStrictEquals(tf.getBackend(), name);
    assertStrictEquals(await product(), 64);
    await remove(name);
    assertStrictEquals(liveWorkers().length, before, "workers left after tf.removeBackend()");
  });
  await t.step(
    "tf.setBackend() while a second call loads its files: that call is refused",
    async () => {
      const name = "wasm-threads-loading";
      const r = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
      assert(r.enabled, r.reason);
      // the second call's file reads answer only once tf.setBackend() has started the backend
      const readFile = Deno.readFile;
      let set: Promise<boolean> | undefined;
      let reading: () => void = () => {};
      const reads = new Promise<void>((r) => reading = r);
      Deno.readFile = async (...args: Parameters<typeof Deno.readFile>) => {
        reading();
        const bytes = await readFile(...args);
        await set;
        return bytes;
      };
      try {
        const again = enableWasmThreads({ threads: 2, backendName: name, quiet: true });
        await reads; // past its first checks, loading
        set = tf.setBackend(name);
        const report = await again;
        assertStrictEquals(report.enabled, false, "the second call replaced a starting backend");
        assertMatch(report.reason, /backend 'wasm-threads-loading' is already initialised/);
      } finally {
        Deno.readFile = readFile;
      }
      assert(await set, "tf.setBackend() was undone");
      assertStrictEquals(tf.getBackend(), name);
      assertStrictEquals(await product(), 64);
      await remove(name);
      assertStrictEquals(liveWorkers().length, before, "workers left after tf.removeBackend()");
    },
  );
});
