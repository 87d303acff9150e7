import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "../../lib/backend/wasm_threads.ts";
import { liveWorkers } from "../../lib/backend/_wasm_threads_glue.ts";
import { assert, assertMatch, assertRejects, assertStrictEquals } from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Collects console.warn lines while `fn` runs. */
async function warnings(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.warn = warn;
  }
  return lines;
}

Deno.test("enableWasmThreads() without shared memory: one line, single-threaded wasm still works", async () => {
  const sab = Object.getOwnPropertyDescriptor(globalThis, "SharedArrayBuffer")!;
  let report: Awaited<ReturnType<typeof enableWasmThreads>> | undefined;
  const lines = await warnings(async () => {
    delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
    try {
      report = await enableWasmThreads({ threads: 2, backendName: "wasm-threads-no-sab" });
    } finally {
      Object.defineProperty(globalThis, "SharedArrayBuffer", sab);
    }
  });
  assertStrictEquals(report!.enabled, false);
  assertStrictEquals(lines.length, 1);
  assertStrictEquals(lines[0], report!.reason);
  assertMatch(
    lines[0],
    /^wasm threads not enabled, staying single-threaded: no shared WebAssembly memory/,
  );
  assertStrictEquals(tf.findBackendFactory("wasm-threads-no-sab"), null);
});

Deno.test("enableWasmThreads() when a pthread worker fails to start: no workers left, stock wasm for 'wasm', a later start works", async (t) => {
  const before = liveWorkers().length;
  const readTextFile = Deno.readTextFile;
  // the glue throws in the workers only (there its Worker parameter is undefined)
  Deno.readTextFile = async (...args: Parameters<typeof Deno.readTextFile>) =>
    `if (Worker === undefined) throw new Error("simulated pthread failure");\n` +
    await readTextFile(...args);
  const name = "wasm-threads-failing";
  try {
    await t.step("under its own name: tf.setBackend() is false", async () => {
      const r = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
      assert(r.enabled, r.reason);
      // tfjs' own report of the failed initialisation
      const lines = await warnings(async () => {
        assertStrictEquals(await tf.setBackend(name), false);
      });
      assert(lines.some((l) => l.includes("a pthread worker failed: simulated pthread failure")));
      assertStrictEquals(liveWorkers().length, before, "workers of the failed start left");
      await tf.setBackend("cpu");
    });
    await t.step("as 'wasm': one line, then tfjs' single-threaded wasm", async () => {
      const r = await enableWasmThreads({ threads: 2, quiet: false });
      assert(r.enabled, r.reason);
      const lines = await warnings(async () => {
        assert(await tf.setBackend("wasm"));
      });
      assertStrictEquals(lines.length, 1, JSON.stringify(lines));
      assertMatch(
        lines[0],
        /^wasm threads failed, using single-threaded wasm: .*simulated pthread failure$/,
      );
      const a = tf.ones([8, 8]);
      const y = tf.matMul(a, a);
      assertStrictEquals((await y.data())[0], 8);
      tf.dispose([a, y]);
      assertStrictEquals(liveWorkers().length, before);
      await tf.setBackend("cpu");
    });
  } finally {
    Deno.readTextFile = readTextFile;
  }
  await t.step("the glue intact again: the threaded backend starts", async () => {
    tf.removeBackend(name);
    const r = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
    assert(r.enabled, r.reason);
    assert(await tf.setBackend(name));
    assertStrictEquals(liveWorkers().length, before + 1);
    await tf.setBackend("cpu");
    tf.removeBackend(name);
    await new Promise((r) => setTimeout(r, 50));
    assertStrictEquals(liveWorkers().length, before);
  });
});

Deno.test("enableWasmThreads() names a thread count that is not a number as it is", async () => {
  await assertRejects(
    () => enableWasmThreads({ threads: Number.NaN }),
    /threads is NaN, expected an integer in \[1, 8\]/,
  );
  await assertRejects(
    () => enableWasmThreads({ threads: Infinity }),
    /threads is Infinity, expected an integer in \[1, 8\]/,
  );
  await assertRejects(
    () => enableWasmThreads({ threads: "2" as unknown as number }),
    /threads is "2", expected an integer in \[1, 8\]/,
  );
});

Deno.test("enableWasmThreads() without options on a machine of more than 8 cores takes 8 threads", async () => {
  const own = Object.getOwnPropertyDescriptor(navigator, "hardwareConcurrency");
  Object.defineProperty(navigator, "hardwareConcurrency", { value: 16, configurable: true });
  const name = "wasm-threads-many-cores";
  try {
    const r = await enableWasmThreads({ backendName: name, quiet: true });
    assert(r.enabled, r.reason);
    assertStrictEquals(r.threads, 8);
  } finally {
    if (own === undefined) {
      delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
    } else Object.defineProperty(navigator, "hardwareConcurrency", own);
    tf.removeBackend(name); // never started: no workers
  }
  assert(navigator.hardwareConcurrency !== 16);
});

Deno.test({
  name:
    "the --preload opt-in names MASOKIT_WASM_THREADS when it is not a thread count, and takes it empty as unset",
  permissions: { run: true, read: true, write: true, env: true },
  fn: async (t) => {
    const preload = new URL("../../lib/backend/_wasm_threads_preload.ts", import.meta.url).pathname;
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      script,
      `import * as tf from "@tensorflow/tfjs";\nawait tf.setBackend("wasm");\nconsole.log("backend", tf.getBackend());\n`,
    );
    const run = async (value: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, "--preload", preload, script],
        env: { MASOKIT_WASM_THREADS: value },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { success: out.success, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    try {
      for (const value of ["abc", "0", "9", "2.5"]) {
        await t.step(`MASOKIT_WASM_THREADS=${JSON.stringify(value)}`, async () => {
          const r = await run(value);
          assertStrictEquals(r.success, false, r.stdout);
          assert(
            r.stderr.includes(
              `MASOKIT_WASM_THREADS is ${JSON.stringify(value)}, expected an integer in [1, 8]`,
            ),
            r.stderr,
          );
        });
      }
      await t.step("MASOKIT_WASM_THREADS empty: one thread per core", async () => {
        const r = await run("");
        assert(r.success, r.stderr);
        assert(r.stdout.includes("backend wasm"), r.stdout);
        assertMatch(
          r.stderr,
          /wasm threads: threaded SIMD build with \d XNNPACK threads as 'wasm'/,
        );
      });
    } finally {
      await Deno.remove(script);
    }
  },
});
