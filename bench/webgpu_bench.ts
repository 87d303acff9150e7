/**
 * WebGPU engine benchmark on the shared/PEERS.md workloads:
 * - kNN on bit-packed codes, N = 10,000 queries × M = 50,000 base, D = 32,768 bits, top-16
 *   (Gpairs/s; peer: PyTorch ±1 fp32 matmul 0.79 Gpairs/s on an H100);
 * - all 10 templates A[x] of smallCNN, 32×32×3 (img/s; peer 49,800 img/s on an H100);
 * - ⟨A[x]_c, x⟩ for all c, smallCNN (img/s; peer 78,263 img/s on an H100);
 * - the same two for largeCNN (peers 5,395 and 26,468 img/s).
 *
 * Templates and inner products are timed three times: from float64 inputs to results read
 * back into JS arrays (what the library's functions do for inputs in JS), with inputs and
 * results on the GPU (the CUDA peers' setting; the result buffers kept between calls), and
 * through the library's own path for inputs on tfjs-webgpu (`affineMapOnDevice`: new result
 * buffers each call, the offsets copied too).
 *
 * Before timing, every workload is checked against the CPU reference on the same adapter
 * (float64 templates and inner products on 4 inputs, 1 for largeCNN; exact kNN counts for 32
 * queries): the
 * line "agreement …" says how far apart they are, and the run exits non-zero where they differ.
 *
 * `--profile` first times one chunk of each pass kernel by kernel (by timestamps around each
 * dispatch where the device offers them, else each replayed 20 times in one submit), worst
 * first, and by kind of kernel.
 *
 * On a GPU, the engine's alternatives ({@linkcode VARIANTS}: tile shapes, fusions, window
 * tiles, Winograd) are checked, profiled and timed too, each call by call alternately with the
 * defaults, as the GPU's clocks drift over a run (`--variants` runs them on a software adapter
 * as well, to test the bench itself; `--variants=4x4,tuned` runs only those). `--reps=N` times
 * each call N times after its warm-up (default 2; the kNN at least 3). `--tiles=FILE` adds the
 * variant that runs products in the tiles a GEMM sweep found best (`bench/gemm_sweep.ts
 * --out=FILE`).
 *
 * `--parts=largeCNN` (or any of `knn,smallCNN,largeCNN`) runs only those workloads.
 *
 * `deno run -A bench/webgpu_bench.ts [--profile]` on a real GPU; `--tiny` runs tiny sizes so that it
 * finishes on a software adapter (llvmpipe) — those figures say nothing about GPU speed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import type { SplineNetwork } from "../lib/network/spline_network.ts";
import {
  type WebGpuContext,
  webgpuContext,
  type WebGpuHooks,
  webgpuHooks,
} from "../lib/backend/webgpu/device.ts";
import { Recorder } from "../lib/backend/webgpu/run.ts";
import { affineMapOnDevice, innerProductsOnDevice } from "../lib/backend/webgpu/on_device.ts";
import { dispatch, uniformU32 } from "../lib/backend/webgpu/_gpu.ts";
import { passTimes } from "../lib/backend/webgpu/_pass_timestamps.ts";
import { hammingCountsShader } from "../lib/backend/webgpu/kernels/hamming_counts.ts";
import { mergeThreads, topKMergeShader } from "../lib/backend/webgpu/kernels/top_k_merge.ts";
import type { ShaderSource } from "../lib/backend/webgpu/_pipelines.ts";
import { gemmScheduleFor } from "../lib/backend/webgpu/kernels/gemm.ts";
import {
  type GemmTileChoice,
  gemmTilesOf,
  setGemmTiles,
} from "../lib/backend/webgpu/gemm_tiles.ts";
import { mismatchTopKWebGpu } from "../lib/backend/webgpu/mismatch.ts";
import {
  affineMapWebGpu,
  chunkSize,
  innerProductsWebGpu,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "../lib/backend/webgpu/passes.ts";
import { type CodeRows, mismatchTopK } from "../lib/partition/_hamming_engine.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../lib/partition/codes.ts";
import { partitionCodesAsync } from "../lib/partition/codes_async.ts";
import { type ConvTiming, tuneWebGpu } from "../lib/backend/webgpu/tune.ts";
import {
  clearConvPlans,
  convPlan,
  plannedConvs,
  setConvPlan,
} from "../lib/backend/webgpu/conv_plan.ts";
import { relativeError } from "./_relative_error.ts";
import { setNonzeroOffsets } from "./_nonzero_offsets.ts";

let disagreements = 0;

/**
 * The engine's alternatives that the GPU measurement compares with its defaults, each a
 * setting of {@linkcode webgpuHooks}: timed on the GPU, profiled kernel by kernel and checked
 * against the CPU reference like the defaults.
 */
