/**
 * The one implementation under `partitionDistance` and `nearestNeighbors`: count the
 * mismatching units of every (query, base) pair of code rows, either into a count
 * matrix or into a bounded top-k per query (the matrix is then never materialised).
 *
 * Rows are copied, zero-padded, into one WebAssembly memory; work is cut into items
 * (a block of query rows × a chunk of base rows) that the calling thread and, for
 * large jobs, `threads − 1` short-lived Web Workers claim from a shared counter.
 * The calling thread works too and then blocks (`Atomics.wait`) until the workers'
 * claimed items are done, so the API stays synchronous; a worker that never starts
 * costs nothing, and items claimed by a worker that fails or stalls are redone.
 * Without WebAssembly the same items run through the JavaScript kernels.
 *
 * @module
 */
import {
  ARGMAX_MAX_VECTORS,
  ARGMAX_TILE_B,
  ARGMAX_TILE_Q,
  type KernelKind,
  kernelModule,
  MAX_PAGES,
  SIGN_TILE_B,
  SIGN_TILE_Q,
} from "./_hamming_wasm.ts";
import { jsArgmaxKernel, jsSignKernel, type MismatchKernel } from "./_hamming_js.ts";
import {
  CTRL_DONE,
  CTRL_FAILED,
  CTRL_ITEMS,
  CTRL_NEXT,
  CTRL_WORKER_ITEMS,
  type HammingJob,
  runItems,
} from "./_hamming_items.ts";

/** Code rows of one side: packed sign words (u32) or argmax indices (u16), row-major. */
export interface CodeRows {
  readonly kind: KernelKind;
  /** Number of rows. */
  readonly count: number;
  /** Elements per row: u32 words (`sign`) or u16 entries (`argmax`). */
  readonly rowLength: number;
  /** `count · rowLength` elements. */
  readonly data: Uint32Array | Uint16Array;
}

/** Execution options of the engine. */
export interface EngineOptions {
  /** Threads to use, the calling one included (default: `navigator.hardwareConcurrency`, ≤ 8). */
  threads?: number;
  /** Kernels: `wasm` (default when available) or `js`. */
  backend?: "wasm" | "js";
  /**
   * Smallest job, in bytes compared (`Nq · M · rowBytes`), worth starting workers for
   * (default 1e9, about 50 ms of one thread: starting a worker costs ≈ 20 ms).
   */
  minThreadBytes?: number;
  /** Largest count matrix held at once, in bytes (default 256 MiB); bigger jobs run in rounds. */
  roundBytes?: number;
  /** Base rows per kernel call (default: about 256 KiB of rows, at most 1,024); for tests. */
  subBlockRows?: number;
  /** Whether the calling thread runs items too (default true; false is for tests of the workers). */
  callerWorks?: boolean;
  /**
   * Milliseconds without a finished item after which the calling thread redoes the items left
   * (default 2,000; 20,000 when it does not work itself); for tests of stalled workers.
   */
  stallMs?: number;
  /** Filled in with what ran: workers started and items they finished. */
  stats?: EngineStats;
}

/** What an engine call ran, for tests and benchmarks. */
export interface EngineStats {
  /** Kernels used. */
  backend: "wasm" | "js";
  /** Worker threads started. */
  workers: number;
  /** Work items. */
  items: number;
  /** Items finished by workers. */
  workerItems: number;
}

/** Top-k result: `[nq, k]` base indices and mismatch counts, ascending by (count, index). */
export interface TopK {
  indices: Int32Array;
  counts: Uint32Array;
}

const MAX_DEFAULT_THREADS = 8;
const STALL_MS = 2000;

/** The default thread count: the machine's logical cores (at most 8). */
export function defaultThreads(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, Number.isInteger(n) ? n as number : 1));
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const align64 = (n: number) => roundUp(n, 64);

interface Plan {
  kind: KernelKind;
  useWasm: boolean;
  stride: number;
  tileQ: number;
  tileB: number;
}

function plan(rows: CodeRows, backend: "wasm" | "js" | undefined): Plan {
  const hasWasm = typeof WebAssembly !== "undefined";
  let useWasm = backend !== "js" && hasWasm;
  if (rows.kind === "sign") {
    return {
      kind: "sign",
      useWasm,
      stride: Math.ceil(rows.rowLength / 2) * 8,
      tileQ: SIGN_TILE_Q,
      tileB: SIGN_TILE_B,
    };
  }
  const vectors = Math.ceil(rows.rowLength / 8);
  if (vectors > ARGMAX_MAX_VECTORS) useWasm = false;
  return {
    kind: "argmax",
    useWasm,
    stride: vectors * 16,
    tileQ: ARGMAX_TILE_Q,
    tileB: ARGMAX_TILE_B,
  };
}

