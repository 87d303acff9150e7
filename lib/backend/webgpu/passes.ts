/**
 * The WebGPU engine's computations on a batch, chunked so that every buffer fits the
 * device's storage-buffer binding limit: each chunk is one submit, except that the templates
 * of a chunk (C rows an example) are submitted in slices of 1/C of it, reading the codes
 * that the chunk's forward pass recorded.
 *
 * @module
 */
import type { NonlinearLayer, SplineNetwork } from "../../network/spline_network.ts";
import { type WebGpuContext, webgpuHooks } from "./device.ts";
import { checked, readBack } from "./_gpu.ts";
import { checkSoftwareLoops, layerLoopIterations } from "./software_loops.ts";
import { foldedLayers } from "../../network/folded_layers.ts";
import {
  type ForwardMode,
  type GpuCodes,
  Recorder,
  recordForward,
  recordTranspose,
} from "./run.ts";

/** Raw codes read back: packed sign words `[n, words]` or argmax slots `[n, units]`. */
export type RawCodes = Map<NonlinearLayer, Uint32Array>;

/** The most bytes of a pass's largest buffer, unless a test or benchmark says otherwise. */
const CHUNK_BYTES = 256 * 2 ** 20;

/**
 * Examples per submit: the largest buffer (`rowsPerExample` rows each) within 256 MiB (or
 * `webgpuHooks.chunkBytes`) and the device's binding limit.
 *
 * @param ctx The context.
 * @param net The network.
 * @param rowsPerExample Rows per example of the widest pass (`C` for templates).
 * @returns The chunk size.
 * @throws {RangeError} Where one example does not fit the device, or, on a software adapter,
 * where a layer's kernels would loop past its limit ({@linkcode checkSoftwareLoops}).
 */
export function chunkSize(ctx: WebGpuContext, net: SplineNetwork, rowsPerExample: number): number {
  const limit = Math.min(
    ctx.device.limits.maxStorageBufferBindingSize,
    webgpuHooks.chunkBytes ?? CHUNK_BYTES,
  );
  for (const l of net.layers) {
    checkSoftwareLoops(ctx, layerLoopIterations(l), `the ${l.kind} layer ${l.name}`);
  }
  const per = net.largestActivation * rowsPerExample * 4;
  if (per > limit) {
    throw new RangeError(
      `Cannot run the network on WebGPU: one example needs a ${per}-byte buffer, the device allows ${limit}`,
    );
  }
  return Math.max(1, Math.min(65536, Math.floor(limit / per)));
}

/**
 * Chunks submitted ahead of the one being read back. A chunk gives its temporaries back as
 * soon as its read-back copies are submitted (the next chunk reuses them: the queue runs in
 * order), so a chunk in flight holds only its staging buffers; the wait for a read-back
 * (≈ 11 ms in Deno, whatever the work) and the copy into the result overlap the GPU's work
 * on the chunks behind it.
 */
const IN_FLIGHT = 4;

/**
 * Runs `fn` on consecutive chunks with up to {@linkcode IN_FLIGHT} in flight: each `fn`
 * records and submits its chunk before its first `await` (the read-back), so the GPU
 * computes chunks i + 1, i + 2, … while chunk i is copied back and stored.
 */
async function chunked(
  ctx: WebGpuContext,
  net: SplineNetwork,
  n: number,
  rowsPerExample: number,
  fn: (start: number, count: number) => Promise<void>,
): Promise<void> {
  const step = chunkSize(ctx, net, rowsPerExample);
  const pending: Promise<void>[] = [];
  try {
    for (let s = 0; s < n; s += step) {
      const chunk = fn(s, Math.min(step, n - s));
      chunk.catch(() => {}); // observed now (it may fail while an earlier chunk is awaited), thrown below
      pending.push(chunk);
      if (pending.length >= IN_FLIGHT) await pending.shift();
    }
    while (pending.length > 0) await pending.shift();
  } finally {
    await Promise.allSettled(pending); // nothing left to reject unobserved
  }
}