const VARIANTS: readonly Variant[] = [
  { id: "4x4", name: "4 × 4 outputs per thread everywhere", hooks: { gemmMaxPerThread: 4 } },
  {
    id: "plain",
    name: "plain tiles, no prefetch (the defaults before the eighteenth session)",
    hooks: { gemmBlocked: false, gemmPrefetch: false },
  },
  {
    id: "blocked",
    name: "blocked tiles",
    hooks: { gemmBlocked: true, gemmPrefetch: false },
  },
  {
    id: "blocked-prefetch",
    name: "blocked tiles with register prefetch",
    hooks: { gemmBlocked: true, gemmPrefetch: true },
  },
  {
    id: "quads",
    name: "strided-quad tiles without register prefetch",
    hooks: { gemmBlocked: "quads", gemmPrefetch: false },
  },
  {
    id: "prefetch",
    name: "plain tiles with register prefetch",
    hooks: { gemmBlocked: false, gemmPrefetch: true },
  },
  {
    id: "no-reduce",
    name: "narrow deep products on tiles (no reduce)",
    hooks: { gemmReduce: false },
  },
  {
    id: "work",
    name: "window tiles also where they do at most half the work (the software adapters' rule)",
    hooks: { windowTiles: "work" },
  },
  {
    id: "unfused",
    name: "sign layers and max-pools after a conv in passes of their own",
    hooks: { fuseTransposes: false },
  },
  {
    id: "fuse-all",
    name: "every conv transpose gathering through the layers after it",
    hooks: { fuseTransposes: true },
  },
  {
    id: "no-taps",
    name: "narrow conv transposes (to RGB) as one col2im product, not by taps",
    hooks: { convTaps: false },
  },
  {
    id: "big-chunks",
    name: "chunks of 1 GiB buffers, not 256 MiB (fewer, larger dispatches)",
    hooks: { chunkBytes: 2 ** 30 },
  },
  ...[128, 64, 32].map((mib) => ({
    id: `chunks-${mib}`,
    name:
      `chunks of ${mib} MiB buffers, not 256 MiB (more, smaller dispatches; less beside the 50 MB L2)`,
    hooks: { chunkBytes: mib * 2 ** 20 },
  })),
  { id: "no-winograd", name: "3×3 convs as products (no Winograd)", hooks: { winograd: false } },
  {
    id: "winograd-recording",
    name:
      "Winograd in the pass that records the templates' codes too (exact ties then follow its rounding; ⟨A_c, x⟩'s records by Winograd anyway)",
    hooks: { winogradRecording: true },
  },
  { id: "f2", name: "Winograd F(2 × 2, 3 × 3) instead of F(4 × 4)", hooks: { winograd: 2 } },
  {
    id: "f6",
    name: "Winograd F(6 × 6, 3 × 3) instead of F(4 × 4) (64/36 multiply-adds a pixel, not 36/16)",
    hooks: { winograd: 6 },
  },
  {
    id: "staged",
    name:
      "Winograd's transforms staged: each tile shared by m + 2 invocations through workgroup memory (fewer registers each)",
    hooks: { winogradStaged: true },
  },
  {
    id: "f6-staged",
    name: "Winograd F(6 × 6, 3 × 3), its transforms staged",
    hooks: { winograd: 6, winogradStaged: true },
  },
  {
    id: "tuned",
    name: "each conv's algorithms tuned on this device (tuneWebGpu)",
    hooks: {},
    tuned: true,
  },
];

/** An alternative to the engine's defaults: hooks to set, or each conv tuned on the device. */
interface Variant {
  /** Short name for `--variants=id,id`. */
  readonly id: string;
  readonly name: string;
  readonly hooks: WebGpuHooks;
  readonly tuned?: boolean;
  /** Tiles of particular products, set on the device (`setGemmTiles`). */
  readonly tiles?: Readonly<Record<string, GemmTileChoice>>;
}

/** A `--name=value` argument's value, if given. */
const argValue = (name: string): string | undefined =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/**
 * The variants to run: on GPUs, or with `--variants` (a software adapter, to test the bench);
 * `--variants=id,id` runs only those, in that order (see {@linkcode VARIANTS}).
 */