function copyRows(dst: ArrayBufferLike, offset: number, rows: CodeRows, stride: number): void {
  const perRow = rows.kind === "sign" ? stride >>> 2 : stride >>> 1;
  const view = rows.kind === "sign"
    ? new Uint32Array(dst, offset, rows.count * perRow)
    : new Uint16Array(dst, offset, rows.count * perRow);
  if (perRow === rows.rowLength) {
    view.set(rows.data.subarray(0, rows.count * perRow));
    return;
  }
  for (let r = 0; r < rows.count; r++) {
    view.set(rows.data.subarray(r * rows.rowLength, (r + 1) * rows.rowLength), r * perRow);
  }
}

let workerUrl: string | undefined;

function workerSource(): string {
  return `const runItems = ${runItems.toString()};
self.onmessage = (e) => {
  const { bytes, memory, job, ctrl, thread } = e.data;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    runItems(instance.exports.kernel, memory.buffer, job, ctrl, thread);
  } catch (_) {
    Atomics.store(ctrl, ${CTRL_FAILED}, 1);
    Atomics.notify(ctrl, ${CTRL_DONE});
  }
};
`;
}

function startWorkers(n: number): Worker[] {
  const workers: Worker[] = [];
  if (n <= 0 || typeof Worker === "undefined" || typeof SharedArrayBuffer === "undefined") {
    return workers;
  }
  try {
    workerUrl ??= `data:text/javascript;base64,${
      btoa(String.fromCharCode(...new TextEncoder().encode(workerSource())))
    }`;
    for (let i = 0; i < n; i++) workers.push(new Worker(workerUrl, { type: "module" }));
  } catch {
    // Workers unavailable here (e.g. not permitted): the calling thread does the work.
  }
  return workers;
}

function waitForItems(
  ctrl: Int32Array,
  nItems: number,
  stallMs: number,
  redo: (items: number[]) => void,
): boolean {
  let last = Atomics.load(ctrl, CTRL_DONE);
  let lastProgress = performance.now();
  for (;;) {
    const done = Atomics.load(ctrl, CTRL_DONE);
    if (done >= nItems) return false;
    const now = performance.now();
    if (done !== last) {
      last = done;
      lastProgress = now;
    }
    if (Atomics.load(ctrl, CTRL_FAILED) !== 0 || now - lastProgress > stallMs) {
      // no worker claims an item of this job from now on
      Atomics.store(ctrl, CTRL_NEXT, nItems);
      const pending: number[] = [];
      for (let i = 0; i < nItems; i++) {
        if (Atomics.load(ctrl, CTRL_ITEMS + i) !== 2) pending.push(i);
      }
      redo(pending);
      return true;
    }
    try {
      Atomics.wait(ctrl, CTRL_DONE, done, 50);
    } catch {
      // Atomics.wait is not allowed on this thread: spin.
    }
  }
}

interface Prepared {
  buffer: ArrayBufferLike;
  kernel: MismatchKernel;
  bytes: Uint8Array | null;
  memory: WebAssembly.Memory | null;
  workers: Worker[];
  threads: number;
}

function prepare(p: Plan, byteLength: number, workerCount: number): Prepared {
  const pages = Math.max(1, Math.ceil(byteLength / 65536));
  if (p.useWasm) {
    if (pages > MAX_PAGES) {
      throw new RangeError(
        `Cannot compare partition codes: the rows need ${
          (byteLength / 2 ** 30).toFixed(1)
        } GiB, more than the 4 GiB a WebAssembly memory holds; split the base or the queries`,
      );
    }
    const shared = workerCount > 0 && typeof SharedArrayBuffer !== "undefined";
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    const { bytes, module } = kernelModule(p.kind, p.stride, shared);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const workers = shared ? startWorkers(workerCount) : [];
    return {
      buffer: memory.buffer,
      kernel: instance.exports.kernel as MismatchKernel,
      bytes,
      memory,
      workers,
      threads: workers.length + 1,
    };
  }
  const buffer = new ArrayBuffer(pages * 65536);
  const kernel = p.kind === "sign"
    ? jsSignKernel(buffer, p.stride)
    : jsArgmaxKernel(buffer, p.stride);
  return { buffer, kernel, bytes: null, memory: null, workers: [], threads: 1 };
}

/**
 * Runs one job's items on the calling thread and `env`'s workers; returns whether a worker
 * stalled or failed (its items were redone, but a stalled one may still write them late).
 */
