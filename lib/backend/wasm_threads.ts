/**
 * Opt-in multi-threading for tfjs's `wasm` backend under Deno.
 *
 * tfjs 4.22 sees `IS_NODE` under Deno and loads its single-threaded SIMD build; its threaded
 * build would start pthreads through `node:worker_threads` with a `blob:` URL, which Deno
 * refuses (ERR_WORKER_PATH). {@link enableWasmThreads} instead registers a `wasm` backend
 * factory that runs the threaded SIMD build's emscripten glue in emscripten's shell mode with
 * its pthreads on `node:worker_threads` workers started from source (see
 * `_wasm_threads_glue.ts`). XNNPACK then runs its kernels on a pool of `threads` threads.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// The wasm package registers its backend when imported: load it only when asked for, so
// that importing masokit never changes tfjs' backend choice.
let wasmPackage: typeof import("@tensorflow/tfjs-backend-wasm") | null = null;
import { createRequire } from "node:module";
import {
  evaluateGlue,
  type GlueModule,
  liveWorkers,
  patchPoolSize,
  setWorkerErrorListener,
  setWorkerSource,
  unrefWorkers,
  workerSource,
} from "./_wasm_threads_glue.ts";
import { heapThreadsReady, setHeapHelpers, type WasmBackendLike } from "./_wasm_ops.ts";

/** Options for {@link enableWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * XNNPACK threads, the calling thread included (default `navigator.hardwareConcurrency`, at
   * most 8: the threaded build's pool).
   */
  threads?: number;
  /**
   * The backend name to register (default `"wasm"`, replacing tfjs's single-threaded factory).
   * Another name (e.g. `"wasm-threads"`) registers the threaded build next to the stock `wasm`
   * backend, with a copy of every `wasm` kernel registered when it initialises: for A/B
   * comparisons in one process.
   */
  backendName?: string;
  /** Print the one-line notice when threads cannot be enabled (default true). */
  quiet?: boolean;
}

/** What {@link enableWasmThreads} did. */
export interface WasmThreadsReport {
  /** True when the threaded backend factory is registered under `backendName`. */
  enabled: boolean;
  /** The requested thread count. */
  threads: number;
  /** The registered backend name. */
  backendName: string;
  /** One line: what was done, or why threads were not enabled. */
  reason: string;
}

const WASM_PRIORITY = 2;
/** How long the threaded module and its workers may take to start before falling back. */
const START_TIMEOUT_MS = 60_000;

type Factory = () => tf.KernelBackend | Promise<tf.KernelBackend>;
/** tfjs's own (single-threaded) `wasm` factory, kept for the fallback. */
let stockWasmFactory: Factory | null = null;
/** The factories registered here. */
const ours = new WeakSet<Factory>();
/** The starts under way of the backends registered here, by name. */
const starting = new Map<string, Promise<tf.KernelBackend>>();

/** Why a backend can no longer be replaced (initialised, or starting), or null. */
function inUse(name: string): string | null {
  // deno-lint-ignore no-explicit-any
  const engine = tf.engine() as any;
  if (engine.registry[name] !== undefined) return "is already initialised";
  if (starting.has(name) || (engine.backendName === name && engine.pendingBackendInit != null)) {
    return "is being initialised";
  }
  return null;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === "object" ? JSON.stringify(e) : String(e);
}
const GLUE = "wasm-out/tfjs-backend-wasm-threaded-simd.js";
const BINARY = "dist/tfjs-backend-wasm-threaded-simd.wasm";

/** The tfjs-backend-wasm package folder, as a file: URL ending in "/". */
function packageFolder(): URL {
  let entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  if (!entry.startsWith("file:")) {
    entry = "file://" + createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm");
  }
  return new URL("../", entry); // entry is <package>/dist/<bundle>.js
}

/** Reads the glue and compiles the binary (async: file reads and compilation). */
async function load(
  threads: number,
): Promise<{ glue: string; module: WebAssembly.Module }> {
  const folder = packageFolder();
  const [glueText, bytes] = await Promise.all([
    Deno.readTextFile(new URL(GLUE, folder)),
    Deno.readFile(new URL(BINARY, folder)),
  ]);
  const module = await WebAssembly.compile(bytes);
  return { glue: patchPoolSize(glueText, Math.max(1, threads - 1)), module };
}

