/**
 * Helper threads for the generated kernels that run on tfjs-wasm's heap (`heapModule`): when
 * the heap is shared (the threaded build, `enableWasmThreads`), a kernel can split its work into
 * parts that run at the same time, one on the calling thread and one on each helper.
 *
 * A helper is a `node:worker_threads` worker started from source (no file, no permission),
 * unref'd so that it never keeps the process alive; the module is imported only when a shared
 * heap first runs a kernel. It instantiates the same module bytes on the
 * same shared memory and waits on a control block (`Atomics.wait`); the calling thread posts a
 * job (module, function, arguments), runs its own part, and waits for the helpers' (tfjs kernels
 * are synchronous, and Deno lets the main thread wait). Helpers start in the background: until
 * they have answered, and wherever the heap is not shared, every part runs on the calling thread
 * in turn, with the same results.
 *
 * @module
 */
import type { Worker } from "node:worker_threads";

/** Control block slots (Int32). */
const STATE = 0, DONE = 1, READY = 2, MODULE = 3, FN = 4, NARGS = 5, FAILED = 6, BYTES = 7;
const ARGS = 8, MAX_ARGS = 16, SPIN = ARGS + MAX_ARGS, SLOTS = SPIN + 1;
/** STATE values. */
const IDLE = 0, JOB = 1, QUIT = 2;
/** Largest module the helpers are handed (bytes). */
const MAX_MODULE_BYTES = 1 << 20;
/** How long the calling thread waits for a helper's part before giving up on helpers. */
const JOB_TIMEOUT_MS = 120_000;