function runJob(env: Prepared, job: HammingJob, options: EngineOptions): boolean {
  const nItems = job.nQBlocks * job.nBChunks;
  const ctrl = new Int32Array(
    typeof SharedArrayBuffer !== "undefined" && env.workers.length > 0
      ? new SharedArrayBuffer((CTRL_ITEMS + nItems) * 4)
      : new ArrayBuffer((CTRL_ITEMS + nItems) * 4),
  );
  env.workers.forEach((w, i) =>
    w.postMessage({ bytes: env.bytes, memory: env.memory, job, ctrl, thread: i + 1 })
  );
  const callerWorks = options.callerWorks ?? true;
  if (callerWorks || env.workers.length === 0) runItems(env.kernel, env.buffer, job, ctrl, 0);
  const stalled = waitForItems(
    ctrl,
    nItems,
    options.stallMs ?? (callerWorks ? STALL_MS : 10 * STALL_MS),
    (items) => runItems(env.kernel, env.buffer, job, ctrl, 0, items),
  );
  const stats = options.stats;
  if (stats !== undefined) {
    stats.backend = env.memory === null ? "js" : "wasm";
    stats.workers = Math.max(stats.workers, env.workers.length);
    stats.items += nItems;
    stats.workerItems += Atomics.load(ctrl, CTRL_WORKER_ITEMS);
  }
  return stalled;
}

function blocking(p: Plan, nq: number, m: number, threads: number, subRows?: number) {
  const nqPad = roundUp(nq, p.tileQ), mPad = roundUp(m, p.tileB);
  const rows = subRows ?? Math.min(1024, 262144 / p.stride);
  const subBlock = Math.min(mPad, Math.max(p.tileB, Math.floor(rows / p.tileB) * p.tileB));
  const qBlock = Math.min(nqPad, 16);
  const nQBlocks = Math.ceil(nqPad / qBlock);
  const maxChunks = Math.ceil(mPad / subBlock);
  const wanted = threads > 1 ? Math.ceil((8 * threads) / nQBlocks) : 1;
  let nBChunks = Math.max(1, Math.min(maxChunks, wanted));
  const bChunk = roundUp(Math.ceil(mPad / nBChunks), subBlock);
  nBChunks = Math.ceil(mPad / bChunk);
  return { nqPad, mPad, subBlock, qBlock, nQBlocks, bChunk, nBChunks };
}

function threadCount(options: EngineOptions, p: Plan, nq: number, m: number): number {
  const threads = options.threads ?? defaultThreads();
  const work = nq * m * p.stride;
  return work >= (options.minThreadBytes ?? 1e9) && p.useWasm ? threads : 1;
}

function resetStats(stats: EngineStats | undefined): void {
  if (stats === undefined) return;
  stats.backend = "wasm";
  stats.workers = 0;
  stats.items = 0;
  stats.workerItems = 0;
}

function checkPair(a: CodeRows, b: CodeRows): void {
  if (a.kind !== b.kind || a.rowLength !== b.rowLength) {
    throw new RangeError(
      `Cannot compare code rows: ${a.kind} rows of length ${a.rowLength} vs ${b.kind} rows of length ${b.rowLength}`,
    );
  }
}

/**
 * Mismatch counts of every pair of rows, `[a.count, b.count]` row-major.
 *
 * @param a Query rows.
 * @param b Base rows (same kind and row length).
 * @param options Execution options.
 * @returns The counts.
 */
export function mismatchMatrix(
  a: CodeRows,
  b: CodeRows,
  options: EngineOptions = {},
): Uint32Array {
  checkPair(a, b);
  const nq = a.count, m = b.count;
  resetStats(options.stats);
  const result = new Uint32Array(nq * m);
  if (nq === 0 || m === 0) return result;
  const p = plan(a, options.backend);
  const threads = threadCount(options, p, nq, m);
  const blk = blocking(p, Math.min(nq, 16), m, threads, options.subBlockRows);
  const rowBytes = blk.mPad * 4;
  const roundRows = Math.max(
    blk.qBlock,
    Math.floor((options.roundBytes ?? 256 * 2 ** 20) / rowBytes / 16) * 16,
  );
  const nqPadAll = roundUp(nq, p.tileQ);
  const roundPad = Math.min(roundUp(nqPadAll, 16), roundRows);
  const bOff = 64, qOff = align64(bOff + blk.mPad * p.stride);
  const outOff = align64(qOff + nqPadAll * p.stride);
  const bytes = outOff + roundPad * rowBytes;
  let env = prepare(p, bytes, threads - 1);
  const load = (e: Prepared) => {
    copyRows(e.buffer, bOff, b, p.stride);
    copyRows(e.buffer, qOff, a, p.stride);
    return new Uint32Array(e.buffer, outOff, roundPad * blk.mPad);
  };
  try {
    let counts = load(env);
    for (let r0 = 0; r0 < nq; r0 += roundRows) {
      const rows = Math.min(roundRows, nq - r0);
      const rb = blocking(p, rows, m, env.threads, options.subBlockRows);
      const stalled = runJob(env, {
        mode: 0,
        stride: p.stride,
        qOff: qOff + r0 * p.stride,
        bOff,
        nq: rows,
        m,
        qBlock: rb.qBlock,
        nqPad: rb.nqPad,
        nQBlocks: rb.nQBlocks,
        bChunk: rb.bChunk,
        mPad: rb.mPad,
        nBChunks: rb.nBChunks,
        subBlock: rb.subBlock,
        outOff,
        k: 0,
        exclude: false,
        queryBase: 0,
        scratchOff: 0,
        scratchBytes: 0,
        candIdxOff: 0,
        candCntOff: 0,
      }, options);
      for (let i = 0; i < rows; i++) {
        result.set(counts.subarray(i * rb.mPad, i * rb.mPad + m), (r0 + i) * m);
      }
      if (stalled && env.workers.length > 0 && r0 + rows < nq) {
        // a stalled worker may still write this round's counts over the next round's: the
        // rounds left run on the calling thread, in a memory of their own
        env.workers.forEach((w) => w.terminate());
        env = prepare(p, bytes, 0);
        counts = load(env);
      }
    }
  } finally {
    env.workers.forEach((w) => w.terminate());
  }
  return result;
}

