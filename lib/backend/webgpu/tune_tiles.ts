/**
 * Tunes the tiles of a network's matrix products on this device: each tiled product that the
 * templates pass and the ⟨A_c, x⟩ pass record is timed in a grid of tile shapes against the
 * engine's own tile, in place (its own inputs, the pass's row count), and where a shape is
 * faster by a margin and its output agrees, it becomes the product's tile on the device
 * ({@linkcode setGemmTiles}). The same grid and timing serve `bench/gemm_sweep.ts`.
 *
 * @module
 */
import type { SplineNetwork } from "../../network/spline_network.ts";
import { type WebGpuContext, webgpuContext } from "./device.ts";
import { checked, dispatch, readBack } from "./_gpu.ts";
import type { ShaderSource } from "./_pipelines.ts";
import { Recorder } from "./run.ts";
import {
  gemmGroups,
  type GemmSchedule,
  gemmShader,
  type GemmSpec,
  gemmTile,
  type GemmTileShape,
} from "./kernels/gemm.ts";
import { type GemmTileChoice, gemmTilesOf, setGemmTiles } from "./gemm_tiles.ts";
import { passTimes } from "./_pass_timestamps.ts";
import {
  chunkSize,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "./passes.ts";
import { checkOptionKeys } from "../../util/options.ts";

/** One product a pass recorded: what it computes, on what, and how often. */
export interface CapturedProduct {
  readonly spec: GemmSpec;
  readonly rows: number;
  /** The bindings, the uniform first and the output last. */
  readonly buffers: GPUBuffer[];
  /** The schedule a GPU gives it (the engine's default there). */
  readonly schedule: GemmSchedule;
  /** How many times the pass runs this same product (same shader, same rows). */
  count: number;
}

/** A tile to time: a name for reports, a schedule and shape choices. */
export interface TileCandidate {
  readonly name: string;
  readonly schedule: GemmSchedule;
  readonly shape?: GemmTileShape;
}

/**
 * A recorder that notes each product it records that a GPU would tile, with its uniform and
 * buffers (kept until the recorder is released), by its shader key at a GPU's schedule and its
 * row count.
 */
export class ProductCapture extends Recorder {
  /** The products, by `"<shader key> rows <rows>"`. */
  readonly products: Map<string, CapturedProduct> = new Map();
  private pending: Omit<CapturedProduct, "buffers" | "count"> | null = null;

  /** Records the product as {@linkcode Recorder.gemm} does, noting it. */
  override gemm(
    spec: GemmSpec,
    buffers: GPUBuffer[],
    dims: Parameters<Recorder["gemm"]>[2],
    schedule?: GemmSchedule,
    shape?: GemmTileShape,
  ): void {
    this.pending = { spec, rows: dims.rows, schedule: this.gemmSchedule(spec, dims.rows, false) };
    super.gemm(spec, buffers, dims, schedule, shape);
    this.pending = null;
  }

  protected override encode(
    shader: ShaderSource,
    buffers: GPUBuffer[],
    groups: number,
    flops: number,
  ): void {
    const p = this.pending;
    if (p !== null && p.schedule !== "direct" && p.schedule !== "reduce") {
      const key = `${gemmShader(p.spec, p.schedule).key} rows ${p.rows}`;
      const seen = this.products.get(key);
      if (seen !== undefined) seen.count++;
      else this.products.set(key, { ...p, buffers: [...buffers], count: 1 });
    }
    super.encode(shader, buffers, groups, flops);
  }
}

/**
 * The grid of tile shapes for a product of `n` columns: strided and strided-quad tiles, and
 * unless `quick` blocked ones and each of the three with register prefetch; `rm × rn` outputs
 * a thread (4 or 8 each; for fewer than 16 columns, rows of 1–8 and exactly `n` columns), 64 to
 * 256 threads, staged depths of 16 and 32 (unless `quick`, also 8, 48 and 64), within
 * `maxBytes` of workgroup memory.
 *
 * @param n The product's columns.
 * @param quick Whether the quick grid.
 * @param maxBytes The device's workgroup memory.
 * @returns The shapes.
 */
export function gemmTileGrid(n: number, quick: boolean, maxBytes: number): TileCandidate[] {
  const out: TileCandidate[] = [];
  const narrow = n < 16;
  for (const kind of quick ? ["", "q"] : ["", "b", "q", "p", "bp", "qp"]) {
    for (const rm of narrow ? [1, 2, 4, 8] : [4, 8]) {
      for (const rn of narrow ? [n] : [4, 8]) {
        for (const thm of [4, 8, 16, 32, 64, 128, 256]) {
          for (const tk of quick ? [16, 32] : [8, 16, 32, 48, 64]) {
            const blocked = kind.startsWith("b") || kind.startsWith("q");
            const shape: GemmTileShape = {
              rm,
              rn,
              thm,
              tk,
              maxBytes,
              ...(narrow ? { tn: n } : {}),
            };
            let threads: number;
            try {
              const t = gemmTile(n, 8, blocked, shape);
              threads = t.thm * t.thn;
            } catch (e) {
              if (e instanceof RangeError) continue;
              throw e;
            }
            if (threads < 64) continue;
            const schedule = (kind === "" ? 8 : `8${kind}`) as GemmSchedule;
            out.push({
              name: `${rm}×${rn}${kind} ${thm}×${threads / thm} threads, depth ${tk}`,
              schedule,
              shape,
            });
          }
        }
      }
    }
  }
  return out;
}

/** Dispatches a product in a tile into `pass`, writing `y`. */
function encodeProduct(
  ctx: WebGpuContext,
  pass: GPUComputePassEncoder,
  p: CapturedProduct,
  c: TileCandidate,
  y: GPUBuffer,
): void {
  dispatch(ctx, pass, gemmShader(p.spec, c.schedule, c.shape), {
    buffers: [...p.buffers.slice(0, -1), y],
    groups: gemmGroups(p.spec, p.rows, c.schedule, c.shape),
  });
}

/**
 * Milliseconds of tiles `a` and `b` on a product, dispatched alternately `reps` times each after
 * one untimed pair, writing `ya` and `yb`: the medians of per-dispatch timestamps where the
 * device offers them and `wall` is false; else by the wall clock — the wait for a submit of 10
 * dispatches less that for an empty submit (the median of 3), over 10 (noisier: Deno's wait for
 * a submit is ≈ 11 ms on the lent GPUs). Clock drift cancels in the ratio.
 *
 * @param ctx The context.
 * @param p The product.
 * @param tiles The two tiles.
 * @param outputs Their outputs.
 * @param reps Timed dispatches of each.
 * @param wall Whether to time by the wall clock even where timestamps are offered.
 * @returns The two times.
 */
export async function timeTilePair(
  ctx: WebGpuContext,
  p: CapturedProduct,
  [a, b]: [TileCandidate, TileCandidate],
  [ya, yb]: [GPUBuffer, GPUBuffer],
  reps: number,
  wall = false,
): Promise<[number, number]> {
  const { device } = ctx;
  const median = (v: number[]) => v.sort((x, y) => x - y)[v.length >> 1];
  if (device.features.has("timestamp-query") && !wall) {
    const ms = await passTimes(device, 2 * (reps + 1), (i, pass) => {
      encodeProduct(ctx, pass, p, i % 2 === 0 ? a : b, i % 2 === 0 ? ya : yb);
    });
    const of = (odd: number) => median(Array.from({ length: reps }, (_, r) => ms[2 * r + 2 + odd]));
    return [of(0), of(1)];
  }
  const submitWait = async (c?: TileCandidate, y?: GPUBuffer, times = 0) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < times; r++) encodeProduct(ctx, pass, p, c!, y!);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const empty = median([await submitWait(), await submitWait(), await submitWait()]);
  await submitWait(a, ya, 1); // compiles, warms
  await submitWait(b, yb, 1);
  const ta: number[] = [], tb: number[] = [];
  for (let r = 0; r < reps; r++) {
    ta.push(Math.max(1e-6, (await submitWait(a, ya, 10)) - empty) / 10);
    tb.push(Math.max(1e-6, (await submitWait(b, yb, 10)) - empty) / 10);
  }
  return [median(ta), median(tb)];
}

