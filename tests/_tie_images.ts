/**
 * Shared by the engines' tests of exact ties: a network and images whose max-pool windows tie
 * exactly in float64, the kind of tie that Winograd's position-dependent rounding breaks.
 *
 * @module
 */
import { smallCNN } from "../lib/models/small_cnn.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import type { SplineNetwork } from "../lib/network/spline_network.ts";
import { setNonzeroOffsets } from "../bench/_nonzero_offsets.ts";

/**
 * Four images `[4, H, W, C]` whose values repeat along a diagonal (sin(0.37 (x − y)), a ramp
 * across it), an anti-diagonal, or a column (sin(0.9 x)): equal fields at positions a diagonal
 * or an axis step apart, so max-pool windows over them tie exactly. Channel c is scaled by 1 + c.
 */
export function repeatedImages(
  [H, W, C]: readonly [number, number, number],
): { data: Float64Array; shape: number[] } {
  const pattern = [
    (x: number, y: number) => Math.sin(0.37 * (x - y)), // along a diagonal
    (x: number, y: number) => ((x - y + 64) % 7) / 7, // a ramp across a diagonal
    (x: number, y: number) => Math.sin(0.37 * (x + y)) + 0.2 * Math.cos(1.3 * (x + y)), // anti-diagonal
    (x: number) => Math.sin(0.9 * x), // constant along columns
  ];
  const D = H * W * C, data = new Float64Array(4 * D);
  pattern.forEach((f, e) => {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) data[e * D + (y * W + x) * C + c] = f(x, y) * (1 + c);
      }
    }
  });
  return { data, shape: [4, H, W, C] };
}

/**
 * smallCNN (32×32×3; its second conv the one of 16+ channels), biases and shifts nonzero, on
 * {@linkcode repeatedImages}: max-pool windows after the second conv tie exactly.
 */
export function repeatsNet(): {
  net: SplineNetwork;
  batch: { data: Float64Array; shape: number[] };
} {
  const model = smallCNN({ inputShape: [32, 32, 3], seed: 1 });
  setNonzeroOffsets(model);
  const net = fromLayersModel(model);
  model.dispose();
  return { net, batch: repeatedImages([32, 32, 3]) };
}
