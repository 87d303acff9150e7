/**
 * Multiply-adds of the WebGPU engine's forward pass (per image) and transposed pass (per
 * template) for smallCNN and largeCNN, by arithmetic from the layer shapes: as the fifth
 * session's kernels ran them (every conv and conv transpose a product, on zero-padded inputs)
 * and as the engine runs them now, by each adapter kind's rules (zero padding folded into the
 * conv; window tiles for conv → ReLU → disjoint max-pool blocks whose conv is narrow, and on
 * software adapters also where they do at most half the product's work; Winograd
 * F(4 × 4, 3 × 3) for other stride-1 3×3 convs of ≥ 16 channels, except in the pass that
 * records codes, which runs products). Also the bytes that the
 * transposed pass's Winograd temporaries move. Counts, not timings.
 * `deno run -A bench/multiply_adds.ts`
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
import { windowTilesBy } from "../lib/backend/webgpu/run.ts";
import { winogradApplies } from "../lib/backend/webgpu/kernels/winograd.ts";

await tf.setBackend("cpu");

/**
 * Forward and transposed multiply-adds of `layers`, the fifth session's way or now; and, now,
 * the bytes that the transposed pass's Winograd temporaries move a template: the input
 * transform written and read by the product, the product written and read by the output
 * transform (the traffic a fused Winograd kernel would save).
 */
function count(
  layers: readonly SplineLayer[],
  now: false | "narrow" | "work",
): { forward: number; recording: number; back: number; temporaries: number } {
  let forward = 0, recording = 0, back = 0, temporaries = 0;
  layers.forEach((l, i) => {
    if (l.kind === "dense") {
      forward += l.inputShape[0] * l.outputShape[0];
      recording += l.inputShape[0] * l.outputShape[0];
      back += l.inputShape[0] * l.outputShape[0];
    }
    if (l.kind !== "conv2d") return;
    const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
    const taps = l.kernelSize[0] * l.kernelSize[1];
    const wino = now && winogradApplies(l) && Math.min(CI, CO) >= 16;
    const winograd = (h: number, w: number) => 36 * Math.ceil(h / 4) * Math.ceil(w / 4) * CI * CO;
    const after = [layers[i + 1], layers[i + 2]].find((n) => n?.kind === "max-pool");
    const pool = after as MaxPool2DLayer | undefined;
    const tiles = now !== false && pool !== undefined && l.strides[0] === 1 &&
      windowTilesBy(now, l, pool);
    forward += wino ? winograd(OH, OW) : OH * OW * taps * CI * CO;
    recording += OH * OW * taps * CI * CO;
    back += tiles
      ? poolConvTilesWork(l, pool!) * OH * OW * taps * CI * CO
      : wino
      ? winograd(H, W)
      : H * W * taps * CI * CO;
    if (!tiles && wino) temporaries += 2 * 4 * 36 * Math.ceil(H / 4) * Math.ceil(W / 4) * (CI + CO);
  });
  return { forward, recording, back, temporaries };
}

for (const arch of ["smallCNN", "largeCNN"] as const) {
  const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
  const net = fromLayersModel(model);
  const then = count(net.layers, false);
  const M = (v: number) => (v / 1e6).toFixed(1);
  for (const [rule, where] of [["narrow", "GPUs"], ["work", "software adapters"]] as const) {
    const now = count(foldedLayers(net), rule);
    console.log(
      `${arch} on ${where}: forward pass ${M(then.forward)} → ${M(now.forward)} M ` +
        `multiply-adds an image (${M(now.recording)} M where it records codes: products), ` +
        `transposed pass ${M(then.back)} → ${M(now.back)} M a template (fifth session → now); ` +
        `an affine map (the codes' pass, the offsets' pass, all 10 templates) ${
          (2 * (now.recording + now.forward + 10 * now.back) / 1e9).toFixed(2)
        } GFLOP an image; ⟨A_c, x⟩ (the codes' pass, the masked pass) ${
          (2 * (now.recording + now.forward) / 1e9).toFixed(2)
        } GFLOP; ` +
        `the transposed pass's Winograd temporaries move ${M(now.temporaries)} MB a template`,
    );
  }
  model.dispose();
}
