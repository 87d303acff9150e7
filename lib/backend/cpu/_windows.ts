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

/**
 * The input spatial position `iy·W + ix` of window slot `slot` (row-major, `ky·pw + kx`)
 * of output position `o` (`oy·OW + ox`) of a pool layer.
 *
 * @param layer The pool's geometry.
 * @param o Output spatial position.
 * @param slot Window slot.
 * @returns Input spatial position.
 */
export function slotPosition(
  layer: {
    inputShape: Shape;
    outputShape: Shape;
    poolSize: readonly [number, number];
    strides: readonly [number, number];
    padding: Padding2D;
  },
  o: number,
  slot: number,
): number {
  const W = layer.inputShape[1], OW = layer.outputShape[1], PW = layer.poolSize[1];
  const iy = Math.floor(o / OW) * layer.strides[0] + Math.floor(slot / PW) - layer.padding[0];
  const ix = (o % OW) * layer.strides[1] + (slot % PW) - layer.padding[2];
  return iy * W + ix;
}
