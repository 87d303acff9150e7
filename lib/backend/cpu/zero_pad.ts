/**
 * CPU kernels (float64) for spatial zero padding.
 *
 * @module
 */
import type { ZeroPad2DLayer } from "../../network/spline_network.ts";

function copy(
  layer: ZeroPad2DLayer,
  src: Float64Array,
  n: number,
  transpose: boolean,
): Float64Array {
  const [H, W, C] = layer.inputShape;
  const [OH, OW] = layer.outputShape;
  const [T, , L] = layer.padding;
  const dst = new Float64Array(n * (transpose ? H * W : OH * OW) * C);
  for (let e = 0; e < n; e++) {
    for (let y = 0; y < H; y++) {
      const small = ((e * H + y) * W) * C;
      const big = ((e * OH + y + T) * OW + L) * C;
      if (transpose) dst.set(src.subarray(big, big + W * C), small);
      else dst.set(src.subarray(small, small + W * C), big);
    }
  }
  return dst;
}

/**
 * Pads `n` examples with zeros.
 *
 * @param layer The layer.
 * @param x Input `[n, H, W, C]`.
 * @param n Number of examples.
 * @returns Output `[n, H+T+B, W+L+R, C]`.
 */
export function zeroPadApply(layer: ZeroPad2DLayer, x: Float64Array, n: number): Float64Array {
  return copy(layer, x, n, false);
}

/**
 * The transpose: crops `m` gradient rows.
 *
 * @param layer The layer.
 * @param g Gradient rows `[m, OH, OW, C]`.
 * @param m Number of rows.
 * @returns `[m, H, W, C]`.
 */
export function zeroPadTranspose(layer: ZeroPad2DLayer, g: Float64Array, m: number): Float64Array {
  return copy(layer, g, m, true);
}