/**
 * The forward pass with codes: outputs `[n, C]` (float32) and every code layer's codes.
 *
 * @param ctx The context.
 * @param net The network.
 * @param options `x` `[n, D]` (float32, or float64 rounded to it; or float32 rows already in a
 * buffer on `ctx.device`, each chunk's rows copied from it on the device) and `n`.
 * @returns Outputs and codes.
 */
export function forwardWebGpu(
  ctx: WebGpuContext,
  net: SplineNetwork,
  options: { x: Float64Array | Float32Array | GPUBuffer; n: number },
): Promise<{ output: Float32Array; codes: RawCodes }> {
  const { x, n } = options;
  const D = net.inputSize, C = net.outputSize;
  const output = new Float32Array(n * C);
  const codes: RawCodes = new Map();
  const sizes = net.codeLayers.map((c) =>
    c.kind === "max-pool" ? c.units : Math.ceil(c.units / 32)
  );
  net.codeLayers.forEach((c, i) => codes.set(c.layer, new Uint32Array(n * sizes[i])));
  return checked(ctx, "Cannot run the network on WebGPU", async () => {
    await chunked(ctx, net, n, 1, async (s, m) => {
      const rec = new Recorder(ctx, "forward pass");
      try {
        const xb = ArrayBuffer.isView(x)
          ? rec.uploadInput(x.subarray(s * D, (s + m) * D), "input")
          : rec.copyIn(x, s * D * 4, m * D, "input");
        const rc: GpuCodes = new Map();
        const y = recordPass(rec, net, xb, m, { bias: true, record: rc });
        rec.submit();
        const reads = [
          { buffer: y, bytes: m * C * 4, into: output, at: s * C },
          ...net.codeLayers.map((c, i) => ({
            buffer: rc.get(c.layer)!,
            bytes: m * sizes[i] * 4,
            into: codes.get(c.layer)!,
            at: s * sizes[i],
          })),
        ];
        await readBack(ctx, reads, { submitted: () => rec.release() });
      } finally {
        rec.release();
      }
    });
    return { output, codes };
  });
}

/** A result array: the GPU computes in float32; a float64 one receives the values converted. */
export type ResultArray = Float32Array | Float64Array;

/** The options of the passes that return float arrays. */
export interface ResultOptions<T extends ResultArray> {
  /** Inputs `[n, D]` (float32, or float64 rounded to it). */
  readonly x: Float64Array | Float32Array;
  readonly n: number;
  /** The type of the arrays returned (each chunk is copied straight into them; default
   * `Float32Array`). */
  readonly array?: new (length: number) => T;
}

/** The options' result array type, `Float32Array` by default. */
function resultArray<T extends ResultArray>(options: ResultOptions<T>) {
  return options.array ?? (Float32Array as unknown as new (length: number) => T);
}

/**
 * The affine map of each example's region: templates A `[n, C, D]` by one transposed
 * masked pass of the C one-hot covectors per example, and offsets B `[n, C]` by the
 * masked pass of the zero input. The forward pass (codes) and the offsets run on chunks of
 * as many examples as one buffer of the widest activation holds, each in one submit; the
 * templates of a chunk, `C` rows an example, in slices of `1/C` of that, one submit each,
 * reading the chunk's codes — so the forward's products are as large as the ⟨A_c, x⟩
 * pass's, not `C` times smaller.
 *
 * @param ctx The context.
 * @param net The network.
 * @param options `x` `[n, D]`, `n` and the result `array` type.
 * @returns `{ A, B }`, computed in float32.
 */
