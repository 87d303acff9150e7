/**
 * CPU kernels (float64) for the per-channel affine map (folded batch-norm).
 *
 * @module
 */
import type { ChannelAffineLayer } from "../../network/spline_network.ts";

/**
 * `y = x·scale (+ shift)` on the last axis.
 *
 * @param layer The layer.
 * @param x Input values (any number of examples).
 * @param bias Whether to add the shift.
 * @returns Output of the same size.
 */
export function channelAffineApply(
  layer: ChannelAffineLayer,
  x: Float64Array,
  bias: boolean,
): Float64Array {
  const c = layer.scale.length, s = layer.scale, t = layer.shift;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) y[i + j] = x[i + j] * s[j] + (bias ? t[j] : 0);
  }
  return y;
}

/**
 * The transpose: `g·scale` on the last axis.
 *
 * @param layer The layer.
 * @param g Gradient rows.
 * @returns Gradient with respect to the input.
 */
export function channelAffineTranspose(layer: ChannelAffineLayer, g: Float64Array): Float64Array {
  return channelAffineApply(layer, g, false);
}