function variantsFor(ctx: WebGpuContext): readonly Variant[] {
  const only = argValue("variants")?.split(",");
  const unknown = only?.filter((id) => !VARIANTS.some((v) => v.id === id)) ?? [];
  if (unknown.length > 0) {
    throw new RangeError(
      `Unknown variant(s) ${unknown.join(", ")}: expected some of ${VARIANTS.map((v) => v.id)}`,
    );
  }
  const swept = SWEPT === undefined ? [] : [SWEPT];
  // in the order asked for (a run cut short by its time limit keeps the first ones)
  if (only !== undefined) {
    return [...only.map((id) => VARIANTS.find((v) => v.id === id)!), ...swept];
  }
  return ctx.isFallback && !Deno.args.includes("--variants") ? swept : [...VARIANTS, ...swept];
}

/**
 * With `--tiles=FILE` (written by `bench/gemm_sweep.ts --out=FILE`), the variant that runs
 * each product the sweep improved in the tile it found best, the others in the device's own
 * (timed whatever `--variants` says); with `--swept-winograd=6` (a sweep of F(6)'s products:
 * `gemm_sweep.ts --winograd=6`), by Winograd F(6) too.
 */
const SWEPT: Variant | undefined = await (async () => {
  const file = argValue("tiles");
  if (file === undefined) return undefined;
  const tiles = JSON.parse(await Deno.readTextFile(file)) as Record<string, GemmTileChoice>;
  const m = argValue("swept-winograd");
  if (m !== undefined && !["2", "4", "6"].includes(m)) {
    throw new RangeError(`--swept-winograd=${m}: expected 2, 4 or 6`);
  }
  return {
    id: "swept",
    name: `the GEMM sweep's best tiles (${Object.keys(tiles).length} products, ${file})${
      m === undefined ? "" : `, Winograd F(${m} × ${m}, 3 × 3)`
    }`,
    hooks: m === undefined ? {} : { winograd: Number(m) as 2 | 4 | 6 },
    tiles,
  };
})();

/** What to run (`--parts=knn,smallCNN,largeCNN`, the default: all three). */
const PARTS = (() => {
  const all = ["knn", "smallCNN", "largeCNN"];
  const asked = argValue("parts")?.split(",") ?? all;
  const unknown = asked.filter((p) => !all.includes(p));
  if (unknown.length > 0) {
    throw new RangeError(`--parts: ${unknown.join(",")}, expected some of ${all.join(",")}`);
  }
  return new Set(asked);
})();

/** Timed repetitions of each GPU call after the warm-up (`--reps=N`, default 2; kNN 3). */
const REPS = Number(argValue("reps") ?? 2);
if (!Number.isInteger(REPS) || REPS < 1) {
  throw new RangeError(`--reps=${argValue("reps")}: expected a positive integer`);
}

/** The plans `tuneWebGpu` chose, by network. */
const tuned = new Map<SplineNetwork, ConvTiming[]>();

/**
 * Runs `fn` with a variant's hooks set (and its network tuned, its tiles set), then restores the
 * defaults.
 */
async function withVariant<T>(
  ctx: WebGpuContext,
  net: SplineNetwork,
  variant: Variant | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const hooks = variant?.hooks ?? {};
  Object.assign(webgpuHooks, hooks);
  // the file's tiles over the device's own (MEASURED_TILES)
  if (variant?.tiles !== undefined) {
    setGemmTiles(ctx, { ...Object.fromEntries(gemmTilesOf(ctx)), ...variant.tiles });
  }
  try {
    if (variant?.tuned) {
      let timings = tuned.get(net);
      if (timings === undefined) { // tuned once a network; later uses set the plans it chose
        const t0 = performance.now();
        tuned.set(net, timings = await tuneWebGpu(net, { reps: 1 }));
        console.log(
          `  tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${
            timings.map((t) => `${t.layer} ${t.direction} ${t.chosen}`).join(", ")
          }`,
        );
      }
      const convs = plannedConvs(net);
      for (const t of timings) {
        const conv = convs.find((c) => c.name === t.layer)!;
        setConvPlan(ctx, conv, { ...convPlan(ctx, conv), [t.direction]: t.chosen });
      }
    }
    return await fn();
  } finally {
    for (const k of Object.keys(hooks)) delete webgpuHooks[k as keyof WebGpuHooks];
    if (variant?.tuned) clearConvPlans(ctx, net);
    if (variant?.tiles !== undefined) setGemmTiles(ctx, null);
  }
}

/** Largest |a − b| over the largest |b|, printed with a verdict against `tol`. */
function agreement(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  const rel = relativeError(a, b);
  const ok = rel <= tol;
  if (!ok) disagreements++;
  console.log(
    `agreement ${what}: ${rel.toExponential(2)} of the largest value (${
      ok ? "ok" : "FAILED"
    }, tolerance ${tol})`,
  );
}