const helperSource = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", ({ ctl, bytes, memory }) => {
  const modules = new Map();
  Atomics.store(ctl, ${READY}, 1);
  for (;;) {
    // poll a while before sleeping: the next job often follows within microseconds
    const until = performance.now() + ctl[${SPIN}] / 1000;
    while (Atomics.load(ctl, ${STATE}) === ${IDLE} && performance.now() < until);
    Atomics.wait(ctl, ${STATE}, ${IDLE});
    if (Atomics.load(ctl, ${STATE}) === ${QUIT}) return;
    let failed = 0;
    try {
      const id = ctl[${MODULE}];
      let fns = modules.get(id);
      if (fns === undefined) {
        const code = new Uint8Array(bytes.buffer, 0, ctl[${BYTES}]).slice();
        const instance = new WebAssembly.Instance(new WebAssembly.Module(code), { env: { memory } });
        fns = Object.values(instance.exports);
        modules.set(id, fns);
      }
      const args = [];
      for (let i = 0; i < ctl[${NARGS}]; i++) args.push(ctl[${ARGS} + i]);
      fns[ctl[${FN}]](...args);
    } catch {
      failed = 1;
    }
    ctl[${FAILED}] = failed;
    Atomics.store(ctl, ${STATE}, ${IDLE});
    Atomics.store(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
});
`;

interface Helper {
  ctl: Int32Array;
  /** Module ids this helper has instantiated (it is handed the bytes of any other). */
  known: Set<number>;
}

interface Pool {
  /** The helpers it is to have (they start in the background). */
  count: number;
  helpers: Helper[];
  workers: Worker[];
  bytes: Uint8Array;
  broken: boolean;
  stopped: boolean;
}

/** Helper workers that have not exited yet (all memories). */
const live = new Set<Worker>();

const pools = new WeakMap<WebAssembly.Memory, Pool>();

/**
 * The most helper threads for a memory (and the switch: 0 turns them off): one fewer than the
 * cores, at most 7. A threaded backend's own count (its XNNPACK threads − 1) applies below it.
 * `spinMicros`: how long a helper polls for its next part after finishing one, and the calling
 * thread for the helpers' parts, before sleeping (`Atomics.wait`): waking a sleeping thread took
 * 60–75 µs a hand-off on the 2-core machine (a scratch ping-pong), and a training step hands off
 * dozens of small kernels' parts in quick succession. 100 µs: smallCNN's step at batch 10
 * 1.06–1.15× against sleeping at once, batch 64 1.02–1.04×, largeCNN 1.03×; longer polls steal
 * XNNPACK's threads' core (1,000 µs: 0.94×; `bench/train_step_bench.ts --ab=spin [--spin=N]`,
 * bench/RESULTS.md).
 */
export const heapThreads: { helpers: number; spinMicros: number } = {
  helpers: Math.max(0, Math.min(7, (globalThis.navigator?.hardwareConcurrency ?? 1) - 1)),
  spinMicros: 100,
};

/** How many parts have run on helper threads, for all memories (tests check that kernels split). */
export const heapThreadStats = { helperParts: 0 };

/** Helpers wanted per memory (its backend's XNNPACK threads − 1), where known. */
const wanted = new WeakMap<WebAssembly.Memory, number>();

/**
 * Sets how many helper threads a memory's kernels use (before its first kernel; at most
 * `heapThreads.helpers`).
 *
 * @param memory The heap.
 * @param helpers The helper count.
 */
export function configureHeapThreads(memory: WebAssembly.Memory, helpers: number): void {
  wanted.set(memory, helpers);
}

function poolFor(memory: WebAssembly.Memory): Pool | null {
  const count = Math.min(heapThreads.helpers, wanted.get(memory) ?? heapThreads.helpers);
  if (
    count <= 0 || typeof SharedArrayBuffer === "undefined" ||
    !(memory.buffer instanceof SharedArrayBuffer)
  ) {
    return null;
  }
  let pool = pools.get(memory);
  if (pool === undefined) {
    const bytes = new Uint8Array(new SharedArrayBuffer(MAX_MODULE_BYTES));
    const started: Pool = {
      count,
      helpers: [],
      workers: [],
      bytes,
      broken: false,
      stopped: false,
    };
    pool = started;
    pools.set(memory, pool);
    // node:worker_threads is loaded only here, when a shared heap first runs a kernel (where it
    // does not exist, the kernels simply stay on the calling thread)
    import("node:worker_threads").then(({ Worker }) => {
      if (started.stopped) return;
      for (let i = 0; i < count; i++) {
        const ctl = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
        const worker = new Worker(helperSource, { eval: true });
        live.add(worker);
        worker.on("exit", () => live.delete(worker));
        worker.postMessage({ ctl, bytes, memory });
        worker.unref();
        started.helpers.push({ ctl, known: new Set() });
        started.workers.push(worker);
      }
    }, () => {
      started.broken = true;
    });
  }
  return pool.broken ? null : pool;
}

/**
 * Stops the helper threads of a memory (its backend is being disposed: they would keep the
 * memory alive); a later kernel on the same memory starts new ones.
 *
 * @param memory The heap.
 */
export function stopHeapThreads(memory: WebAssembly.Memory): void {
  const pool = pools.get(memory);
  if (pool === undefined) return;
  pools.delete(memory);
  pool.stopped = true;
  for (const h of pool.helpers) {
    Atomics.store(h.ctl, STATE, QUIT);
    Atomics.notify(h.ctl, STATE);
  }
  for (const w of pool.workers) void w.terminate();
}

/** How many helper threads are running, for all memories (for tests). */
export function runningHeapThreads(): number {
  return live.size;
}

/** The helpers that have started (all or none are used, so that parts stay balanced). */
function readyHelpers(pool: Pool | null): Helper[] {
  if (pool === null) return [];
  return pool.helpers.length === pool.count &&
      pool.helpers.every((h) => Atomics.load(h.ctl, READY) === 1)
    ? pool.helpers
    : [];
}

/**
 * How many threads kernels on this memory will run on once the helpers have started (1 where
 * the memory is not shared): for choices that must not change while helpers start.
 *
 * @param memory The heap.
 * @returns 1 + the helpers configured for it.
 */
export function heapThreadCount(memory: WebAssembly.Memory): number {
  return 1 + (poolFor(memory)?.count ?? 0);
}

/**
 * How many parts a kernel on this memory should split its work into now: 1 + the helpers that
 * have started (1 where the memory is not shared).
 *
 * @param memory The heap.
 * @returns The number of parts {@link runParts} runs at once.
 */
export function heapParts(memory: WebAssembly.Memory): number {
  return 1 + readyHelpers(poolFor(memory)).length;
}

/**
 * Runs `fn(...parts[i])` for every part: in rounds of 1 + the ready helpers, part 0 of a round
 * on the calling thread and the others on helpers (all on the calling thread in turn where
 * there are none). Returns when all have finished. What a part computes must not depend on
 * where it runs: callers split reductions into a fixed number of parts, whatever the threads.
 *
 * @param memory The heap the module was instantiated on.
 * @param module The module: a process-wide id, its bytes, and its exports on this thread.
 * @param name The exported function.
 * @param parts Integer arguments of each part.
 */
export function runParts(
  memory: WebAssembly.Memory,
  module: { id: number; bytes: Uint8Array; exports: Record<string, unknown> },
  name: string,
  parts: readonly (readonly number[])[],
): void {
  const fn = module.exports[name] as (...a: number[]) => void;
  const helpers = readyHelpers(poolFor(memory));
  const pool = pools.get(memory);
  if (
    helpers.length === 0 || pool === undefined || module.bytes.length > MAX_MODULE_BYTES ||
    parts.some((p) => p.length > MAX_ARGS)
  ) {
    for (const p of parts) fn(...p);
    return;
  }
  const fnIndex = Object.keys(module.exports).indexOf(name);
  for (let r = 0; r < parts.length; r += helpers.length + 1) {
    round(pool, helpers, module, fn, fnIndex, parts.slice(r, r + helpers.length + 1));
  }
}

/** One round: parts[0] here, parts[i] on helper i − 1. */
function round(
  pool: Pool,
  helpers: Helper[],
  module: { id: number; bytes: Uint8Array },
  fn: (...a: number[]) => void,
  fnIndex: number,
  parts: readonly (readonly number[])[],
): void {
  const posted: Helper[] = [];
  for (let i = 1; i < parts.length; i++) {
    const h = helpers[i - 1];
    const ctl = h.ctl;
    if (!h.known.has(module.id)) {
      pool.bytes.set(module.bytes);
      ctl[BYTES] = module.bytes.length;
      h.known.add(module.id);
    }
    ctl[MODULE] = module.id;
    ctl[FN] = fnIndex;
    ctl[NARGS] = parts[i].length;
    ctl[SPIN] = heapThreads.spinMicros;
    parts[i].forEach((a, j) => (ctl[ARGS + j] = a));
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, STATE, JOB);
    Atomics.notify(ctl, STATE);
    posted.push(h);
    heapThreadStats.helperParts++;
    // A helper reads the shared bytes only while compiling: wait before reusing them for the next.
    if (ctl[BYTES] !== 0 && i + 1 < parts.length) wait(pool, h);
  }
  fn(...parts[0]);
  for (const h of posted) wait(pool, h);
  posted.forEach((h, i) => {
    h.ctl[BYTES] = 0;
    // A part that trapped on a helper runs again here, so that its error is thrown from here.
    if (h.ctl[FAILED] !== 0) fn(...parts[i + 1]);
  });
}

function wait(pool: Pool, h: Helper): void {
  const start = performance.now(), until = start + heapThreads.spinMicros / 1000;
  while (Atomics.load(h.ctl, DONE) === 0 && performance.now() < until);
  while (Atomics.load(h.ctl, DONE) === 0) {
    Atomics.wait(h.ctl, DONE, 0, 1000);
    if (performance.now() - start > JOB_TIMEOUT_MS) {
      pool.broken = true;
      throw new Error(
        `A heap kernel's helper thread did not finish within ${JOB_TIMEOUT_MS} ms; helpers are off for this backend`,
      );
    }
  }
}
