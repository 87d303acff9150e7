/**
 * CPU kernels (float64) for max pooling with recorded argmax codes.
 *
 * @module
 */
import type { MaxPool2DLayer } from "../../network/spline_network.ts";
import { poolWindows, slotPosition } from "./_windows.ts";

/**
 * Max pooling of `n` examples, recording each output's argmax as its index in
 * row-major window order (ties pick the first; padded positions never win).
 *
 * @param layer The layer.
 * @param x Input `[n, H, W, C]`.
 * @param n Number of examples.
 * @returns Outputs `[n, OH, OW, C]` and codes of the same size.
 */
export function maxPoolForward(
  layer: MaxPool2DLayer,
  x: Float64Array,
  n: number,
): { y: Float64Array; code: Uint16Array } {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  const { start, pos, slot } = poolWindows(layer);
  const y = new Float64Array(n * OH * OW * C), code = new Uint16Array(y.length);
  for (let e = 0; e < n; e++) {
    for (let o = 0; o < OH * OW; o++) {
      const yo = (e * OH * OW + o) * C;
      for (let c = 0; c < C; c++) {
        let best = -Infinity, at = 0;
        for (let j = start[o]; j < start[o + 1]; j++) {
          const v = x[(e * H * W + pos[j]) * C + c];
          if (v > best) {
            best = v;
            at = slot[j];
          }
        }
        y[yo + c] = best;
        code[yo + c] = at;
      }
    }
  }
  return { y, code };
}

/**
 * The selection A_ρ[x] of eq. (7) from recorded codes, or its transpose: row `r` uses
 * the codes of example `floor(r / rowsPerCode)`.
 *
 * @param layer The layer.
 * @param v Rows `[rows, H, W, C]` (forward) or `[rows, OH, OW, C]` (transpose).
 * @param code Codes `[n, OH, OW, C]`.
 * @param options `rowsPerCode`, and `transpose` to scatter gradients back.
 * @returns Rows `[rows, OH, OW, C]` (forward) or `[rows, H, W, C]` (transpose).
 */
export function maxPoolMasked(
  layer: MaxPool2DLayer,
  v: Float64Array,
  code: Uint16Array,
  options: { rowsPerCode: number; transpose: boolean },
): Float64Array {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  const inSize = H * W * C, outSize = OH * OW * C;
  const rows = v.length / (options.transpose ? outSize : inSize);
  const out = new Float64Array(rows * (options.transpose ? inSize : outSize));
  for (let r = 0; r < rows; r++) {
    const co = Math.floor(r / options.rowsPerCode) * outSize;
    for (let o = 0; o < OH * OW; o++) {
      for (let c = 0; c < C; c++) {
        const k = o * C + c;
        const i = slotPosition(layer, o, code[co + k]) * C + c;
        if (options.transpose) out[r * inSize + i] += v[r * outSize + k];
        else out[r * outSize + k] = v[r * inSize + i];
      }
    }
  }
  return out;
}
