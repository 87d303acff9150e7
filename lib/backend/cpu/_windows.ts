/**
 * Pooling windows, precomputed: for each output position, the valid input
 * positions and their row-major index in the window.
 *
 * @module
 */
import type { Padding2D, Shape } from "../../network/spline_network.ts";

/** Windows of a 2D pool: entries of output `o` are `start[o]..start[o+1]`. */
export interface Windows {
  /** Offsets into `pos`/`slot`, length `OH·OW + 1`. */
  readonly start: Int32Array;
  /** Input spatial position `iy·W + ix` of each entry. */
  readonly pos: Int32Array;
  /** Index of each entry in row-major window order, `ky·pw + kx`. */
  readonly slot: Int32Array;
}

const cache = new WeakMap<object, Windows>();

/**
 * Windows of a pool layer (cached per layer object).
 *
 * @param layer A pool layer's geometry.
 * @returns The windows.
 */
export function poolWindows(layer: {
  inputShape: Shape;
  outputShape: Shape;
  poolSize: readonly [number, number];
  strides: readonly [number, number];
  padding: Padding2D;
}): Windows {
  const hit = cache.get(layer);
  if (hit) return hit;
  const [H, W] = layer.inputShape, [OH, OW] = layer.outputShape;
  const [PH, PW] = layer.poolSize, [SH, SW] = layer.strides;
  const PT = layer.padding[0], PL = layer.padding[2];
  const start = new Int32Array(OH * OW + 1);
  const pos: number[] = [], slot: number[] = [];
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      for (let ky = 0; ky < PH; ky++) {
        const iy = oy * SH + ky - PT;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < PW; kx++) {
          const ix = ox * SW + kx - PL;
          if (ix < 0 || ix >= W) continue;
          pos.push(iy * W + ix);
          slot.push(ky * PW + kx);
        }
      }
      start[oy * OW + ox + 1] = pos.length;
    }
  }
  const w = { start, pos: Int32Array.from(pos), slot: Int32Array.from(slot) };
  cache.set(layer, w);
  return w;
}
