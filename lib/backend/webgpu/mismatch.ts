/**
 * The WebGPU engine under `nearestNeighborsAsync` and `partitionDistanceMatrixAsync`:
 * mismatch counts of code rows, streamed over the base in chunks (so that bases larger
 * than a storage-buffer binding fit), either merged into a running top-k per query on
 * the GPU (the query × base matrix is never materialised) or read back as a matrix.
 *
 * @module
 */
import type { CodeRows, TopK } from "../../partition/_hamming_engine.ts";
import type { WebGpuContext } from "./device.ts";
import { checked, dispatch, readBack, storageBuffer, uniformU32 } from "./_gpu.ts";
import { HAMMING_VEC_STEP, hammingCountsShader } from "./kernels/hamming_counts.ts";
import { mergeThreads, topKMergeShader } from "./kernels/top_k_merge.ts";
import { checkSoftwareLoops, SOFTWARE_LOOP_LIMIT } from "./software_loops.ts";

/** Chunking of a job, chosen from the device's limits (overridable for tests). */
export interface MismatchChunks {
  /** Pairs per thread along each side, R (1, 2, 4, 8; default 8, and 2 on a fallback adapter). */
  perThread?: number;
  /** Base rows per chunk (a multiple of 128). */
  baseRows?: number;
  /** Query rows per block (a multiple of 128). */
  queryRows?: number;
  /** Base sets up to this many bytes (packed) are uploaded once for all query blocks; larger
   * ones are streamed again for each block (default 1 GiB). */
  residentBaseBytes?: number;
}

/** The keys of {@linkcode MismatchChunks}. */
export const MISMATCH_CHUNKS_KEYS: Readonly<Record<keyof MismatchChunks, true>> = {
  perThread: true,
  baseRows: true,
  queryRows: true,
  residentBaseBytes: true,
};

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Base sets up to this size stay on the device for the whole job (see mismatchTopKWebGpu). */
const RESIDENT_BASE_BYTES = 1024 * 2 ** 20;

/**
 * Rows `from … from + count` as the kernel reads them: the code words themselves where rows
 * are sign words already `vec4s · 4` long (no copy; rows past `count` in the device buffer
 * are left as they are, and no count of theirs is ever used), else {@linkcode packRows}.
 */
function rowsFor(r: CodeRows, from: number, count: number, vec4s: number, rows: number) {
  if (r.kind === "sign" && r.rowLength === vec4s * 4) {
    const words = r.data as Uint32Array<ArrayBuffer>;
    return words.subarray(from * r.rowLength, (from + count) * r.rowLength);
  }
  return packRows(r, from, count, vec4s, rows);
}

/** Rows as `u32` words, each row zero-padded to `vec4s · 4` words, `rows` rows in all. */
function packRows(r: CodeRows, from: number, count: number, vec4s: number, rows: number) {
  const words = vec4s * 4;
  const out = new Uint32Array(rows * words);
  if (r.kind === "sign") {
    const src = r.data as Uint32Array, L = r.rowLength;
    for (let i = 0; i < count; i++) {
      out.set(src.subarray((from + i) * L, (from + i + 1) * L), i * words);
    }
  } else {
    const src = r.data as Uint16Array, L = r.rowLength;
    const view = new Uint16Array(out.buffer);
    for (let i = 0; i < count; i++) {
      view.set(src.subarray((from + i) * L, (from + i + 1) * L), i * words * 2);
    }
  }
  return out;
}

/**
 * Loop iterations of one invocation of the top-k merge over `baseRows` counts with `threads`
 * threads: its slots cleared, a thread's share of the counts each inserted (at most `k`
 * moves), the candidates copied, then one thread inserting every thread's `k` into the list.
 */
const mergeLoops = (k: number, baseRows: number, threads: number) =>
  3 * k + Math.ceil(baseRows / threads) * (k + 1) + threads * k * k;

/**
 * Chunk sizes and threads (the counts' `R` and `T`; the merge's, for a top-k of `k`) for
 * comparing `a` with `b`. On a software adapter the base chunks are kept short enough for the
 * merge's loops ({@linkcode checkSoftwareLoops}), and work whose loops would still run too
 * long is refused.
 */
