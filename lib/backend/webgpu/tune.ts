/**
 * Tunes the WebGPU engine to a network on this device: each conv's algorithms timed in place.
 *
 * @module
 */
import type { Conv2DLayer, SplineLayer, SplineNetwork } from "../../network/spline_network.ts";
import { foldedLayers } from "../../network/folded_layers.ts";
import { type WebGpuContext, webgpuContext } from "./device.ts";
import { checked, storageBuffer } from "./_gpu.ts";
import { type ConvBlock, convBlock, Recorder } from "./run.ts";
import { type ConvAlgorithm, convPlan, setConvPlan } from "./conv_plan.ts";
import {
  chunkSize,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "./passes.ts";
import { winogradApplies } from "./kernels/winograd.ts";
import { convTapsApply } from "./kernels/conv_taps.ts";
import { checkOptionKeys } from "../../util/options.ts";

/** One direction of one conv, as {@linkcode tuneWebGpu} timed it. */
export interface ConvTiming {
  /** The conv's name (of the folded layers: a batch-norm folded into it adds its name). */
  readonly layer: string;
  /** `"forward"`: timed by the ⟨A_c, x⟩ pass (the forward pass that records codes, where every
   * conv is a product, then the masked one, where the plan applies); `"transpose"`: by the
   * templates pass. */
  readonly direction: "forward" | "transpose";
  /** Milliseconds of the whole pass with each algorithm (the convs before this one as
   * chosen, those after by the engine's rules). */
  readonly ms: Readonly<Partial<Record<ConvAlgorithm, number>>>;
  /** The fastest, now the conv's plan on this device. */
  readonly chosen: ConvAlgorithm;
}

/** Options of {@linkcode tuneWebGpu}. */
export interface TuneOptions {
  /** Examples of the timed ⟨A_c, x⟩ pass, and C times those of the templates pass (default:
   * a chunk as the engine runs it on a hardware adapter; 4 on a software adapter). */
  readonly examples?: number;
  /** Passes per timing (default 3; each algorithm is timed twice, the faster kept). */
  readonly reps?: number;
}

/** A conv of the folded layers, and the block it starts (a sign layer and/or a max-pool after it). */
interface Site {
  readonly conv: Conv2DLayer;
  readonly block: ConvBlock | null;
}

function sites(layers: readonly SplineLayer[], out: Site[] = []): Site[] {
  layers.forEach((l, i) => {
    if (l.kind === "residual") l.paths.forEach((p) => sites(p, out));
    if (l.kind !== "conv2d") return;
    // the longest block starting at this conv, as the transposed pass finds it
    const block = [i + 2, i + 1]
      .filter((end) => end < layers.length)
      .map((end) => convBlock(layers, end))
      .find((b) => b?.at === i) ?? null;
    out.push({ conv: l, block });
  });
  return out;
}

/**
 * Times, on this device and for this network, each conv's algorithms — forward (product,
 * Winograd F(2) or F(4) for stride-1 3×3 convs) and transposed (those, window tiles before a
 * max-pool, or the layers after the conv in passes of their own) — one conv at a time, in
 * the whole pass the engine runs, and keeps the fastest as the conv's plan
 * ({@linkcode ConvPlan}) for every later WebGPU call on this network (until the device is
 * replaced). Like cuDNN's benchmark mode: the algorithms agree to float32 rounding, but not
 * bit for bit (Winograd F(4) has about three times a product's rounding error), so a tuned
 * engine's last bits depend on the device. A conv with one algorithm is not timed.
 *
 * @param net The network.
 * @param options Examples per timed pass, passes per timing.
 * @returns What was timed and chosen, conv by conv.
 *
 * @example A conv → ReLU → dense network
 * ```ts
 * import { SplineNetwork } from "../../network/spline_network.ts";
 * import { tuneWebGpu } from "./tune.ts";
 * import { webgpuContext } from "./device.ts";
 * import { ok } from "node:assert/strict";
 * const net = new SplineNetwork([6, 6, 4], [
 *   { kind: "conv2d", name: "conv", inputShape: [6, 6, 4], outputShape: [4, 4, 4],
 *     kernel: Float64Array.from({ length: 144 }, (_, i) => Math.sin(i)), bias: null,
 *     kernelSize: [3, 3], strides: [1, 1], padding: [0, 0, 0, 0] },
 *   { kind: "relu", name: "relu", inputShape: [4, 4, 4], outputShape: [4, 4, 4] },
 *   { kind: "flatten", name: "flat", inputShape: [4, 4, 4], outputShape: [64] },
 *   { kind: "dense", name: "out", inputShape: [64], outputShape: [2], units: 2,
 *     kernel: Float64Array.from({ length: 128 }, (_, i) => Math.cos(i)), bias: null },
 * ]);
 * if (await webgpuContext() !== null) {
 *   for (const t of await tuneWebGpu(net)) {
 *     console.log(t.layer, t.direction, t.chosen, t.ms); // e.g. conv forward winograd4 {…}
 *     ok(t.ms[t.chosen] === Math.min(...Object.values(t.ms)));
 *   }
 * }
 * ```
 */
export async function tuneWebGpu(
  net: SplineNetwork,
  options: TuneOptions = {},
): Promise<ConvTiming[]> {
  const keys = { examples: true, reps: true } as const satisfies Record<keyof TuneOptions, true>;
  checkOptionKeys(options, keys, "Cannot tune the WebGPU engine");
  const ctx = await webgpuContext();
  if (ctx === null) throw new Error("Cannot tune the WebGPU engine: no WebGPU adapter");
  const reps = options.reps ?? 3;
  const examples = options.examples ?? (ctx.isFallback ? 4 : chunkSize(ctx, net, 1));
  if (!Number.isInteger(examples) || examples < 1 || !Number.isInteger(reps) || reps < 1) {
    throw new RangeError(
      `Cannot tune the WebGPU engine: examples (${examples}) and reps (${reps}) must be positive integers`,
    );
  }
  const C = net.outputSize, D = net.inputSize;
  const count = Math.max(1, Math.min(Math.floor(examples / C), chunkSize(ctx, net, C)));
  const m = Math.min(examples, chunkSize(ctx, net, 1));
  return await checked(ctx, "Cannot tune the WebGPU engine", async () => {
    const x = Float32Array.from({ length: m * D }, (_, i) => Math.sin(i * 12.9898) * 0.5 + 0.5);
    const xb = storageBuffer(ctx, x, "tuning input");
    const base = new Recorder(ctx, "tuning codes");
    const { codes } = recordCodesAndOffsets(base, net, xb, count);
    base.submit();
    const latency = await emptyWait(ctx);
    const time = async (record: (rec: Recorder) => void) => {
      let best = Infinity;
      for (let round = 0; round < 3; round++) { // the first compiles and is not counted
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) {
          const rec = new Recorder(ctx, "tuning");
          record(rec);
          rec.submit();
          rec.release();
        }
        await ctx.device.queue.onSubmittedWorkDone();
        const ms = Math.max(0, performance.now() - t0 - latency) / reps;
        if (round > 0) best = Math.min(best, ms);
      }
      return best;
    };
    const timings: ConvTiming[] = [];
    try {
      const all = sites(foldedLayers(net));
      for (const direction of ["forward", "transpose"] as const) {
        for (const site of all) {
          const candidates = algorithms(site, direction);
          if (candidates.length < 2) continue;
          const ms: Partial<Record<ConvAlgorithm, number>> = {};
          for (const a of candidates) {
            setConvPlan(ctx, site.conv, { ...convPlan(ctx, site.conv), [direction]: a });
            ms[a] = await time((rec) =>
              direction === "forward"
                ? recordInnerProducts(rec, net, xb, m)
                : recordTemplates(rec, net, codes, { first: 0, count })
            );
          }
          const chosen = candidates.reduce((b, a) => ms[a]! < ms[b]! ? a : b);
          setConvPlan(ctx, site.conv, { ...convPlan(ctx, site.conv), [direction]: chosen });
          timings.push({ layer: site.conv.name, direction, ms, chosen });
        }
      }
    } finally {
      base.release();
      xb.destroy();
    }
    return timings;
  });
}

/** The algorithms that apply to a conv in one direction. */
function algorithms(site: Site, direction: "forward" | "transpose"): ConvAlgorithm[] {
  const { conv } = site;
  // (never F(6), whose rounding error is 3–4× F(4)'s: a plan may still ask for "winograd6")
  const winograd: ConvAlgorithm[] = winogradApplies(conv) ? ["winograd4", "winograd2"] : [];
  if (direction === "forward") return ["product", ...winograd];
  const { block } = site;
  const tiles: ConvAlgorithm[] = block?.pool && conv.strides[0] === 1 && conv.strides[1] === 1
    ? ["window-tiles"]
    : [];
  const taps: ConvAlgorithm[] = convTapsApply(conv) ? ["taps"] : [];
  return [
    ...tiles,
    ...winograd,
    ...taps,
    "product",
    ...(block !== null ? ["layers" as const] : []),
  ];
}

/** The wait for an empty submit (Deno's ≈ 11 ms whatever the work), median of three. */
async function emptyWait(ctx: WebGpuContext): Promise<number> {
  const waits: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    ctx.device.queue.submit([ctx.device.createCommandEncoder().finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
    waits.push(performance.now() - t0);
  }
  return waits.sort((a, b) => a - b)[1];
}
