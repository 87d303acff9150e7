/**
 * Multiply-adds of the WebGPU engine's forward pass (per image) and transposed pass (per
 * template) for smallCNN and largeCNN, by arithmetic from the layer shapes: as the fifth
 * session's kernels ran them (every conv and conv transpose a product, on zero-padded inputs)
 * and as the engine runs them now (zero padding folded into the conv, window tiles for
 * conv → ReLU → disjoint max-pool blocks where they do at most half the product's work or the
 * conv is narrow, Winograd F(4 × 4, 3 × 3) for other stride-1 3×3 convs of ≥ 16 channels).
 * Counts, not timings. `deno run -A bench/multiply_adds.ts`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { foldedLayers } from "../lib/network/folded_layers.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import type { MaxPool2DLayer, SplineLayer } from "../lib/network/spline_network.ts";
import { poolConvTilesWork } from "../lib/backend/webgpu/kernels/pool_conv_tiles.ts";
import { winogradApplies } from "../lib/backend/webgpu/kernels/winograd.ts";

await tf.setBackend("cpu");

/** Forward and transposed multiply-adds of `layers`, the fifth session's way or now. */
function count(layers: readonly SplineLayer[], now: boolean): { forward: number; back: number } {
  let forward = 0, back = 0;
  layers.forEach((l, i) => {
    if (l.kind === "dense") {
      forward += l.inputShape[0] * l.outputShape[0];
      back += l.inputShape[0] * l.outputShape[0];
    }
    if (l.kind !== "conv2d") return;
    const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
    const taps = l.kernelSize[0] * l.kernelSize[1];
    const wino = now && winogradApplies(l) && Math.min(CI, CO) >= 16;
    const winograd = (h: number, w: number) => 36 * Math.ceil(h / 4) * Math.ceil(w / 4) * CI * CO;
    const after = [layers[i + 1], layers[i + 2]].find((n) => n?.kind === "max-pool");
    const pool = after as MaxPool2DLayer | undefined;
    const tiles = now && pool !== undefined && l.strides[0] === 1 &&
      (poolConvTilesWork(l, pool) <= 0.5 || CI < 16);
    forward += wino ? winograd(OH, OW) : OH * OW * taps * CI * CO;
    back += tiles
      ? poolConvTilesWork(l, pool!) * OH * OW * taps * CI * CO
      : wino
      ? winograd(H, W)
      : H * W * taps * CI * CO;
  });
  return { forward, back };
}

for (const arch of ["smallCNN", "largeCNN"] as const) {
  const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
  const net = fromLayersModel(model);
  const then = count(net.layers, false), now = count(foldedLayers(net), true);
  const M = (v: number) => (v / 1e6).toFixed(1);
  console.log(
    `${arch}: forward pass ${M(then.forward)} → ${M(now.forward)} M multiply-adds an image, ` +
      `transposed pass ${M(then.back)} → ${M(now.back)} M a template (fifth session → now)`,
  );
  model.dispose();
}
