/**
 * Internal: runs the emscripten glue of tfjs-backend-wasm's threaded SIMD build
 * (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) under Deno, with its pthreads on
 * `node:worker_threads` workers started from source (`eval: true`), so that no file is written
 * and no `blob:` URL is needed.
 *
 * The glue decides its environment from globals: under Deno it would see `process` and take
 * its Node.js path (`require("worker_threads")`, `new Worker(blobUrl)`, which Deno refuses with
 * ERR_WORKER_PATH). Here it is evaluated inside a function whose parameters shadow `process`,
 * `window`, `importScripts`, `require`, `module`, `exports`, `define` and `document` with
 * `undefined`, so it takes emscripten's "shell" path, and `Worker` with a small adapter.
 *
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";

/** The names shadowed with `undefined` while the glue is evaluated. */
const SHADOWED = [
  "process",
  "window",
  "importScripts",
  "require",
  "module",
  "exports",
  "define",
  "document",
  "__filename",
  "__dirname",
];

/** The emscripten module factory: resolves to the initialised module. */
export type GlueFactory = (config: Record<string, unknown>) => Promise<GlueModule>;

/** The parts of the emscripten module that masokit and tfjs use. */
export interface GlueModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread: {
    unusedWorkers: PthreadWorker[];
    runningWorkers: PthreadWorker[];
    terminateAllThreads: () => void;
  };
  [key: string]: unknown;
}

/**
 * Patches the glue's worker-pool size (`var pthreadPoolSize=8`, one worker per possible
 * XNNPACK thread, started with the module) to `poolSize`.
 */
export function patchPoolSize(glue: string, poolSize: number): string {
  const pattern = /var pthreadPoolSize=\d+;/;
  if (!pattern.test(glue)) {
    throw new Error(
      "Cannot patch the threaded wasm glue: 'var pthreadPoolSize=<n>;' not found (tfjs version changed?)",
    );
  }
  return glue.replace(pattern, `var pthreadPoolSize=${poolSize};`);
}

/**
 * Evaluates the glue on the calling thread (shell mode) and returns its factory. The glue sees
 * `navigator.hardwareConcurrency` as `2 · threads`: tfjs's C++ caps its XNNPACK pool at half the
 * logical cores it reports (one thread on a 2-core machine).
 */
export function evaluateGlue(glue: string, threads: number): GlueFactory {
  const make = new Function(
    ...SHADOWED,
    "Worker",
    "navigator",
    `${glue}\n;return WasmBackendModuleThreadedSimd;`,
  );
  return make(...SHADOWED.map(() => undefined), PthreadWorker, {
    hardwareConcurrency: 2 * threads,
  }) as GlueFactory;
}

/**
 * The pthread worker script: the glue evaluated in pthread mode plus emscripten's worker
 * protocol (`load`, `run`, `cancel`, `processProxyingQueue`), a port of the `.worker.js` that
 * tfjs ships, with `importScripts` replaced by the inlined glue.
 */