export function affineMapWebGpu<T extends ResultArray = Float32Array>(
  ctx: WebGpuContext,
  net: SplineNetwork,
  options: ResultOptions<T>,
): Promise<{ A: T; B: T }> {
  const { x, n } = options;
  const D = net.inputSize, C = net.outputSize;
  const array = resultArray(options);
  const A = new array(n * C * D), B = new array(n * C);
  const slice = chunkSize(ctx, net, C);
  return checked(ctx, "Cannot compute the affine map on WebGPU", async () => {
    await chunked(ctx, net, n, 1, async (s, m) => {
      const forward = new Recorder(ctx, "affine map: codes and offsets");
      const reads: Promise<unknown>[] = [];
      // every slice submitted before any read-back maps (a map waits for all submitted work)
      let submittedAll = () => {};
      const mapAfter = new Promise<void>((resolve) => submittedAll = resolve);
      try {
        const xb = forward.uploadInput(x.subarray(s * D, (s + m) * D), "input");
        const { codes, b } = recordCodesAndOffsets(forward, net, xb, m);
        forward.submit();
        reads.push(
          readBack(ctx, [{ buffer: b, bytes: m * C * 4, into: B, at: s * C }], { mapAfter }),
        );
        for (let first = 0; first < m; first += slice) {
          const count = Math.min(slice, m - first);
          const rec = new Recorder(ctx, "affine map: templates");
          try {
            const a = recordTemplates(rec, net, codes, { first, count });
            rec.submit();
            reads.push(readBack(ctx, [{
              buffer: a,
              bytes: count * C * D * 4,
              into: A,
              at: (s + first) * C * D,
            }], { submitted: () => rec.release(), mapAfter }));
          } finally {
            rec.release();
          }
        }
        forward.release(); // before the next chunk is recorded: it reuses these buffers
        submittedAll(); // the maps are requested first (a map's wait starts with its request)
        // the GPU works on this chunk and those after it (submitted once this returns): the
        // wait is spent faulting in the fresh pages the read-backs will copy A's values into
        await null;
        touchPages(A, s * C * D, (s + m) * C * D);
      } finally {
        forward.release(); // after every slice reading its codes is submitted
        submittedAll();
        await settle(reads);
      }
    });
    return { A, B };
  });
}

/**
 * Writes a zero into each 4 KiB page of `array[from, to)`, a freshly allocated (zeroed) range:
 * the operating system maps a new array's pages on their first write, nearly half the time of
 * reading values back into a new float64 array (`bench/readback_bench.ts` on the 2-core CPU
 * machine: 134.6 ms per 64 MiB, 72.9 into an array already written); done while the GPU
 * computes, it leaves the read-backs plain copies.
 *
 * @param array The array (its range not yet written).
 * @param from First element.
 * @param to End element.
 */
export function touchPages(array: ResultArray, from: number, to: number): void {
  const step = 4096 / array.BYTES_PER_ELEMENT;
  for (let i = from; i < to; i += step) array[i] = 0;
}

