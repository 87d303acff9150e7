/**
 * CPU kernels (float64) for the dense layer on the last axis.
 *
 * @module
 */
import type { DenseLayer } from "../../network/spline_network.ts";
import { shapeSize } from "../../network/spline_network.ts";

/**
 * `y = x·W (+ b)` for `n` examples.
 *
 * @param layer The dense layer.
 * @param x Input `[n, ...inputShape]`.
 * @param n Number of examples.
 * @param bias Whether to add the bias.
 * @returns Output `[n, ...outputShape]`.
 */
export function denseApply(
  layer: DenseLayer,
  x: Float64Array,
  n: number,
  bias: boolean,
): Float64Array {
  const units = layer.units;
  const inner = layer.inputShape[layer.inputShape.length - 1];
  const rows = n * (shapeSize(layer.inputShape) / inner);
  const k = layer.kernel, b = bias ? layer.bias : null;
  const y = new Float64Array(rows * units);
  for (let r = 0; r < rows; r++) {
    const yo = r * units, xo = r * inner;
    if (b) { for (let o = 0; o < units; o++) y[yo + o] = b[o]; }
    for (let i = 0; i < inner; i++) {
      const v = x[xo + i];
      if (v === 0) continue;
      const ko = i * units;
      for (let o = 0; o < units; o++) y[yo + o] += v * k[ko + o];
    }
  }
  return y;
}

/**
 * The transpose of the dense map: `g·Wᵀ` for `m` rows of output gradients.
 *
 * @param layer The dense layer.
 * @param g Gradient rows `[m, ...outputShape]`.
 * @param m Number of rows.
 * @returns `[m, ...inputShape]`.
 */
export function denseTranspose(layer: DenseLayer, g: Float64Array, m: number): Float64Array {
  const units = layer.units;
  const inner = layer.inputShape[layer.inputShape.length - 1];
  const rows = m * (shapeSize(layer.inputShape) / inner);
  const k = layer.kernel;
  const out = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++) {
    const go = r * units, oo = r * inner;
    for (let i = 0; i < inner; i++) {
      const ko = i * units;
      let s = 0;
      for (let o = 0; o < units; o++) s += g[go + o] * k[ko + o];
      out[oo + i] = s;
    }
  }
  return out;
}