function randomRows(count: number, words: number, seed: number): CodeRows {
  const data = new Uint32Array(count * words);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s ^ (s >>> 13);
  }
  return { kind: "sign", count, rowLength: words, data };
}

async function time(fn: () => Promise<unknown>, reps: number): Promise<number> {
  // warm-up: pipelines compiled, weights uploaded, buffers pooled — and at least half a second
  // of work: on the H200 the smallCNN templates timed first in a process came out 1.7× lower
  // than the same work timed later (the GPU's clocks rising from idle, most likely)
  const w0 = performance.now();
  do await fn(); while (performance.now() - w0 < 500);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await fn();
  return (performance.now() - t0) / 1000 / reps;
}

/**
 * Seconds per call of `a` and of `b`, each warmed up as {@linkcode time} does, then called
 * alternately `reps` times each (a, b, a, b, …), so that both see the same clocks.
 */
async function timePair(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  reps: number,
): Promise<[number, number]> {
  await time(a, 0);
  await time(b, 0);
  let ta = 0, tb = 0;
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    await a();
    ta += performance.now() - t0;
    t0 = performance.now();
    await b();
    tb += performance.now() - t0;
  }
  return [ta / 1000 / reps, tb / 1000 / reps];
}

/** Result buffers of the whole batch on the device, made once per size (as PyTorch's caching
 * allocator keeps its blocks between calls). */
const results = new Map<number, GPUBuffer>();

/**
 * The same passes with inputs and results on the GPU (as the CUDA peers have them): the
 * batch `xDev` uploaded once beforehand, each chunk's rows copied from it on the device,
 * recorded and submitted as the library does (templates: codes and offsets of a chunk, then
 * its templates in slices), the results copied into one buffer of the whole batch (offsets
 * are computed, not copied), the temporaries given back for the next chunk, then one wait for
 * the queue.
 */
async function onDevice(
  ctx: WebGpuContext,
  net: SplineNetwork,
  xDev: GPUBuffer,
  n: number,
  what: "templates" | "inner products",
  split?: { record: number; submit: number; wait: number },
): Promise<void> {
  const D = net.inputSize, C = net.outputSize;
  const perExample = (what === "templates" ? C * D : C) * 4;
  let out = results.get(n * perExample);
  if (out === undefined) {
    out = ctx.device.createBuffer({ size: n * perExample, usage: 0x80 | 0x08 });
    results.set(n * perExample, out);
  }
  const step = chunkSize(ctx, net, 1), slice = chunkSize(ctx, net, C);
  const timed = (t0: number, t1: number) => {
    if (split) {
      split.record += t1 - t0;
      split.submit += performance.now() - t1;
    }
  };
  const copy = (from: GPUBuffer, at: number, to: GPUBuffer, to0: number, bytes: number) => {
    const enc = ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(from, at, to, to0, bytes);
    ctx.device.queue.submit([enc.finish()]);
  };
  for (let s = 0; s < n; s += step) {
    let t0 = performance.now();
    const m = Math.min(step, n - s);
    const rec = new Recorder(ctx, what);
    const xb = rec.buffer(m * D, "input");
    if (what === "inner products") {
      const y = recordInnerProducts(rec, net, xb, m);
      const t1 = performance.now();
      copy(xDev, s * D * 4, xb, 0, m * D * 4);
      rec.submit();
      copy(y, 0, out, s * perExample, m * perExample);
      rec.release();
      timed(t0, t1);
      continue;
    }
    const { codes } = recordCodesAndOffsets(rec, net, xb, m);
    let t1 = performance.now();
    copy(xDev, s * D * 4, xb, 0, m * D * 4);
    rec.submit();
    timed(t0, t1);
    for (let first = 0; first < m; first += slice) {
      t0 = performance.now();
      const count = Math.min(slice, m - first);
      const sub = new Recorder(ctx, what);
      const a = recordTemplates(sub, net, codes, { first, count });
      t1 = performance.now();
      sub.submit();
      copy(a, 0, out, (s + first) * perExample, count * perExample);
      sub.release();
      timed(t0, t1);
    }
    rec.release();
  }
  const t2 = performance.now();
  await ctx.device.queue.onSubmittedWorkDone();
  if (split) split.wait += performance.now() - t2;
}