export function workerSource(glue: string): string {
  return `"use strict";
const { parentPort } = require("node:worker_threads");
let Module = {};
let initializedJS = false;
let pendingQueues = [];
const postMessage = (msg, transfer) => parentPort.postMessage(msg, transfer);
const err = (...args) => console.error(args.join(" "));
const startWorker = (instance) => { Module = instance; postMessage({ cmd: "loaded" }); };
const WasmBackendModuleThreadedSimd = (function (${SHADOWED.join(", ")}, Worker) {
${glue}
;return WasmBackendModuleThreadedSimd;
})();
parentPort.on("message", (data) => {
  try {
    if (data.cmd === "load") {
      Module.wasmModule = data.wasmModule;
      for (const handler of data.handlers) {
        Module[handler] = (...args) => postMessage({ cmd: "callHandler", handler, args });
      }
      Module.wasmMemory = data.wasmMemory;
      Module.buffer = Module.wasmMemory.buffer;
      Module.ENVIRONMENT_IS_PTHREAD = true;
      Module.instantiateWasm = (info, receiveInstance) => {
        const instance = new WebAssembly.Instance(Module.wasmModule, info);
        receiveInstance(instance);
        Module.wasmModule = null;
        return instance.exports;
      };
      Module.printErr = err;
      WasmBackendModuleThreadedSimd(Module);
    } else if (data.cmd === "run") {
      Module.__emscripten_thread_init(data.pthread_ptr, 0, 0, 1);
      Module.establishStackSpace();
      Module.PThread.receiveObjectTransfer(data);
      Module.PThread.threadInitTLS();
      if (!initializedJS) {
        for (const q of pendingQueues) Module.executeNotifiedProxyingQueue(q);
        pendingQueues = [];
        initializedJS = true;
      }
      try {
        Module.invokeEntryPoint(data.start_routine, data.arg);
      } catch (ex) {
        if (ex != "unwind") {
          if (ex instanceof Module.ExitStatus) {
            if (!Module.keepRuntimeAlive()) Module.__emscripten_thread_exit(ex.status);
          } else {
            throw ex;
          }
        }
      }
    } else if (data.cmd === "cancel") {
      if (Module._pthread_self()) Module.__emscripten_thread_exit(-1);
    } else if (data.target === "setimmediate") {
      // nothing to do
    } else if (data.cmd === "processProxyingQueue") {
      if (initializedJS) Module.executeNotifiedProxyingQueue(data.queue);
      else pendingQueues.push(data.queue);
    } else if (data.cmd) {
      err("masokit wasm pthread worker: unknown command " + data.cmd);
    }
  } catch (ex) {
    if (Module.__emscripten_thread_crashed) Module.__emscripten_thread_crashed();
    throw ex;
  }
});
`;
}

let currentSource = "";
let errorListener: ((e: unknown) => void) | null = null;

/** Routes worker errors to `listener` (while a module starts) instead of the glue. */
export function setWorkerErrorListener(listener: ((e: unknown) => void) | null): void {
  errorListener = listener;
}
const live = new Set<PthreadWorker>();

/** Sets the script that {@link PthreadWorker}s run (the glue's `Worker` ignores its URL). */
export function setWorkerSource(source: string): void {
  currentSource = source;
}

/** Un-refs all pthread workers so that they do not keep the process alive. */
export function unrefWorkers(): void {
  for (const w of live) w.unref();
}

/** The pthread workers started here and not terminated. */
export function liveWorkers(): PthreadWorker[] {
  return [...live];
}

/**
 * What the glue gets as `Worker`: a `node:worker_threads` worker running {@link workerSource}
 * with the web `Worker` interface that the glue uses (`onmessage`, `onerror`, `postMessage`).
 */
export class PthreadWorker {
  /** Set by the glue: receives `{ data }`. */
  onmessage: ((e: { data: unknown }) => void) | null = null;
  /** Set by the glue: receives worker errors. */
  onerror: ((e: unknown) => void) | null = null;
  /** Set by the glue: the pthread this worker runs. */
  pthread_ptr = 0;
  #worker: NodeWorker;

  /** Starts the worker; the URL the glue passes is ignored. */
  constructor(_url?: unknown) {
    if (currentSource === "") {
      throw new Error("Cannot start a wasm pthread worker: no worker source set");
    }
    this.#worker = new NodeWorker(currentSource, { eval: true });
    this.#worker.on("message", (data: unknown) => this.onmessage?.({ data }));
    this.#worker.on("error", (e: unknown) => {
      if (errorListener !== null) {
        errorListener(e); // during start-up: fail the start, no rethrow from the glue
        return;
      }
      try {
        this.onerror?.(e); // the glue logs and rethrows
      } catch {
        // already logged by the glue; a pthread crash must not end the process from here
      }
      console.error(`masokit wasm pthread worker failed: ${(e as Error)?.message ?? e}`);
    });
    live.add(this);
  }

  /** Sends a message to the worker. */
  postMessage(message: unknown, transfer?: Transferable[]): void {
    // deno-lint-ignore no-explicit-any
    this.#worker.postMessage(message, transfer as any);
  }

  /** Stops the worker. */
  async terminate(): Promise<void> {
    live.delete(this);
    await this.#worker.terminate();
  }

  /** Lets the process exit while this worker is alive. */
  unref(): void {
    this.#worker.unref();
  }

  /** Keeps the process alive while this worker is alive. */
  ref(): void {
    this.#worker.ref();
  }
}
