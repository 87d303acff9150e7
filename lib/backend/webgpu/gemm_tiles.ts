/**
 * Tiles of particular matrix products on one device: for a product, by the shader key it has
 * at its default schedule (`gemmShader(spec, schedule).key`: the gather, the shapes, the
 * schedule), the tiled schedule and tile shape to run it in instead — what
 * `bench/gemm_sweep.ts --out=FILE` measures best on a GPU, product by product. A device starts
 * from the tiles measured on its adapter ({@linkcode MEASURED_TILES}, by adapter name: the
 * H100's so far); {@linkcode setGemmTiles} replaces them. Products without a tile follow the
 * engine's rules (`gemmScheduleFor`, `gemmTile`). Results differ from the rules' by float32 rounding
 * only (another order of the same sums).
 *
 * @module
 */
import type { WebGpuContext } from "./device.ts";
import type { GemmSchedule, GemmTileShape } from "./kernels/gemm.ts";

/** A product's tile: a tiled schedule and the shape choices overriding the derived ones. */
export interface GemmTileChoice {
  /** A tiled schedule (not `"direct"` or `"reduce"`). */
  readonly schedule: GemmSchedule;
  /** Choices overriding the tile's derived shape. */
  readonly shape?: GemmTileShape;
  /** The speed-up over the rules' tile that a sweep measured (informational). */
  readonly ratio?: number;
}

/**
 * Tiles measured best on particular GPUs, by adapter name (`WebGpuContext.adapterName`), then by
 * product shader key: `bench/gemm_sweep.ts --out=FILE` on that GPU, with the end-to-end gain
 * checked by `bench/webgpu_bench.ts --tiles=FILE` (variant `swept`) before an entry is added.
 */
export const MEASURED_TILES: Readonly<Record<string, Readonly<Record<string, GemmTileChoice>>>> = {
  // largeCNN's templates 1.060× and its ⟨A_c, x⟩ 1.055× faster end to end than the rules'
  // tiles (bench/RESULTS.md, twentieth session; the shapes won in the eighteenth session's
  // profile: bench/gpu_logs/h100_next_tiles.json)
  "NVIDIA H100 80GB HBM3": {
    "gemm-8qpv4/winograd4/36×64x96x96": {
      schedule: "8qp",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/winograd4/36×81x96x96": {
      schedule: "8qp",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/winograd4/36×25x96x192": {
      schedule: "8qp",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/conv2d/18,18,192/16,16,192/3,3/1,1/0,0,0,0/256x192x1728/bias": {
      schedule: "8qp",
      shape: { rm: 8, rn: 4, thm: 8, tk: 16, maxBytes: 49152 },
    },
    // F(6)'s products (`webgpuHooks.winograd = 6`, or a plan's "winograd6"; not the default):
    // 1.04–1.23× each in the sweep (bench/gpu_logs/h100_2026-11-27_run4_f6_tiles.json); F(6)
    // with that file's tiles ran largeCNN's templates and ⟨A_c, x⟩ 1.05× faster than without
    "gemm-8qpv4/winograd6/64×36x96x96": {
      schedule: "8q",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/winograd6/64×9x96x192": {
      schedule: "8q",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/winograd6/64×4x192x192": {
      schedule: "8q",
      shape: { rm: 8, rn: 4, thm: 16, tk: 16, maxBytes: 49152 },
    },
    "gemm-8qpv4/winograd6/64×9x192x192": {
      schedule: "8q",
      shape: { rm: 8, rn: 4, thm: 8, tk: 16, maxBytes: 49152 },
    },
  },
};

const TILED: readonly GemmSchedule[] = [4, 8, "4b", "8b", "4q", "8q"].flatMap((
  s,
) => [s, `${s}p`]) as GemmSchedule[];
const SHAPE_KEYS = ["rm", "rn", "thm", "tk", "tn", "maxBytes"] as const;

const byDevice = new WeakMap<GPUDevice, ReadonlyMap<string, GemmTileChoice>>();

/**
 * The tiles of a context's device: those set by {@linkcode setGemmTiles}, else those measured on
 * its adapter (but for any that may stage more workgroup memory than the device has).
 *
 * @param ctx The context.
 * @returns The tiles by product shader key.
 */
export function gemmTilesOf(ctx: WebGpuContext): ReadonlyMap<string, GemmTileChoice> {
  let tiles = byDevice.get(ctx.device);
  if (tiles === undefined) {
    const most = ctx.device.limits.maxComputeWorkgroupStorageSize;
    tiles = new Map(
      Object.entries(MEASURED_TILES[ctx.adapterName] ?? {}).filter(([, c]) =>
        (c.shape?.maxBytes ?? 16384) <= most
      ),
    );
    byDevice.set(ctx.device, tiles);
  }
  return tiles;
}

function checkChoice(key: string, choice: GemmTileChoice): GemmTileChoice {
  const what = `Cannot set the tile of product '${key}'`;
  if (typeof choice !== "object" || choice === null) {
    throw new TypeError(`${what}: ${choice} is not an object { schedule, shape? }`);
  }
  for (const k of Object.keys(choice)) {
    if (k !== "schedule" && k !== "shape" && k !== "ratio") {
      throw new RangeError(`${what}: unknown key '${k}', expected schedule, shape or ratio`);
    }
  }
  if (!TILED.includes(choice.schedule)) {
    throw new RangeError(
      `${what}: schedule ${JSON.stringify(choice.schedule)}, expected a tiled one (${
        TILED.join(", ")
      })`,
    );
  }
  for (const [k, v] of Object.entries(choice.shape ?? {})) {
    if (!(SHAPE_KEYS as readonly string[]).includes(k)) {
      throw new RangeError(`${what}: unknown shape key '${k}', expected ${SHAPE_KEYS.join(", ")}`);
    }
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new RangeError(`${what}: shape ${k} = ${v}, expected a positive integer`);
    }
  }
  return { schedule: choice.schedule, shape: choice.shape };
}

/**
 * Sets the tiles of the context's device (replacing all earlier ones), or with `null` goes back
 * to those measured on its adapter. Takes what `bench/gemm_sweep.ts --out=FILE` writes.
 *
 * @param ctx The context.
 * @param tiles Tiles by product shader key, or null.
 * @throws {RangeError} For a schedule that is not tiled, an unknown key, or a shape value that
 *   is not a positive integer (a shape that cannot tile its product is refused when the product
 *   is recorded).
 */
export function setGemmTiles(
  ctx: WebGpuContext,
  tiles: Readonly<Record<string, GemmTileChoice>> | null,
): void {
  if (tiles === null) {
    byDevice.delete(ctx.device);
    return;
  }
  const checked = Object.entries(tiles).map(([k, c]) => [k, checkChoice(k, c)] as const);
  byDevice.set(ctx.device, new Map(checked));
}