/** Creates the threaded emscripten module and wraps it as tfjs's BackendWasm. */
async function createBackend(
  glue: string,
  module: WebAssembly.Module,
  threads: number,
): Promise<tf.KernelBackend> {
  setWorkerSource(workerSource(glue));
  const factory = evaluateGlue(glue, threads);
  let abortMessage = "";
  const before = new Set(liveWorkers());
  let failStart: (e: unknown) => void = () => {};
  const startFailed = new Promise<never>((_, reject) => (failStart = reject));
  setWorkerErrorListener((e) => failStart(new Error(`a pthread worker failed: ${describe(e)}`)));
  const timer = setTimeout(
    () => failStart(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`)),
    START_TIMEOUT_MS,
  );
  const ready = factory({
    instantiateWasm: (
      imports: WebAssembly.Imports,
      receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void,
    ) => {
      const instance = new WebAssembly.Instance(module, imports);
      receive(instance, module);
      return instance.exports;
    },
    locateFile: (path: string) => path,
    mainScriptUrlOrBlob: "masokit-threaded-glue",
    print: (s: string) => console.log(s),
    printErr: (s: string) => {
      // Blocking waits are fine on Deno's main thread (no browser event loop to freeze).
      if (!s.startsWith("Blocking on the main thread")) console.error(s);
    },
    onAbort: (what: unknown) => {
      abortMessage = String(what);
    },
  });
  let wasm: GlueModule;
  try {
    wasm = await Promise.race([ready, startFailed]);
  } catch (e) {
    await Promise.all(liveWorkers().filter((w) => !before.has(w)).map((w) => w.terminate()));
    throw new Error(
      `threaded wasm module failed to start: ${describe(e)}${
        abortMessage ? ` (${abortMessage})` : ""
      }`,
    );
  } finally {
    clearTimeout(timer);
    setWorkerErrorListener(null);
  }
  // Workers are loaded now; let the process exit while they idle in their futex waits.
  unrefWorkers();
  const m = wasm as GlueModule & { tfjs?: unknown };
  m.tfjs = {
    init: m.cwrap("init", null, []),
    initWithThreadsCount: m.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: m.cwrap("get_threads_count", "number", []),
    registerTensor: m.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: m.cwrap("dispose_data", null, ["number"]),
    dispose: m.cwrap("dispose", null, []),
  };
  wasmPackage!.setThreadsCount(threads);
  // deno-lint-ignore no-explicit-any
  const backend = new wasmPackage!.BackendWasm(m as any) as unknown as tf.KernelBackend;
  const dispose = backend.dispose.bind(backend);
  backend.dispose = () => {
    dispose();
    m.PThread.terminateAllThreads(); // tf.removeBackend(): stop this module's workers
  };
  // masokit's own heap kernels split their work over as many threads as XNNPACK has, from the
  // first call: their helpers start only while the event loop runs, which a script's
  // synchronous calls (affineMap in a loop) never let it do
  setHeapHelpers(backend as unknown as WasmBackendLike, threads - 1);
  await heapThreadsReady(backend as unknown as WasmBackendLike);
  return backend;
}

/** Copies every kernel registered for `wasm` to `name` (for a side-by-side backend). */
function copyWasmKernels(name: string): void {
  for (const k of tf.getKernelsForBackend("wasm")) {
    if (tf.getKernel(k.kernelName, name) !== undefined) tf.unregisterKernel(k.kernelName, name);
    tf.registerKernel({ ...k, backendName: name });
  }
}

/**
 * Makes tfjs's `wasm` backend multi-threaded under Deno: registers a backend factory that runs
 * the threaded SIMD build (XNNPACK with a pool of `threads` threads, on `node:worker_threads`
 * workers started from source). Call it before `tf.setBackend("wasm")`, which then also waits
 * (at most 5 s) for masokit's heap helper threads, so that its own kernels split their work from
 * the first call (they start only while the event loop runs). Needs read access to
 * the tfjs-backend-wasm package (as the `wasm` backend does); writes no file and starts no
 * process. When threads cannot be enabled (no shared wasm memory, files not found, backend
 * already initialised, the module fails to start) it prints one line and leaves or restores the
 * stock single-threaded backend. The result is the same as single-threaded up to float32
 * rounding (XNNPACK splits the work, not the sums).
 *
 * @param options `threads` (default `navigator.hardwareConcurrency`, at most 8), `backendName`
 *   (default "wasm"), `quiet`.
 * @returns Whether the threaded factory was registered, and a one-line reason.
 *
 * @example A 2-thread backend next to the stock one
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { enableWasmThreads } from "./wasm_threads.ts";
 * import { ok } from "node:assert/strict";
 *
 * await tf.ready();
 * const previous = tf.getBackend();
 * const report = await enableWasmThreads({ threads: 2, backendName: "wasm-threads-doc" });
 * ok(report.enabled, report.reason);
 * await tf.setBackend("wasm-threads-doc");
 * const x = tf.ones([1, 8, 8, 4]) as tf.Tensor4D;
 * const y = tf.conv2d(x, tf.ones([3, 3, 4, 2]) as tf.Tensor4D, 1, "valid");
 * ok((await y.data()).every((v) => v === 36)); // 3·3·4 ones per output
 * await tf.setBackend(previous);
 * tf.removeBackend("wasm-threads-doc"); // also stops its worker threads
 * ```
 */
export async function enableWasmThreads(
  options: WasmThreadsOptions = {},
): Promise<WasmThreadsReport> {
  // the default fits every machine: more than 8 cores get 8 threads, not a RangeError
  const threads = options.threads ?? Math.min(8, navigator.hardwareConcurrency || 1);
  const backendName = options.backendName ?? "wasm";
  if (!Number.isInteger(threads) || threads < 1 || threads > 8) {
    throw new RangeError(
      `Cannot enable wasm threads: threads is ${
        typeof threads === "number" ? threads : JSON.stringify(threads)
      }, expected an integer in [1, 8]`,
    );
  }
  if (typeof backendName !== "string" || backendName === "") {
    throw new TypeError(
      `Cannot enable wasm threads: backendName is ${
        JSON.stringify(backendName)
      }, expected a non-empty string`,
    );
  }
  const fail = (why: string): WasmThreadsReport => {
    const reason = `wasm threads not enabled, staying single-threaded: ${why}`;
    if (options.quiet !== true) console.warn(reason);
    return { enabled: false, threads, backendName, reason };
  };
  wasmPackage ??= await import("@tensorflow/tfjs-backend-wasm");
  if (
    typeof SharedArrayBuffer === "undefined" ||
    !(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof
      SharedArrayBuffer)
  ) {
    return fail("no shared WebAssembly memory in this runtime");
  }
  const busy = inUse(backendName);
  if (busy !== null) return fail(`backend '${backendName}' ${busy}; call before tf.setBackend()`);
  const current = tf.findBackendFactory("wasm");
  if (current !== null && !ours.has(current)) stockWasmFactory = current;
  const stock = stockWasmFactory;
  if (backendName === "wasm" && stock === null) {
    return fail("@tensorflow/tfjs-backend-wasm is not imported");
  }
  let loaded: { glue: string; module: WebAssembly.Module };
  try {
    loaded = await load(threads);
  } catch (e) {
    return fail((e as Error).message);
  }
  // tf.setBackend() may have started the backend while the files loaded: replacing its
  // factory now would drop that start (and its worker threads) and unset tfjs' backend
  const busyNow = inUse(backendName);
  if (busyNow !== null) {
    return fail(`backend '${backendName}' ${busyNow}; call before tf.setBackend()`);
  }
  const start = async (): Promise<tf.KernelBackend> => {
    if (backendName !== "wasm") copyWasmKernels(backendName);
    try {
      return await createBackend(loaded.glue, loaded.module, threads);
    } catch (e) {
      if (backendName !== "wasm" || stock === null) throw e;
      if (options.quiet !== true) {
        console.warn(`wasm threads failed, using single-threaded wasm: ${describe(e)}`);
      }
      return await stock();
    }
  };
  // tfjs calls the factory again when tf.setBackend() is called again before the first start
  // is done, and drops the first's backend: both get the one start (no second module whose
  // worker threads nothing would stop)
  const factory = (): Promise<tf.KernelBackend> => {
    let started = starting.get(backendName);
    if (started === undefined) {
      started = start().finally(() => starting.delete(backendName));
      starting.set(backendName, started);
    }
    return started;
  };
  ours.add(factory);
  if (tf.findBackendFactory(backendName) !== null) tf.removeBackend(backendName);
  // Under its own name it must not become tfjs's default backend: lowest priority.
  tf.registerBackend(backendName, factory, backendName === "wasm" ? WASM_PRIORITY : 0);
  return {
    enabled: true,
    threads,
    backendName,
    reason: `wasm threads: threaded SIMD build with ${threads} XNNPACK threads as '${backendName}'`,
  };
}
