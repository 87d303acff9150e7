/**
 * Command-line opt-in for a multi-threaded `wasm` backend, for scripts that cannot be edited:
 * `deno run -A --preload lib/backend/_wasm_threads_preload.ts script.ts`. Threads:
 * `MASOKIT_WASM_THREADS`, an integer in [1, 8] (unset or empty: one per core, at most 8); see
 * {@link enableWasmThreads}.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-wasm";
import { enableWasmThreads } from "./wasm_threads.ts";

const env = Deno.env.get("MASOKIT_WASM_THREADS")?.trim() ?? "";
// named as the variable it came from (Number() would turn "abc" into NaN, "" into 0)
if (env !== "" && !/^[1-8]$/.test(env)) {
  throw new RangeError(
    `Cannot enable wasm threads: MASOKIT_WASM_THREADS is ${
      JSON.stringify(Deno.env.get("MASOKIT_WASM_THREADS"))
    }, expected an integer in [1, 8] (or unset: one per core, at most 8)`,
  );
}
const report = await enableWasmThreads(env === "" ? {} : { threads: Number(env) });
if (report.enabled) console.error(report.reason);
