/**
 * CPU kernels (float64) for average pooling (padded positions excluded from the mean)
 * and global average pooling.
 *
 * @module
 */
import type { AvgPool2DLayer, GlobalAvgPoolLayer } from "../../network/spline_network.ts";
import { poolWindows } from "./_windows.ts";

/**
 * Average pooling of `n` examples.
 *
 * @param layer The layer.
 * @param x Input `[n, H, W, C]`.
 * @param n Number of examples.
 * @returns Output `[n, OH, OW, C]`.
 */
export function avgPoolApply(layer: AvgPool2DLayer, x: Float64Array, n: number): Float64Array {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  const { start, pos } = poolWindows(layer);
  const y = new Float64Array(n * OH * OW * C);
  for (let e = 0; e < n; e++) {
    for (let o = 0; o < OH * OW; o++) {
      const yo = (e * OH * OW + o) * C, cnt = start[o + 1] - start[o];
      for (let j = start[o]; j < start[o + 1]; j++) {
        const xo = (e * H * W + pos[j]) * C;
        for (let c = 0; c < C; c++) y[yo + c] += x[xo + c];
      }
      for (let c = 0; c < C; c++) y[yo + c] /= cnt;
    }
  }
  return y;
}

/**
 * The transpose of average pooling for `m` gradient rows.
 *
 * @param layer The layer.
 * @param g Gradient rows `[m, OH, OW, C]`.
 * @param m Number of rows.
 * @returns `[m, H, W, C]`.
 */
export function avgPoolTranspose(layer: AvgPool2DLayer, g: Float64Array, m: number): Float64Array {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  const { start, pos } = poolWindows(layer);
  const out = new Float64Array(m * H * W * C);
  for (let e = 0; e < m; e++) {
    for (let o = 0; o < OH * OW; o++) {
      const go = (e * OH * OW + o) * C, inv = 1 / (start[o + 1] - start[o]);
      for (let j = start[o]; j < start[o + 1]; j++) {
        const oo = (e * H * W + pos[j]) * C;
        for (let c = 0; c < C; c++) out[oo + c] += g[go + c] * inv;
      }
    }
  }
  return out;
}

/**
 * Global average pooling of `n` examples: `[n, H, W, C] → [n, C]`.
 *
 * @param layer The layer.
 * @param x Input.
 * @param n Number of examples.
 * @returns Output `[n, C]`.
 */
export function globalAvgPoolApply(
  layer: GlobalAvgPoolLayer,
  x: Float64Array,
  n: number,
): Float64Array {
  const [H, W, C] = layer.inputShape, P = H * W;
  const y = new Float64Array(n * C);
  for (let e = 0; e < n; e++) {
    for (let p = 0; p < P; p++) {
      const xo = (e * P + p) * C;
      for (let c = 0; c < C; c++) y[e * C + c] += x[xo + c];
    }
    for (let c = 0; c < C; c++) y[e * C + c] /= P;
  }
  return y;
}

/**
 * The transpose of global average pooling for `m` gradient rows.
 *
 * @param layer The layer.
 * @param g Gradient rows `[m, C]`.
 * @param m Number of rows.
 * @returns `[m, H, W, C]`.
 */
export function globalAvgPoolTranspose(
  layer: GlobalAvgPoolLayer,
  g: Float64Array,
  m: number,
): Float64Array {
  const [H, W, C] = layer.inputShape, P = H * W;
  const out = new Float64Array(m * P * C);
  for (let e = 0; e < m; e++) {
    for (let p = 0; p < P; p++) {
      const oo = (e * P + p) * C;
      for (let c = 0; c < C; c++) out[oo + c] = g[e * C + c] / P;
    }
  }
  return out;
}
