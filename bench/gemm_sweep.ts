/**
 * Tile shapes of the matrix-product kernel, swept on the products of one chunk of a network's
 * pass as the engine records them (largeCNN's templates by default: the one issue-4 goal left).
 *
 * The pass is recorded and run once as the library does (codes and offsets of a chunk, then one
 * slice's templates — or `--pass=inner`, the ⟨A_c, x⟩ pass), capturing each product it records:
 * its spec, rows and buffers. Every distinct product that a GPU tiles (a GPU's schedule, on any
 * adapter) is then timed in each tile shape of a grid — outputs per thread along rows and
 * columns (`rm × rn`), threads along rows, staged depth, strided / blocked / strided quads, each
 * with or without register prefetch — each shape alternately with the engine's own tile in the
 * same submit (timestamps around each dispatch where the device offers them, the median of
 * `--reps` pairs; else, or with `--wall`, each by the wall clock of submits of 10 dispatches,
 * alternately), so that clock drift cancels in the ratio. Each shape's output (its first and last 2 MiB, overwritten with NaNs before) must match
 * the engine's tile's within 1e-5 of the largest value (both float32; the engine's tile is
 * checked against float64 brute force in tests/backend/webgpu/gemm_test.ts), or the shape is
 * reported as wrong and never best.
 *
 * Products are swept from the one taking the most time in the pass on, within `--budget=S`
 * seconds (default 200). The last lines give, per product, the best shape and the pass's time in
 * products at the engine's tiles and at the best ones. Shapes that a device cannot run (over its
 * workgroup memory, a failed compile) are skipped with their error.
 *
 * With `--out=FILE`, each product's best shape (where it beat the engine's tile by more than 2%)
 * is written to FILE as JSON, by the shader key the product has at the engine's tile: what
 * `setGemmTiles` takes (lib/backend/webgpu/gemm_tiles.ts) and `bench/webgpu_bench.ts
 * --tiles=FILE` times end to end.
 *
 * `deno run -A bench/gemm_sweep.ts [--net=largeCNN|smallCNN] [--pass=templates|inner]
 * [--reps=N] [--budget=S] [--quick] [--out=FILE] [--wall] [--winograd=2|4|6]` on a GPU (the
 * lent machine: `SWEEP_ARGS` of `bench/gpu_run.sh`; `--winograd`: the pass with that Winograd
 * tile, `webgpuHooks.winograd`); `--tiny` (smallCNN, 2 images, 3 shapes a product) checks
 * the bench itself on a software adapter, whose timings say nothing about a GPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { webgpuContext, webgpuHooks } from "../lib/backend/webgpu/device.ts";
import {
  type GemmSchedule,
  gemmShader,
  type GemmTileShape,
} from "../lib/backend/webgpu/kernels/gemm.ts";
import { writeFileAtomic } from "../lib/util/atomic_write.ts";
import {
  type CapturedProduct,
  gemmTileGrid,
  outputEnds,
  outputsDiffer,
  ProductCapture,
  type TileCandidate,
  timeTilePair,
} from "../lib/backend/webgpu/tune_tiles.ts";
import {
  chunkSize,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "../lib/backend/webgpu/passes.ts";

function argValue(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Whether to time by the wall clock even where the device offers timestamps (`--wall`). */
const WALL = Deno.args.includes("--wall");

/** {@linkcode timeTilePair}, by the wall clock with `--wall`. */
const timePair = (...args: Parameters<typeof timeTilePair>) =>
  timeTilePair(args[0], args[1], args[2], args[3], args[4], WALL);