/**
 * The `k` rows of `b` with the fewest mismatches for every row of `a`, ascending by
 * (count, base index), computed block by block without the full count matrix.
 *
 * @param a Query rows.
 * @param b Base rows (same kind and row length).
 * @param options `k` (≤ `b.count`, ≤ `b.count − 1` with `exclude`), `exclude`: skip base
 *   row `i` for query row `i`, plus execution options.
 * @returns Indices and counts, `[a.count, k]` row-major.
 */
export function mismatchTopK(
  a: CodeRows,
  b: CodeRows,
  options: EngineOptions & { k: number; exclude?: boolean },
): TopK {
  checkPair(a, b);
  const nq = a.count, m = b.count, k = options.k;
  const exclude = options.exclude ?? false;
  resetStats(options.stats);
  if (!(Number.isInteger(k) && k >= 0 && k <= m - (exclude ? 1 : 0))) {
    throw new RangeError(`Cannot select ${k} neighbours among ${m} base rows`);
  }
  const indices = new Int32Array(nq * k), counts = new Uint32Array(nq * k);
  if (nq === 0 || k === 0) return { indices, counts };
  const p = plan(a, options.backend);
  const threads = threadCount(options, p, nq, m);
  const blk = blocking(p, nq, m, threads, options.subBlockRows);
  const scratchBytes = blk.qBlock * blk.subBlock * 4;
  const bOff = 64, qOff = align64(bOff + blk.mPad * p.stride);
  const scratchOff = align64(qOff + blk.nqPad * p.stride);
  const candIdxOff = align64(scratchOff + threads * scratchBytes);
  const candCntOff = align64(candIdxOff + nq * blk.nBChunks * k * 4);
  const env = prepare(p, candCntOff + nq * blk.nBChunks * k * 4, threads - 1);
  try {
    copyRows(env.buffer, bOff, b, p.stride);
    copyRows(env.buffer, qOff, a, p.stride);
    runJob(env, {
      mode: 1,
      stride: p.stride,
      qOff,
      bOff,
      nq,
      m,
      qBlock: blk.qBlock,
      nqPad: blk.nqPad,
      nQBlocks: blk.nQBlocks,
      bChunk: blk.bChunk,
      mPad: blk.mPad,
      nBChunks: blk.nBChunks,
      subBlock: blk.subBlock,
      outOff: 0,
      k,
      exclude,
      queryBase: 0,
      scratchOff,
      scratchBytes,
      candIdxOff,
      candCntOff,
    }, options);
  } finally {
    env.workers.forEach((w) => w.terminate());
  }
  const per = blk.nBChunks * k;
  const candI = new Int32Array(env.buffer, candIdxOff, nq * per);
  const candC = new Uint32Array(env.buffer, candCntOff, nq * per);
  const order: number[] = [];
  for (let i = 0; i < nq; i++) {
    order.length = 0;
    for (let t = i * per; t < (i + 1) * per; t++) if (candI[t] >= 0) order.push(t);
    order.sort((x, y) => candC[x] - candC[y] || candI[x] - candI[y]);
    for (let t = 0; t < k; t++) {
      indices[i * k + t] = candI[order[t]];
      counts[i * k + t] = candC[order[t]];
    }
  }
  return { indices, counts };
}