function plan(ctx: WebGpuContext, a: CodeRows, b: CodeRows, chunks: MismatchChunks, k?: number) {
  const wordsPerRow = a.kind === "sign" ? a.rowLength : Math.ceil(a.rowLength / 2);
  const vec4s = roundUp(Math.max(1, Math.ceil(wordsPerRow / 4)), HAMMING_VEC_STEP);
  const rowBytes = vec4s * 16;
  const limit = Math.min(ctx.device.limits.maxStorageBufferBindingSize, 256 * 2 ** 20);
  const R = chunks.perThread ?? (ctx.isFallback ? 2 : 8);
  if (![1, 2, 4, 8].includes(R)) {
    throw new RangeError(
      `Cannot compare codes on WebGPU: perThread is ${R}, expected 1, 2, 4 or 8`,
    );
  }
  const T = 16 * R;
  const resident = chunks.residentBaseBytes;
  if (resident !== undefined && !(typeof resident === "number" && resident >= 0)) {
    throw new RangeError(
      `Cannot compare codes on WebGPU: residentBaseBytes is ${resident}, expected a number ≥ 0`,
    );
  }
  const threads = k === undefined ? 0 : mergeThreads(k, ctx.isFallback);
  // on a software adapter, the most base rows whose merge loops within its limit
  const loopCap = k === undefined || !ctx.isFallback ? Infinity : Math.floor(
    (SOFTWARE_LOOP_LIMIT - 3 * k - threads * k * k) / (k + 1) * threads / T,
  ) * T;
  const baseRows = chunks.baseRows ??
    Math.max(
      T,
      Math.min(roundUp(b.count, T), 4096, Math.floor(limit / rowBytes / T) * T, loopCap),
    );
  const countsCap = 64 * 2 ** 20 / 4 / baseRows;
  const queryRows = chunks.queryRows ?? Math.max(
    T,
    Math.min(
      roundUp(a.count, T),
      Math.floor(limit / rowBytes / T) * T,
      Math.floor(countsCap / T) * T,
      65535,
    ),
  );
  for (const [name, rows] of [["baseRows", baseRows], ["queryRows", queryRows]] as const) {
    if (!Number.isInteger(rows) || rows < T || rows % T !== 0) {
      throw new RangeError(
        `Cannot compare codes on WebGPU: ${name} is ${rows}, expected a positive multiple of ${T} (16 × perThread)`,
      );
    }
  }
  if (rowBytes * Math.max(baseRows, queryRows) > limit || 4 * queryRows * baseRows > limit) {
    throw new RangeError(
      `Cannot compare codes on WebGPU: rows of ${rowBytes} bytes, chunks of ${queryRows} × ${baseRows} rows do not fit the device (${limit} bytes a buffer)`,
    );
  }
  const units = a.kind === "sign" ? `${a.rowLength * 32}-bit` : `${a.rowLength}-unit`;
  checkSoftwareLoops(ctx, (vec4s / 4) * (Math.ceil((4 * T) / 256) + 5), `${units} codes' counts`);
  if (k !== undefined) {
    checkSoftwareLoops(
      ctx,
      mergeLoops(k, baseRows, threads),
      `the top-${k} merge over ${baseRows} base rows a chunk`,
    );
  }
  return { vec4s, baseRows, queryRows, R, T, threads };
}

/**
 * The `k` base rows with the fewest mismatches for every query row, ascending by
 * (count, base index) — the same result as the CPU `mismatchTopK`.
 *
 * @param ctx The WebGPU context.
 * @param rows `query` and `base` rows (same kind and length).
 * @param options `k` (1…128), `exclude` (skip base row i for query row i), `chunks`.
 * @returns Indices and counts, `[query.count, k]`.
 */