/** Waits for every promise, then throws the first rejection (none is left unobserved). */
async function settle(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

/**
 * ⟨A[x]_c, x⟩ for every class: the forward pass records codes, and one masked pass of
 * x with every bias dropped gives `A[x]·x` — one submit per chunk.
 *
 * @param ctx The context.
 * @param net The network.
 * @param options `x` `[n, D]`, `n` and the result `array` type.
 * @returns `[n, C]`, computed in float32.
 */
export function innerProductsWebGpu<T extends ResultArray = Float32Array>(
  ctx: WebGpuContext,
  net: SplineNetwork,
  options: ResultOptions<T>,
): Promise<T> {
  const { x, n } = options;
  const D = net.inputSize, C = net.outputSize;
  const array = resultArray(options);
  const out = new array(n * C);
  return checked(ctx, "Cannot compute template inner products on WebGPU", async () => {
    await chunked(ctx, net, n, 1, async (s, m) => {
      const rec = new Recorder(ctx, "template inner products");
      try {
        const xb = rec.uploadInput(x.subarray(s * D, (s + m) * D), "input");
        const z = recordInnerProducts(rec, net, xb, m);
        rec.submit();
        await readBack(ctx, [{ buffer: z, bytes: m * C * 4, into: out, at: s * C }], {
          submitted: () => rec.release(),
        });
      } finally {
        rec.release();
      }
    });
    return out;
  });
}

/**
 * Records the forward pass of `m` examples recording every code layer's codes, and the
 * masked pass of the zero input with those codes: the offsets B `[m, C]`.
 *
 * @param rec The recorder.
 * @param net The network.
 * @param xb The input `[m, D]` on the device.
 * @param m Examples.
 * @returns The codes and the buffer of B.
 */
export function recordCodesAndOffsets(
  rec: Recorder,
  net: SplineNetwork,
  xb: GPUBuffer,
  m: number,
): { codes: GpuCodes; b: GPUBuffer } {
  const codes = recordCodes(rec, net, xb, m);
  const zero = rec.zeros(m * net.inputSize, "zero input");
  return { codes, b: recordPass(rec, net, zero, m, { bias: true, fixed: codes }) };
}

/**
 * Records the templates A `[count, C, D]` of examples `first … first + count − 1` of a
 * batch whose codes are recorded: the transposed masked pass of the C one-hot covectors per
 * example.
 *
 * @param rec The recorder.
 * @param net The network.
 * @param codes The batch's codes.
 * @param examples `first` and `count`.
 * @returns The buffer of A.
 */
export function recordTemplates(
  rec: Recorder,
  net: SplineNetwork,
  codes: GpuCodes,
  examples: { first: number; count: number },
): GPUBuffer {
  const C = net.outputSize, { first, count } = examples;
  const eye = new Float32Array(count * C * C);
  for (let e = 0; e < count; e++) for (let c = 0; c < C; c++) eye[(e * C + c) * C + c] = 1;
  const g = rec.upload(eye, "one-hot covectors");
  return recordTranspose(rec, foldedLayers(net), {
    g,
    rows: count * C,
    codes,
    rowsPerCode: C,
    codeBase: first,
    rowFloats: net.largestActivation,
  });
}

/**
 * Records ⟨A[x]_c, x⟩ of `m` examples: the forward pass recording codes, then the
 * masked pass of x with every bias dropped.
 *
 * @param rec The recorder.
 * @param net The network.
 * @param xb The input `[m, D]` on the device.
 * @param m Examples.
 * @returns The buffer of `[m, C]`.
 */
export function recordInnerProducts(
  rec: Recorder,
  net: SplineNetwork,
  xb: GPUBuffer,
  m: number,
): GPUBuffer {
  // codes by Winograd: ⟨A_c, x⟩ does not depend on how exact ties are decided
  const codes = recordCodes(rec, net, xb, m, true);
  return recordPass(rec, net, xb, m, { bias: false, fixed: codes });
}

/**
 * Records the network's (folded) layers on `m` rows of `v` in `mode`, in a chunk sized for the
 * network's largest activation; returns the output buffer.
 */
function recordPass(
  rec: Recorder,
  net: SplineNetwork,
  v: GPUBuffer,
  m: number,
  mode: ForwardMode,
): GPUBuffer {
  return recordForward(rec, foldedLayers(net), {
    v,
    rows: m,
    rowFloats: net.largestActivation,
    mode,
  });
}

/**
 * Records the forward pass of `m` rows of `xb` for its codes only (the output is given up);
 * `tiesFree` where the codes feed only ⟨A_c, x⟩ (see `ForwardMode.tiesFree`).
 */
function recordCodes(
  rec: Recorder,
  net: SplineNetwork,
  xb: GPUBuffer,
  m: number,
  tiesFree = false,
): GpuCodes {
  const codes: GpuCodes = new Map();
  rec.done(recordPass(rec, net, xb, m, { bias: true, record: codes, tiesFree }));
  return codes;
}
