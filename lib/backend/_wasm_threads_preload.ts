/**
 * Command-line opt-in for a multi-threaded `wasm` backend, for scripts that cannot be edited:
 * `deno run -A --preload lib/backend/_wasm_threads_preload.ts script.ts`. Threads:
 * `MASOKIT_WASM_THREADS` (default `navigator.hardwareConcurrency`); see
 * {@link enableWasmThreads}.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "./wasm_threads.ts";

const env = Deno.env.get("MASOKIT_WASM_THREADS");
const report = await enableWasmThreads(env === undefined ? {} : { threads: Number(env) });
if (report.enabled) console.error(report.reason);