/** Where one on-GPU call's time goes on the CPU side: recording, submitting, the final wait. */
async function cpuSplit(
  ctx: WebGpuContext,
  net: SplineNetwork,
  xDev: GPUBuffer,
  n: number,
  what: "templates" | "inner products",
): Promise<string> {
  const split = { record: 0, submit: 0, wait: 0 };
  const t0 = performance.now();
  await onDevice(ctx, net, xDev, n, what, split);
  const total = performance.now() - t0;
  return `${what}: ${total.toFixed(1)} ms = recording ${split.record.toFixed(1)} + submits ${
    split.submit.toFixed(1)
  } + waiting for the GPU ${split.wait.toFixed(1)}`;
}

/**
 * A recorder that keeps its dispatches instead of encoding them, so that each can be
 * replayed alone (its own submit, waited for): where a pass's time goes, kernel by kernel.
 */
class ProfilingRecorder extends Recorder {
  readonly ops: {
    shader: ShaderSource;
    buffers: GPUBuffer[];
    groups: number | [number, number];
    flops: number;
    images: number;
  }[] = [];
  /** Images that the dispatches recorded from now on work for. */
  images = 1;
  protected override encode(
    shader: ShaderSource,
    buffers: GPUBuffer[],
    groups: number | [number, number],
    flops: number,
  ) {
    this.ops.push({ shader, buffers, groups, flops, images: this.images });
  }