/**
 * The first and last `bytes` (at most) of a buffer's first `size` bytes, read back: the parts of
 * two tiles' outputs compared.
 *
 * @param ctx The context.
 * @param y The buffer.
 * @param size Its bytes in use.
 * @param bytes The bytes of each part.
 * @returns The two parts.
 */
export async function outputEnds(
  ctx: WebGpuContext,
  y: GPUBuffer,
  size: number,
  bytes: number,
): Promise<[Float32Array, Float32Array]> {
  const part = Math.min(bytes, Math.floor(size / 8) * 4);
  const tail = ctx.device.createBuffer({ size: part, usage: 0x04 | 0x08 }); // COPY_SRC | COPY_DST
  try {
    const enc = ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(y, size - part, tail, 0, part);
    ctx.device.queue.submit([enc.finish()]);
    const [head, end] = await readBack(ctx, [{ buffer: y, bytes: part }, {
      buffer: tail,
      bytes: part,
    }]);
    return [new Float32Array(head), new Float32Array(end)];
  } finally {
    tail.destroy();
  }
}

/**
 * The largest difference of two tiles' output parts over the largest value of the first
 * (`Infinity` where a value is NaN: a NaN-filled output not written).
 *
 * @param want The first tile's parts.
 * @param got The second's.
 * @returns The relative difference.
 */
