/**
 * CPU kernels (float64) for 2D convolution, NHWC, explicit zero padding.
 *
 * @module
 */
import type { Conv2DLayer } from "../../network/spline_network.ts";

/**
 * `y = conv(x, K) (+ b)` for `n` examples.
 *
 * @param layer The conv layer.
 * @param x Input `[n, H, W, Cin]`.
 * @param n Number of examples.
 * @param bias Whether to add the bias.
 * @returns Output `[n, OH, OW, Cout]`.
 */
export function conv2dApply(
  layer: Conv2DLayer,
  x: Float64Array,
  n: number,
  bias: boolean,
): Float64Array {
  const [H, W, CI] = layer.inputShape;
  const [OH, OW, CO] = layer.outputShape;
  const [KH, KW] = layer.kernelSize, [SH, SW] = layer.strides;
  const PT = layer.padding[0], PL = layer.padding[2];
  const K = layer.kernel, b = bias ? layer.bias : null;
  const y = new Float64Array(n * OH * OW * CO);
  for (let e = 0; e < n; e++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const yo = ((e * OH + oy) * OW + ox) * CO;
        if (b) { for (let co = 0; co < CO; co++) y[yo + co] = b[co]; }
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            const xo = ((e * H + iy) * W + ix) * CI;
            const kb = (ky * KW + kx) * CI * CO;
            for (let ci = 0; ci < CI; ci++) {
              const v = x[xo + ci];
              if (v === 0) continue;
              const ko = kb + ci * CO;
              for (let co = 0; co < CO; co++) y[yo + co] += v * K[ko + co];
            }
          }
        }
      }
    }
  }
  return y;
}

/**
 * The transpose of the convolution (the gradient with respect to the input) for
 * `m` rows of output gradients.
 *
 * @param layer The conv layer.
 * @param g Gradient rows `[m, OH, OW, Cout]`.
 * @param m Number of rows.
 * @returns `[m, H, W, Cin]`.
 */
export function conv2dTranspose(layer: Conv2DLayer, g: Float64Array, m: number): Float64Array {
  const [H, W, CI] = layer.inputShape;
  const [OH, OW, CO] = layer.outputShape;
  const [KH, KW] = layer.kernelSize, [SH, SW] = layer.strides;
  const PT = layer.padding[0], PL = layer.padding[2];
  const K = layer.kernel;
  const out = new Float64Array(m * H * W * CI);
  for (let e = 0; e < m; e++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const go = ((e * OH + oy) * OW + ox) * CO;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH + ky - PT;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW + kx - PL;
            if (ix < 0 || ix >= W) continue;
            const oo = ((e * H + iy) * W + ix) * CI;
            const kb = (ky * KW + kx) * CI * CO;
            for (let ci = 0; ci < CI; ci++) {
              const ko = kb + ci * CO;
              let s = 0;
              for (let co = 0; co < CO; co++) s += g[go + co] * K[ko + co];
              out[oo + ci] += s;
            }
          }
        }
      }
    }
  }
  return out;
}
