/**
 * Helpers of the threaded-wasm tests: seeded values, waiting for masokit's heap helper threads,
 * and running a script in a child Deno that must exit by itself.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  activeWasmBackend,
  heapParallelism,
  type WasmBackendLike,
} from "../lib/backend/_wasm_ops.ts";
import { enableWasmThreads } from "../lib/backend/wasm_threads.ts";
import { assert } from "./_assert.ts";

/** Deterministic pseudo-random values in [-1, 1) (a linear congruential generator). */
export function lcgValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Resolves once `backend`'s heap kernels run on `threads` threads (fails after 30 s). */
export async function untilHeapThreads(backend: WasmBackendLike, threads: number): Promise<void> {
  const start = performance.now();
  while (heapParallelism(backend) < threads) {
    assert(performance.now() - start < 30_000, "helper threads did not start within 30 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `fn` on a threaded wasm backend registered as `name` (2 XNNPACK threads), once its heap
 * helper threads have started; tfjs-cpu is active again afterwards.
 */
export async function onThreadedWasm(name: string, fn: () => void | Promise<void>): Promise<void> {
  const report = await enableWasmThreads({ threads: 2, backendName: name, quiet: true });
  assert(report.enabled, report.reason);
  await tf.setBackend(name);
  try {
    await untilHeapThreads(activeWasmBackend()!, Math.min(2, navigator.hardwareConcurrency));
    await fn();
  } finally {
    await tf.setBackend("cpu");
  }
}

/**
 * Runs `script` with `deno eval` (the project's config, all permissions) in a child process
 * that is killed after 60 s; asserts that it exited by itself with success and returns its
 * trimmed standard output.
 */
export async function runChildScript(script: string): Promise<string> {
  const config = new URL("../deno.json", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", config, "-A", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  assert(out.success, `child failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}
