/**
 * The work loop shared by the calling thread and the worker threads: claim work
 * items from a shared counter, run the mismatch kernel on them, and either write
 * the counts into the output matrix or fold them into a bounded top-k per query.
 *
 * `runItems` must stay self-contained (no references outside its own body): its
 * source text is shipped to the workers with `Function.prototype.toString`.
 *
 * @module
 */

/** Layout of one job in the shared memory; plain numbers only (it is posted to workers). */
export interface HammingJob {
  /** 0: write the count matrix; 1: bounded top-k per query. */
  mode: 0 | 1;
  /** Row stride in bytes. */
  stride: number;
  /** Byte address of the first query row of this job. */
  qOff: number;
  /** Byte address of the first base row. */
  bOff: number;
  /** Real query rows in this job (rows past it are padding). */
  nq: number;
  /** Real base rows. */
  m: number;
  /** Query rows per item (multiple of the query tile). */
  qBlock: number;
  /** Padded query rows in this job (multiple of the query tile). */
  nqPad: number;
  nQBlocks: number;
  /** Base rows per item (multiple of subBlock). */
  bChunk: number;
  /** Padded base rows (multiple of the base tile). */
  mPad: number;
  nBChunks: number;
  /** Base rows per kernel call (multiple of the base tile). */
  subBlock: number;
  /** Mode 0: byte address of the u32 count matrix `[nqPad, mPad]`. */
  outOff: number;
  /** Mode 1: number of neighbours kept. */
  k: number;
  /** Mode 1: skip base index `queryBase + i` for query `i`. */
  exclude: boolean;
  /** Mode 1: index of this job's query 0 (for `exclude`). */
  queryBase: number;
  /** Mode 1: byte address of the per-thread count scratch. */
  scratchOff: number;
  /** Mode 1: bytes of scratch per thread. */
  scratchBytes: number;
  /** Mode 1: byte address of candidate indices (i32) `[nq, nBChunks, k]`. */
  candIdxOff: number;
  /** Mode 1: byte address of candidate counts (u32) `[nq, nBChunks, k]`. */
  candCntOff: number;
}

/** Slots of the shared control array before the per-item states. */
export const CTRL_NEXT = 0;
/** Number of items finished. */
export const CTRL_DONE = 1;
/** Set to 1 by a worker that failed. */
export const CTRL_FAILED = 2;
/** Number of items finished by worker threads (thread > 0). */
export const CTRL_WORKER_ITEMS = 3;
/** First per-item state (0 free, 1 claimed, 2 done). */
export const CTRL_ITEMS = 4;

/**
 * Claims and runs items until none are left (or, with `only`, runs exactly those items).
 *
 * @param kernel The mismatch kernel `(q, nq, b, nb, out, outStride)`.
 * @param buffer The memory the kernel addresses.
 * @param job The job layout.
 * @param ctrl The shared control array (`CTRL_*` slots then one state per item).
 * @param thread This thread's index (selects its scratch).
 * @param only Items to run regardless of their state (used to redo stalled items).
 */
export function runItems(
  kernel: (q: number, nq: number, b: number, nb: number, out: number, os: number) => void,
  buffer: ArrayBufferLike,
  job: HammingJob,
  ctrl: Int32Array,
  thread: number,
  only?: readonly number[],
): void {
  const nItems = job.nQBlocks * job.nBChunks;
  const S = job.stride;
  const u32 = new Uint32Array(buffer);
  const i32 = new Int32Array(buffer);
  const k = job.k;
  const heapC = new Int32Array(job.mode === 1 ? job.qBlock * k : 0);
  const heapI = new Int32Array(job.mode === 1 ? job.qBlock * k : 0);
  const size = new Int32Array(job.qBlock);
  const scratch = job.scratchOff + thread * job.scratchBytes;
  let next = 0;
  for (;;) {
    let item: number;
    if (only === undefined) {
      item = Atomics.add(ctrl, 0, 1);
      if (item >= nItems) return;
      Atomics.store(ctrl, 4 + item, 1);
    } else {
      if (next >= only.length) return;
      item = only[next++];
    }
    const qb = Math.floor(item / job.nBChunks), bc = item % job.nBChunks;
    const r0 = qb * job.qBlock, rows = Math.min(job.qBlock, job.nqPad - r0);
    const c0 = bc * job.bChunk, cEnd = Math.min(c0 + job.bChunk, job.mPad);
    if (job.mode === 0) {
      for (let j0 = c0; j0 < cEnd; j0 += job.subBlock) {
        const cols = Math.min(job.subBlock, cEnd - j0);
        kernel(
          job.qOff + r0 * S,
          rows,
          job.bOff + j0 * S,
          cols,
          job.outOff + (r0 * job.mPad + j0) * 4,
          job.mPad * 4,
        );
      }
    } else {
      const realRows = Math.max(0, Math.min(rows, job.nq - r0));
      size.fill(0);
      for (let j0 = c0; j0 < cEnd; j0 += job.subBlock) {
        const cols = Math.min(job.subBlock, cEnd - j0);
        kernel(job.qOff + r0 * S, rows, job.bOff + j0 * S, cols, scratch, cols * 4);
        const realCols = Math.max(0, Math.min(cols, job.m - j0));
        for (let ii = 0; ii < realRows; ii++) {
          const h = ii * k, row = (scratch >>> 2) + ii * cols;
          const skip = job.exclude ? job.queryBase + r0 + ii - j0 : -1;
          let n = size[ii];
          // Max-heap on (count, index): the root is the worst kept neighbour.
          let worst = n === k ? heapC[h] : 0x7fffffff;
          for (let jj = 0; jj < realCols; jj++) {
            const c = u32[row + jj];
            if (c >= worst || jj === skip) continue; // later indices lose ties
            const j = j0 + jj;
            let p: number;
            if (n < k) { // sift up from the end
              p = n++;
              while (p > 0) {
                const parent = (p - 1) >> 1;
                const pc = heapC[h + parent], pi = heapI[h + parent];
                if (pc > c || (pc === c && pi > j)) break;
                heapC[h + p] = pc;
                heapI[h + p] = pi;
                p = parent;
              }
            } else { // replace the root, sift down
              p = 0;
              for (;;) {
                let child = 2 * p + 1;
                if (child >= n) break;
                let cc = heapC[h + child], ci = heapI[h + child];
                if (child + 1 < n) {
                  const rc = heapC[h + child + 1], ri = heapI[h + child + 1];
                  if (rc > cc || (rc === cc && ri > ci)) {
                    child++;
                    cc = rc;
                    ci = ri;
                  }
                }
                if (cc < c || (cc === c && ci < j)) break;
                heapC[h + p] = cc;
                heapI[h + p] = ci;
                p = child;
              }
            }
            heapC[h + p] = c;
            heapI[h + p] = j;
            if (n === k) worst = heapC[h];
          }
          size[ii] = n;
        }
      }
      for (let ii = 0; ii < realRows; ii++) {
        const dst = ((r0 + ii) * job.nBChunks + bc) * k;
        for (let t = 0; t < k; t++) {
          const fromHeap = t < size[ii];
          i32[(job.candIdxOff >>> 2) + dst + t] = fromHeap ? heapI[ii * k + t] : -1;
          u32[(job.candCntOff >>> 2) + dst + t] = fromHeap ? heapC[ii * k + t] : 0xffffffff;
        }
      }
    }
    Atomics.store(ctrl, 4 + item, 2);
    if (thread > 0) Atomics.add(ctrl, 3, 1);
    Atomics.add(ctrl, 1, 1);
    Atomics.notify(ctrl, 1);
  }
}