async function main(): Promise<void> {
  const tiny = Deno.args.includes("--tiny");
  const quick = Deno.args.includes("--quick");
  const arch = tiny ? "smallCNN" : argValue("net") ?? "largeCNN";
  const what = argValue("pass") ?? "templates";
  const reps = Number(argValue("reps") ?? (tiny ? 2 : 5));
  const budget = Number(argValue("budget") ?? 200) * 1000;
  if (!Number.isInteger(reps) || reps < 1 || !(budget >= 0)) {
    throw new RangeError(
      `--reps=${argValue("reps")} --budget=${argValue("budget")}: expected a whole number of ` +
        "repetitions ≥ 1 and a budget of seconds ≥ 0",
    );
  }
  const winograd = argValue("winograd");
  if (winograd !== undefined) {
    if (!["2", "4", "6"].includes(winograd)) {
      throw new RangeError(`--winograd=${winograd}: expected 2, 4 or 6`);
    }
    webgpuHooks.winograd = Number(winograd) as 2 | 4 | 6;
  }
  if (!["smallCNN", "largeCNN"].includes(arch) || !["templates", "inner"].includes(what)) {
    throw new RangeError(
      `--net=${arch} --pass=${what}: expected smallCNN|largeCNN, templates|inner`,
    );
  }
  await tf.setBackend("cpu");
  const ctx = await webgpuContext();
  if (ctx === null) {
    console.log("no WebGPU adapter: nothing to sweep");
    return;
  }
  const maxBytes = ctx.device.limits.maxComputeWorkgroupStorageSize;
  console.log(
    `adapter: ${ctx.adapterName}${
      ctx.isFallback ? " (software fallback: timings say nothing of a GPU)" : ""
    }; ` +
      `${maxBytes} bytes of workgroup memory; timing by ${
        ctx.device.features.has("timestamp-query") && !WALL ? "timestamps" : "the wall clock"
      }`,
  );
  const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
  const net = fromLayersModel(model);
  const D = net.inputSize, C = net.outputSize;
  const m = tiny ? 2 : what === "templates" ? chunkSize(ctx, net, C) : chunkSize(ctx, net, 1);
  const x = Float32Array.from({ length: m * D }, (_, i) => Math.sin(i * 12.9898));
  const rec = new ProductCapture(ctx, "gemm sweep");
  try {
    const xb = rec.upload(x, "input");
    if (what === "templates") {
      const { codes } = recordCodesAndOffsets(rec, net, xb, m);
      recordTemplates(rec, net, codes, { first: 0, count: m });
    } else recordInnerProducts(rec, net, xb, m);
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
    console.log(
      `${arch} ${what} pass of ${m} images: ${rec.products.size} distinct tiled products`,
    );

    // the engine's tiles first: each product's time, and the order of the sweep
    const engine = (p: CapturedProduct): TileCandidate => ({
      name: "engine's tile",
      schedule: p.schedule,
    });
    const flops = (p: CapturedProduct) =>
      2 * (p.spec.batches ?? 1) * p.rows * p.spec.mPerRow * p.spec.n * p.spec.k;
    const outBytes = (p: CapturedProduct) =>
      4 * (p.spec.batches ?? 1) * p.rows * p.spec.mPerRow * p.spec.n;
    const base = new Map<CapturedProduct, number>();
    for (const p of rec.products.values()) {
      const y = ctx.device.createBuffer({ size: outBytes(p), usage: 0x80 | 0x04 | 0x08 });
      base.set(p, (await timePair(ctx, p, [engine(p), engine(p)], [y, y], reps))[0]);
      y.destroy();
    }
    const order = [...rec.products].sort(([, a], [, b]) =>
      b.count * base.get(b)! - a.count * base.get(a)!
    );
    const t0 = performance.now();
    const results = new Map<CapturedProduct, { c: TileCandidate; ratio: number; ms: number }[]>();
    const wants = new Map<CapturedProduct, Float32Array[]>();
    let wrong = 0;
    /** Times `grid` on `p` (each shape beside the engine's tile), until the budget is spent. */
    const sweep = async (key: string, p: CapturedProduct, grid: readonly TileCandidate[]) => {
      const size = outBytes(p);
      const ya = ctx.device.createBuffer({ size, usage: 0x80 | 0x04 | 0x08 });
      const yb = ctx.device.createBuffer({ size, usage: 0x80 | 0x04 | 0x08 });
      const done = results.get(p) ?? [];
      results.set(p, done);
      console.log(
        `\n${key}, run ${p.count}× in the pass: engine's tile ${base.get(p)!.toFixed(3)} ms (${
          (flops(p) / base.get(p)! / 1e9).toFixed(1)
        } TFLOP/s); ${grid.length} shapes`,
      );
      try {
        for (const c of grid) {
          if (performance.now() - t0 > budget) {
            console.log(`  budget spent: ${grid.length - grid.indexOf(c)} shapes not timed`);
            return false;
          }
          const nan = new Float32Array(Math.min(2 << 20, Math.floor(size / 8) * 4) / 4).fill(NaN);
          ctx.device.queue.writeBuffer(yb, 0, nan);
          ctx.device.queue.writeBuffer(yb, size - nan.byteLength, nan);
          ctx.device.pushErrorScope("validation");
          ctx.device.pushErrorScope("internal");
          let times: [number, number];
          try {
            times = await timePair(ctx, p, [engine(p), c], [ya, yb], reps);
          } catch (e) {
            await ctx.device.popErrorScope();
            await ctx.device.popErrorScope();
            console.log(`  ${c.name}: failed (${(e as Error).message.split("\n")[0]})`);
            continue;
          }
          const errors = [await ctx.device.popErrorScope(), await ctx.device.popErrorScope()];
          const error = errors.find((e) => e !== null);
          if (error) {
            console.log(`  ${c.name}: not run (${error.message.split("\n")[0]})`);
            continue;
          }
          if (!wants.has(p)) wants.set(p, await outputEnds(ctx, ya, size, 2 << 20));
          const want = wants.get(p)!, got = await outputEnds(ctx, yb, size, 2 << 20);
          const diff = outputsDiffer(want, got);
          if (!(diff <= 1e-5)) {
            wrong++;
            console.log(`  ${c.name}: WRONG, ${diff.toExponential(2)} of the largest value off`);
            continue;
          }
          done.push({ c, ratio: times[0] / times[1], ms: times[1] });
          console.log(
            `  ${(times[0] / times[1]).toFixed(2)}× the engine's tile: ${c.name} (${
              times[1].toFixed(3)
            } ms, ${(flops(p) / times[1] / 1e9).toFixed(1)} TFLOP/s)`,
          );
        }
        return true;
      } finally {
        ya.destroy();
        yb.destroy();
      }
    };
    // first the quick grid on every product, the one taking the most time first; then, unless
    // --quick, the rest of the full grid in the same order, as far as the budget allows
    const grids = order.map(([, p]) => {
      const full = gemmTileGrid(p.spec.n, quick || tiny, maxBytes).slice(0, tiny ? 3 : undefined);
      const first = tiny ? full : gemmTileGrid(p.spec.n, true, maxBytes);
      const names = new Set(first.map((c) => c.name));
      return [first, full.filter((c) => !names.has(c.name))];
    });
    phases: for (const phase of [0, 1]) {
      for (let i = 0; i < order.length; i++) {
        const [key, p] = order[i];
        if (grids[i][phase].length === 0) continue;
        if (!(await sweep(key, p, grids[i][phase]))) break phases;
      }
    }
    const best = new Map<
      CapturedProduct,
      { name: string; ratio: number; shape?: GemmTileShape; schedule: GemmSchedule }
    >();
    for (const [p, rs] of results) {
      const top = rs.sort((a, b) => b.ratio - a.ratio)[0];
      if (top !== undefined) {
        best.set(p, {
          name: top.c.name,
          ratio: top.ratio,
          shape: top.c.shape,
          schedule: top.c.schedule,
        });
      }
    }
    // the pass's products at the engine's tiles and at the best shapes found
    let before = 0, after = 0;
    console.log("\nbest shape a product (JSON: schedule and shape for gemmShader):");
    for (const [key, p] of order) {
      const ms = p.count * base.get(p)!, b = best.get(p);
      before += ms;
      after += b === undefined || b.ratio < 1 ? ms : ms / b.ratio;
      if (b !== undefined) {
        console.log(
          `  ${key}, run ${p.count}×: ${b.ratio.toFixed(2)}× by ${b.name} ${
            JSON.stringify({ schedule: b.schedule, shape: { ...b.shape, maxBytes: undefined } })
          }`,
        );
      }
    }
    console.log(
      `${arch} ${what}: tiled products ${before.toFixed(2)} ms at the engine's tiles, ${
        after.toFixed(2)
      } ms at the best shapes (${(before / after).toFixed(2)}×)${
        wrong > 0 ? `; ${wrong} WRONG` : ""
      }`,
    );
    const out = argValue("out");
    if (out !== undefined) {
      // each shader key's tile: that of its product taking the most time, where it beat the
      // engine's by more than 2%
      const tiles: Record<
        string,
        { schedule: GemmSchedule; shape?: GemmTileShape; ratio: number }
      > = {};
      for (const [, p] of order) {
        const key = gemmShader(p.spec, p.schedule).key, b = best.get(p);
        if (key in tiles || b === undefined || b.ratio <= 1.02) continue;
        tiles[key] = { schedule: b.schedule, shape: b.shape, ratio: b.ratio };
      }
      await writeFileAtomic(out, JSON.stringify(tiles, null, 1) + "\n");
      console.log(`${Object.keys(tiles).length} products' tiles written to ${out}`);
    }
    if (wrong > 0) Deno.exitCode = 1;
  } finally {
    rec.release();
    model.dispose();
  }
}

await main();