  /**
   * Per-dispatch GPU times in ms: from timestamps written at the start and end of each
   * dispatch (one compute pass each, all in one submit, in the recorded order; the median of
   * `reps` such submits after one untimed) where the device offers `timestamp-query`; else
   * each dispatch replayed `reps` times in one submit, waited for, less the wait for an empty
   * submit (≈ 11 ms on the lent GPUs: the wait's own latency — noisy for short kernels).
   */
  private async times(reps: number): Promise<Float64Array> {
    const { device } = this.ctx;
    const n = this.ops.length, ms = new Float64Array(n);
    if (device.features.has("timestamp-query")) {
      const runs: Float64Array[] = [];
      for (let r = 0; r <= reps; r++) {
        const run = await passTimes(device, n, (i, pass) => {
          const op = this.ops[i];
          dispatch(this.ctx, pass, op.shader, { buffers: op.buffers, groups: op.groups });
        });
        if (r > 0) runs.push(run);
      }
      for (let i = 0; i < n; i++) {
        ms[i] = runs.map((run) => run[i]).sort((a, b) => a - b)[runs.length >> 1];
      }
      console.log(`  (timestamps around each dispatch, median of ${reps} submits)`);
      return ms;
    }
    const submitWait = async (op?: (typeof this.ops)[number], times = 1) => {
      const enc = device.createCommandEncoder();
      if (op !== undefined) {
        const pass = enc.beginComputePass();
        for (let r = 0; r < times; r++) {
          dispatch(this.ctx, pass, op.shader, { buffers: op.buffers, groups: op.groups });
        }
        pass.end();
      }
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const waits: number[] = [];
    for (let r = 0; r < 5; r++) waits.push(await submitWait());
    const wait = waits.sort((x, y) => x - y)[2];
    for (let i = 0; i < n; i++) {
      await submitWait(this.ops[i]); // compiles the pipeline
      ms[i] = Math.max(0, (await submitWait(this.ops[i], reps)) - wait) / reps;
    }
    console.log(`  (an empty submit's wait: ${wait.toFixed(2)} ms, subtracted)`);
    return ms;
  }

  /**
   * Prints each dispatch's GPU time ({@linkcode times}), worst first, the rate of the whole
   * at those times (each dispatch's time spread over the images it worked for), and the
   * time by kind of kernel (the shader key's first part; for products, the first two).
   */
  async profile(title: string, reps: number): Promise<void> {
    this.pass.end();
    const ms = await this.times(reps);
    const total = ms.reduce((a, b) => a + b, 0);
    const perImage = this.ops.reduce((a, op, i) => a + ms[i] / op.images, 0);
    console.log(
      `profile ${title}: ${this.ops.length} dispatches, ${total.toFixed(2)} ms of kernels (${
        (1000 / perImage).toFixed(0)
      } img/s at that rate)`,
    );
    // worst first by the share of an image's time
    const share = (i: number) => ms[i] / this.ops[i].images / perImage;
    const order = [...ms.keys()].sort((a, b) => share(b) - share(a));
    for (const i of order.slice(0, 16)) {
      const op = this.ops[i];
      const rate = op.flops > 0 ? `, ${(op.flops / ms[i] / 1e9).toFixed(1)} TFLOP/s` : "";
      console.log(
        `  ${ms[i].toFixed(3).padStart(8)} ms  ${
          (100 * share(i)).toFixed(1).padStart(5)
        }% of an image's time  ${op.shader.label} (${op.groups} groups, ${op.images} images${rate})`,
      );
    }
    // by kind, as shares of an image's time (each dispatch's time over its images: a codes
    // pass's dispatch works for the chunk, a templates slice's for fewer images)
    const kinds = new Map<string, { perImage: number; ms: number; count: number; flops: number }>();
    this.ops.forEach((op, i) => {
      const parts = op.shader.label.split("/");
      const kind = parts[0].startsWith("gemm") ? parts.slice(0, 2).join("/") : parts[0];
      const k = kinds.get(kind) ?? { perImage: 0, ms: 0, count: 0, flops: 0 };
      kinds.set(kind, {
        perImage: k.perImage + ms[i] / op.images,
        ms: k.ms + ms[i],
        count: k.count + 1,
        flops: k.flops + op.flops,
      });
    });
    console.log(
      `  by kind, share of an image's time: ${
        [...kinds].sort((a, b) => b[1].perImage - a[1].perImage).map(([kind, k]) =>
          `${kind} ${(100 * k.perImage / perImage).toFixed(1)}% (${k.count}${
            k.flops > 0 ? `, ${(k.flops / k.ms / 1e9).toFixed(1)} TFLOP/s` : ""
          })`
        ).join("; ")
      }`,
    );
  }
}

/** Per-kernel times of one chunk of each pass (see {@linkcode ProfilingRecorder}). */
async function profile(ctx: WebGpuContext, tiny: boolean): Promise<void> {
  if (PARTS.has("knn")) { // kNN: one block of the counts kernel and of the top-16 merge, as mismatchTopKWebGpu runs them
    const [rows, D, k] = tiny ? [256, 1024, 16] : [4096, 32_768, 16];
    const vec4s = D / 128, R = ctx.isFallback ? 2 : 8;
    const rec = new ProfilingRecorder(ctx, "profile");
    const q = rec.upload(randomRows(rows, D / 32, 1).data as Uint32Array, "query");
    const b = rec.upload(randomRows(rows, D / 32, 2).data as Uint32Array, "base");
    const counts = rec.buffer(rows * rows, "counts");
    const dims = uniformU32(ctx, [vec4s, rows]);
    const params = uniformU32(ctx, [0, 0, rows, rows, 0]);
    const best = rec.upload(new Uint32Array(rows * k).fill(0xffffffff), "top-k indices");
    const bestCounts = rec.upload(new Uint32Array(rows * k).fill(0xffffffff), "top-k counts");
    rec.ops.push({
      shader: hammingCountsShader({ kind: "sign", perThread: R }),
      buffers: [q, b, counts, dims],
      groups: [rows / (16 * R), rows / (16 * R)],
      flops: 0,
      images: rows * rows,
    }, {
      shader: topKMergeShader({ k, threads: mergeThreads(k, ctx.isFallback) }),
      buffers: [counts, best, bestCounts, params],
      groups: rows,
      flops: 0,
      images: rows * rows,
    });
    await rec.profile(
      `kNN block ${rows} × ${rows}, D = ${D} (pairs/s: img/s below)`,
      tiny ? 2 : 20,
    );
    rec.release();
    dims.destroy();
    params.destroy();
  }
  for (const arch of ["smallCNN", "largeCNN"] as const) {
    if ((tiny && arch === "largeCNN") || !PARTS.has(arch)) continue;
    const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
    setNonzeroOffsets(model); // else the offsets B are zeros, and their check tells nothing
    const net = fromLayersModel(model);
    const D = net.inputSize;
    // the defaults, then each variant's templates pass (and inner products where products
    // differ), kernel by kernel
    const runs: { what: "templates" | "inner products"; variant?: (typeof VARIANTS)[number] }[] = [
      { what: "templates" },
      { what: "inner products" },
      ...(variantsFor(ctx).flatMap((variant) => [
        { what: "templates" as const, variant },
        ...("windowTiles" in variant.hooks || "fuseTransposes" in variant.hooks
          ? []
          : [{ what: "inner products" as const, variant }]),
      ])),
    ];
    for (const { what, variant } of runs) {
      await withVariant(ctx, net, variant, async () => {
        // a chunk as the library records it: for templates, the codes and offsets of a chunk,
        // then one slice's templates
        const m = tiny ? 4 : chunkSize(ctx, net, 1);
        const slice = tiny ? 2 : chunkSize(ctx, net, net.outputSize);
        const x = Float32Array.from({ length: m * D }, (_, i) => Math.sin(i * 12.9898));
        const rec = new ProfilingRecorder(ctx, "profile");
        const xb = rec.upload(x, "input");
        rec.images = m;
        if (what === "templates") {
          const { codes } = recordCodesAndOffsets(rec, net, xb, m);
          rec.images = slice;
          recordTemplates(rec, net, codes, { first: 0, count: slice });
        } else recordInnerProducts(rec, net, xb, m);
        const images = what === "templates" ? `${m} images, templates of ${slice}` : `${m} images`;
        await rec.profile(
          `${arch} ${what}, ${images}${variant ? `, ${variant.name}` : ""}`,
          tiny ? 2 : 20,
        );
        rec.release();
      });
    }
    model.dispose();
  }
}

async function main(): Promise<void> {
  const tiny = Deno.args.includes("--tiny");
  await tf.setBackend("cpu");
  const ctx = await webgpuContext();
  if (ctx === null) {
    console.log("no WebGPU adapter: nothing to measure");
    return;
  }
  console.log(`adapter: ${ctx.adapterName}${ctx.isFallback ? " (software fallback)" : ""}`);
  { // what the adapter could offer beyond the defaults (for kernels yet to be written)
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    const l = adapter?.limits;
    console.log(
      `adapter features: ${[...adapter?.features ?? []].sort().join(" ") || "none"}; limits: ${
        l === undefined
          ? "?"
          : `${l.maxComputeWorkgroupStorageSize} bytes of workgroup memory, ${l.maxComputeInvocationsPerWorkgroup} invocations a workgroup, ${l.maxStorageBufferBindingSize} bytes a storage binding`
      }`,
    );
  }
  if (Deno.args.includes("--profile")) await profile(ctx, tiny);

  // 1. kNN
  if (PARTS.has("knn")) {
    const [N, M, D, k] = tiny ? [256, 1024, 1024, 16] : [10_000, 50_000, 32_768, 16];
    const query = randomRows(N, D / 32, 1), base = randomRows(M, D / 32, 2);
    const q = tiny ? N : 32;
    const few: CodeRows = { ...query, count: q, data: query.data.subarray(0, q * query.rowLength) };
    const gpuTop = await mismatchTopKWebGpu(ctx, { query: few, base }, { k, exclude: false });
    const cpuTop = mismatchTopK(few, base, { k, backend: "wasm" });
    agreement(`kNN counts, ${q} queries`, gpuTop.counts, cpuTop.counts, 0);
    agreement(`kNN indices, ${q} queries`, gpuTop.indices, cpuTop.indices, 0);
    const s = await time(
      () => mismatchTopKWebGpu(ctx, { query, base }, { k, exclude: false }),
      Math.max(3, REPS),
    );
    console.log(
      `kNN top-${k}, N=${N} × M=${M}, D=${D} bits: ${s.toFixed(3)} s, ${
        (N * M / s / 1e9).toFixed(3)
      } Gpairs/s (end to end, uploads included)`,
    );
  }

  // 2–3. templates and inner products, smallCNN and largeCNN
  console.log(
    `dense/conv products: ${
      gemmScheduleFor(ctx.isFallback) === "direct"
        ? "direct"
        : "tiled in strided quads with register prefetch, 8×8 per thread from 64 columns on, else 4×4; a workgroup per row for ≤ 16 columns"
    }`,
  );
  for (const arch of ["smallCNN", "largeCNN"] as const) {
    if ((tiny && arch === "largeCNN") || !PARTS.has(arch)) continue;
    const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
    setNonzeroOffsets(model); // else the offsets B are zeros, and their check tells nothing
    const net = fromLayersModel(model);
    const D = net.inputSize, C = net.outputSize;
    const nT = tiny ? 4 : arch === "smallCNN" ? 2048 : 256;
    const nI = tiny ? 8 : arch === "smallCNN" ? 16384 : 2048;
    const x = Float64Array.from({ length: Math.max(nT, nI) * D }, (_, i) => Math.sin(i * 12.9898));
    {
      const n = arch === "smallCNN" ? 4 : 1,
        xs = { data: x.slice(0, n * D), shape: [n, ...net.inputShape] };
      const codes = await partitionCodesAsync(net, xs, { backend: "webgpu" });
      const ref = partitionCodes(net, xs, { backend: "cpu" });
      const same = codes.every((c, l) =>
        c.bits.every((v, i) => v === ref[l].bits[i]) &&
        c.argmax.every((v, i) => v === ref[l].argmax[i])
      );
      console.log(
        `agreement ${arch} partition codes: ${
          same ? "identical" : "DIFFERENT (a pre-activation within float32 rounding of a kink)"
        }`,
      );
      const map = await affineMapWebGpu(ctx, net, { x: xs.data, n });
      const refMap = affineMap(net, xs, { backend: "cpu" });
      agreement(`${arch} templates A`, map.A, refMap.A.data, 1e-4);
      agreement(`${arch} offsets B`, map.B, refMap.B.data, 1e-4);
      const refIp = templateInnerProducts(net, xs, { backend: "cpu" }).data;
      const ip = await innerProductsWebGpu(ctx, net, { x: xs.data, n });
      agreement(`${arch} <A_c, x>`, ip, refIp, 1e-4);
      // the variants timed below, checked too
      for (const variant of variantsFor(ctx)) {
        await withVariant(ctx, net, variant, async () => {
          const v = await affineMapWebGpu(ctx, net, { x: xs.data, n });
          agreement(`${arch} templates A, ${variant.name}`, v.A, refMap.A.data, 1e-4);
          const vIp = await innerProductsWebGpu(ctx, net, { x: xs.data, n });
          agreement(`${arch} <A_c, x>, ${variant.name}`, vIp, refIp, 1e-4);
        });
      }
    }
    const sT = await time(
      () => affineMapWebGpu(ctx, net, { x: x.subarray(0, nT * D), n: nT }),
      REPS,
    );
    const sI = await time(
      () => innerProductsWebGpu(ctx, net, { x: x.subarray(0, nI * D), n: nI }),
      2,
    );
    const xDev = ctx.device.createBuffer({ size: x.length * 4, usage: 0x80 | 0x04 | 0x08 });
    ctx.device.queue.writeBuffer(xDev, 0, Float32Array.from(x));
    const rT = await time(() => onDevice(ctx, net, xDev, nT, "templates"), REPS);
    const rI = await time(() => onDevice(ctx, net, xDev, nI, "inner products"), REPS);
    // the library's own path for inputs on tfjs-webgpu (lib/backend/webgpu/on_device.ts): new
    // result buffers each call and the offsets copied too, as affineMapAsync gives tfjs
    const lT = await time(async () => {
      const { A, B } = await affineMapOnDevice(ctx, net, xDev, nT);
      await ctx.device.queue.onSubmittedWorkDone();
      A.destroy();
      B.destroy();
    }, REPS);
    const lI = await time(async () => {
      const z = await innerProductsOnDevice(ctx, net, xDev, nI);
      await ctx.device.queue.onSubmittedWorkDone();
      z.destroy();
    }, REPS);
    console.log(
      `${arch} one call on the GPU, CPU side: ${await cpuSplit(
        ctx,
        net,
        xDev,
        nT,
        "templates",
      )}; ${await cpuSplit(ctx, net, xDev, nI, "inner products")}`,
    );
    // each variant, on the GPU
    // each variant timed call by call alternately with the defaults (the GPU's clocks drift
    // over a run: in the H100's run 1 the defaults, timed first, trailed every variant)
    const compared: string[] = [];
    for (const variant of variantsFor(ctx)) {
      const rates = [];
      for (const [what, n] of [["templates", nT], ["inner products", nI]] as const) {
        const [d, v] = await timePair(
          () => onDevice(ctx, net, xDev, n, what),
          () => withVariant(ctx, net, variant, () => onDevice(ctx, net, xDev, n, what)),
          REPS,
        );
        rates.push(
          `${what === "templates" ? "templates" : "<A_c, x>"} ${(n / v).toFixed(1)} img/s (${
            (d / v).toFixed(3)
          }× the defaults' ${(n / d).toFixed(1)} beside it)`,
        );
      }
      compared.push(`${arch} ${variant.name}: ${rates.join(", ")} (on the GPU)`);
    }
    xDev.destroy();
    console.log(
      `${arch} all ${C} templates + offsets, batch ${nT}: ${
        (nT / sT).toFixed(1)
      } img/s read back, ${(nT / rT).toFixed(1)} img/s on the GPU (inputs and results there), ${
        (nT / lT).toFixed(1)
      } img/s on the GPU through the library (affineMapOnDevice)`,
    );
    console.log(
      `${arch} <A_c, x> for all c, batch ${nI}: ${(nI / sI).toFixed(1)} img/s read back, ${
        (nI / rI).toFixed(1)
      } img/s on the GPU (inputs and results there), ${
        (nI / lI).toFixed(1)
      } img/s on the GPU through the library (innerProductsOnDevice)`,
    );
    compared.forEach((line) => console.log(`  variant: ${line}`));
    model.dispose();
  }
}

if (import.meta.main) {
  await main();
  if (disagreements > 0) {
    console.log(`${disagreements} disagreement(s) with the CPU reference`);
    Deno.exit(1);
  }
}