export function mismatchTopKWebGpu(
  ctx: WebGpuContext,
  rows: { query: CodeRows; base: CodeRows },
  options: { k: number; exclude: boolean; chunks?: MismatchChunks },
): Promise<TopK> {
  return checked(ctx, "Cannot find nearest neighbours on WebGPU", async () => {
    const { query: a, base: b } = rows;
    const { k, exclude } = options;
    const nq = a.count, m = b.count;
    const indices = new Int32Array(nq * k), counts = new Uint32Array(nq * k);
    if (nq === 0 || k === 0) return { indices, counts };
    const { vec4s, baseRows, queryRows, R, T, threads } = plan(ctx, a, b, options.chunks ?? {}, k);
    const { device } = ctx;
    const countsShader = hammingCountsShader({ kind: a.kind, perThread: R });
    const mergeShader = topKMergeShader({ k, threads });
    const dims = uniformU32(ctx, [vec4s, baseRows]);
    const live: GPUBuffer[] = [dims];
    // the base chunks are packed and uploaded once and reused by every query block, as long
    // as they fit `residentBaseBytes` together; past that each block streams them again
    // through one buffer
    const chunkBytes = baseRows * vec4s * 16;
    const resident = Math.ceil(m / baseRows) * chunkBytes <=
      (options.chunks?.residentBaseBytes ?? RESIDENT_BASE_BYTES);
    const baseChunks = new Map<number, GPUBuffer>(); // by first row; one (key 0) when streamed
    const baseChunk = (b0: number, bn: number): GPUBuffer => {
      const key = resident ? b0 : 0;
      let buf = baseChunks.get(key);
      if (buf === undefined) {
        buf = storageBuffer(ctx, chunkBytes, "base chunk");
        live.push(buf);
        baseChunks.set(key, buf);
      } else if (resident) return buf; // uploaded by an earlier query block
      device.queue.writeBuffer(buf, 0, rowsFor(b, b0, bn, vec4s, baseRows));
      return buf;
    };
    // one set of block buffers for all query blocks: the queue runs in order, so a block's
    // uploads land after the previous block's work and read-back copies, and the blocks'
    // read-backs are waited for together at the end (the GPU never waits for the CPU)
    const qPadMax = roundUp(Math.min(queryRows, nq), T);
    const qBuf = storageBuffer(ctx, qPadMax * vec4s * 16, "query block");
    const cBuf = storageBuffer(ctx, qPadMax * baseRows * 4, "counts");
    const iBuf = storageBuffer(ctx, qPadMax * k * 4, "top-k indices");
    const kBuf = storageBuffer(ctx, qPadMax * k * 4, "top-k counts");
    live.push(qBuf, cBuf, iBuf, kBuf);
    const indexBits = new Uint32Array(indices.buffer);
    const pending: Promise<unknown>[] = [];
    try {
      for (let q0 = 0; q0 < nq; q0 += queryRows) {
        const qn = Math.min(queryRows, nq - q0), qPad = roundUp(qn, T);
        device.queue.writeBuffer(qBuf, 0, rowsFor(a, q0, qn, vec4s, qPad));
        const sentinel = new Uint32Array(qn * k).fill(0xffffffff);
        device.queue.writeBuffer(iBuf, 0, sentinel);
        device.queue.writeBuffer(kBuf, 0, sentinel);
        for (let b0 = 0; b0 < m; b0 += baseRows) {
          const bn = Math.min(baseRows, m - b0);
          const bBuf = baseChunk(b0, bn);
          const params = uniformU32(ctx, [q0, b0, bn, baseRows, exclude ? 1 : 0]);
          live.push(params);
          const enc = device.createCommandEncoder({ label: "nearest neighbours" });
          const pass = enc.beginComputePass({ label: "counts + top-k" });
          dispatch(ctx, pass, countsShader, {
            buffers: [qBuf, bBuf, cBuf, dims],
            groups: [qPad / T, Math.ceil(bn / T)],
          });
          dispatch(ctx, pass, mergeShader, { buffers: [cBuf, iBuf, kBuf, params], groups: qn });
          pass.end();
          device.queue.submit([enc.finish()]);
        }
        const read = readBack(ctx, [
          { buffer: iBuf, bytes: qn * k * 4, into: indexBits, at: q0 * k },
          { buffer: kBuf, bytes: qn * k * 4, into: counts, at: q0 * k },
        ]);
        read.catch(() => {}); // observed now, thrown below
        pending.push(read);
      }
      await Promise.all(pending);
    } finally {
      await Promise.allSettled(pending);
      live.forEach((buf) => buf.destroy());
    }
    return { indices, counts };
  });
}

/**
 * Mismatch counts of every (query, base) pair, `[query.count, base.count]` row-major —
 * the same result as the CPU `mismatchMatrix`.
 *
 * @param ctx The WebGPU context.
 * @param rows `query` and `base` rows (same kind and length).
 * @param options `chunks`.
 * @returns The counts.
 */
export function mismatchMatrixWebGpu(
  ctx: WebGpuContext,
  rows: { query: CodeRows; base: CodeRows },
  options: { chunks?: MismatchChunks } = {},
): Promise<Uint32Array> {
  return checked(ctx, "Cannot compute partition distance on WebGPU", async () => {
    const { query: a, base: b } = rows;
    const nq = a.count, m = b.count;
    const out = new Uint32Array(nq * m);
    if (nq === 0 || m === 0) return out;
    const { vec4s, baseRows, queryRows, R, T } = plan(ctx, a, b, options.chunks ?? {});
    const shader = hammingCountsShader({ kind: a.kind, perThread: R });
    const dims = uniformU32(ctx, [vec4s, baseRows]);
    const live: GPUBuffer[] = [dims];
    try {
      for (let q0 = 0; q0 < nq; q0 += queryRows) {
        const qn = Math.min(queryRows, nq - q0), qPad = roundUp(qn, T);
        const qBuf = storageBuffer(ctx, packRows(a, q0, qn, vec4s, qPad), "query block");
        live.push(qBuf);
        for (let b0 = 0; b0 < m; b0 += baseRows) {
          const bn = Math.min(baseRows, m - b0);
          const bBuf = storageBuffer(ctx, packRows(b, b0, bn, vec4s, baseRows), "base chunk");
          const cBuf = storageBuffer(ctx, qPad * baseRows * 4, "counts");
          live.push(bBuf, cBuf);
          const enc = ctx.device.createCommandEncoder({ label: "partition distance" });
          const pass = enc.beginComputePass({ label: "counts" });
          dispatch(ctx, pass, shader, {
            buffers: [qBuf, bBuf, cBuf, dims],
            groups: [qPad / T, Math.ceil(bn / T)],
          });
          pass.end();
          ctx.device.queue.submit([enc.finish()]);
          const [c] = await readBack(ctx, [{ buffer: cBuf, bytes: qn * baseRows * 4 }]);
          const cv = new Uint32Array(c);
          for (let i = 0; i < qn; i++) {
            out.set(cv.subarray(i * baseRows, i * baseRows + bn), (q0 + i) * m + b0);
          }
          bBuf.destroy();
          cBuf.destroy();
        }
      }
    } finally {
      live.forEach((buf) => buf.destroy());
    }
    return out;
  });
}