export function outputsDiffer(want: Float32Array[], got: Float32Array[]): number {
  let diff = 0, largest = 0;
  for (let part = 0; part < want.length; part++) {
    for (let i = 0; i < want[part].length; i++) {
      const d = Math.abs(got[part][i] - want[part][i]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      largest = Math.max(largest, Math.abs(want[part][i]));
    }
  }
  return diff === 0 ? 0 : diff / largest;
}

/** One product, as {@linkcode tuneGemmTiles} timed it. */
export interface TileTiming {
  /** The product's shader key at the engine's tile: the key {@linkcode setGemmTiles} takes. */
  readonly key: string;
  /** The rows it ran on (the tuned pass's). */
  readonly rows: number;
  /** Milliseconds of one dispatch in the engine's tile (beside the fastest shape). */
  readonly ms: number;
  /** The fastest shape's milliseconds (NaN, as `ms`, where no shape ran and agreed). */
  readonly bestMs: number;
  /** The fastest shape, now the product's tile on this device, where it beat the engine's by
   * the margin; else null (the engine's tile stays). */
  readonly chosen: GemmTileChoice | null;
  /** Shapes timed whose outputs agreed with the engine's tile's. */
  readonly shapes: number;
}

/** Options of {@linkcode tuneGemmTiles}. */
export interface TuneTilesOptions {
  /** Examples of the recorded passes (default: a chunk as the engine runs it, at most 64). */
  readonly examples?: number;
  /** Timed dispatches of each shape and of the engine's tile beside it (default 3). */
  readonly reps?: number;
  /** The most shapes a product, from the start of the quick grid (default: all of it). */
  readonly shapes?: number;
  /** How much faster a shape must be to replace the engine's tile (default 1.05). */
  readonly margin?: number;
}

/**
 * Times the tiles of a network's matrix products on the shared device and keeps, for each
 * product, the fastest shape of the quick grid ({@linkcode gemmTileGrid}) where it beats the
 * engine's tile by `margin` and its output agrees with that tile's within 1e-5 of the largest
 * value (the ends of the output, NaN-filled before each run): {@linkcode setGemmTiles}, added to
 * the device's tiles. Like cuDNN's benchmark mode, results then differ from the rules' by float32
 * rounding. Software adapters run products directly, not in tiles: nothing to tune there (`[]`).
 * A few seconds a product on a GPU (each shape compiled, then timed by timestamps where the
 * device has them, else by the wall clock).
 *
 * @example
 * ```ts ignore
 * const timings = await tuneGemmTiles(net);
 * for (const t of timings) console.log(t.key, t.ms, t.bestMs, t.chosen);
 * ```
 *
 * @param net The network.
 * @param options Examples, repetitions, shapes a product, margin.
 * @returns Each product's timing.
 * @throws {RangeError} For options that are not positive (integers where counts).
 */
export async function tuneGemmTiles(
  net: SplineNetwork,
  options: TuneTilesOptions = {},
): Promise<TileTiming[]> {
  const ctx = await webgpuContext();
  if (ctx === null) throw new Error("Cannot tune the WebGPU engine's tiles: no WebGPU adapter");
  return await tuneTilesOn(ctx, net, options);
}

/**
 * {@linkcode tuneGemmTiles} on a given context (tests give the software adapter's device with a
 * GPU's kernel choices).
 *
 * @param ctx The context.
 * @param net The network.
 * @param options As {@linkcode tuneGemmTiles}'s.
 * @returns Each product's timing.
 */
export async function tuneTilesOn(
  ctx: WebGpuContext,
  net: SplineNetwork,
  options: TuneTilesOptions = {},
): Promise<TileTiming[]> {
  const keys = { examples: true, reps: true, shapes: true, margin: true } as const satisfies Record<
    keyof TuneTilesOptions,
    true
  >;
  checkOptionKeys(options, keys, "Cannot tune the WebGPU engine's tiles");
  const C = net.outputSize, D = net.inputSize;
  const examples = options.examples ?? Math.min(64, chunkSize(ctx, net, C));
  const { reps = 3, shapes = Infinity, margin = 1.05 } = options;
  const whole = (v: number) => Number.isInteger(v) && v > 0;
  if (!whole(examples) || !whole(reps) || !(shapes > 0) || !(margin > 0)) {
    throw new RangeError(
      `Cannot tune the WebGPU engine's tiles: examples (${examples}) and reps (${reps}) must ` +
        `be positive integers, shapes (${shapes}) and margin (${margin}) positive`,
    );
  }
  if (ctx.isFallback) return [];
  return await checked(ctx, "Cannot tune the WebGPU engine's tiles", async () => {
    const rec = new ProductCapture(ctx, "tile tuning");
    try {
      const m = Math.min(examples, chunkSize(ctx, net, C));
      const x = Float32Array.from({ length: m * D }, (_, i) => Math.sin(i * 12.9898) * 0.5 + 0.5);
      const xb = rec.upload(x, "tuning input");
      const { codes } = recordCodesAndOffsets(rec, net, xb, m);
      recordTemplates(rec, net, codes, { first: 0, count: m });
      recordInnerProducts(rec, net, xb, m);
      rec.submit();
      await ctx.device.queue.onSubmittedWorkDone();
      const maxBytes = ctx.device.limits.maxComputeWorkgroupStorageSize;
      const timings: TileTiming[] = [];
      const chosen: Record<string, GemmTileChoice> = Object.fromEntries(gemmTilesOf(ctx));
      // a shader's tile serves every row count: timed at the most rows the passes gave it
      const byKey = new Map<string, CapturedProduct>();
      for (const p of rec.products.values()) {
        const key = gemmShader(p.spec, p.schedule).key, seen = byKey.get(key);
        if (seen === undefined || p.rows > seen.rows) byKey.set(key, p);
      }
      for (const [key, p] of byKey) {
        const t = await tuneProduct(ctx, p, key, { reps, shapes, margin, maxBytes });
        timings.push(t);
        if (t.chosen !== null) chosen[key] = t.chosen;
      }
      setGemmTiles(ctx, chosen);
      return timings;
    } finally {
      rec.release();
    }
  });
}

/** Times one product in the engine's tile and each shape of the quick grid. */
async function tuneProduct(
  ctx: WebGpuContext,
  p: CapturedProduct,
  key: string,
  o: { reps: number; shapes: number; margin: number; maxBytes: number },
): Promise<TileTiming> {
  const size = 4 * (p.spec.batches ?? 1) * p.rows * p.spec.mPerRow * p.spec.n;
  const usage = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
  const ya = ctx.device.createBuffer({ size, usage }),
    yb = ctx.device.createBuffer({ size, usage });
  const engine: TileCandidate = { name: "the engine's tile", schedule: p.schedule };
  try {
    let best: { c: TileCandidate; ratio: number; ms: number; base: number } | null = null;
    let want: Float32Array[] | null = null, agreed = 0;
    const grid = gemmTileGrid(p.spec.n, true, o.maxBytes).slice(0, o.shapes);
    for (const c of grid) {
      const nan = new Float32Array(Math.min(2 << 20, Math.floor(size / 8) * 4) / 4).fill(NaN);
      ctx.device.queue.writeBuffer(yb, 0, nan);
      ctx.device.queue.writeBuffer(yb, size - nan.byteLength, nan);
      ctx.device.pushErrorScope("validation");
      ctx.device.pushErrorScope("internal");
      let times: [number, number] | null = null;
      try {
        times = await timeTilePair(ctx, p, [engine, c], [ya, yb], o.reps);
      } catch {
        times = null; // a shape the device cannot compile or run: skipped
      }
      const errors = [await ctx.device.popErrorScope(), await ctx.device.popErrorScope()];
      if (errors.some((e) => e !== null) || times === null) continue;
      want ??= await outputEnds(ctx, ya, size, 2 << 20);
      if (!(outputsDiffer(want, await outputEnds(ctx, yb, size, 2 << 20)) <= 1e-5)) continue;
      agreed++;
      const ratio = times[0] / times[1];
      if (best === null || ratio > best.ratio) best = { c, ratio, ms: times[1], base: times[0] };
    }
    const keep = best !== null && best.ratio >= o.margin;
    return {
      key,
      rows: p.rows,
      ms: best?.base ?? NaN,
      bestMs: best?.ms ?? NaN,
      chosen: keep ? { schedule: best!.c.schedule, shape: best!.c.shape } : null,
      shapes: agreed,
    };
  } finally {
    ya.destroy();
    yb.destroy();
  }
}
