/**
 * Partition codes: the region of the input space partition each input falls in, at
 * every nonlinear layer.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BatchInput, checkBatchInput, readBatch, readTensor } from "../network/batch.ts";
import { arrayChunks, examplesPerChunk } from "../network/_chunks.ts";
import type { NonlinearLayer, SplineNetwork } from "../network/spline_network.ts";
import { forwardPass } from "../backend/cpu/run.ts";
import { disposeCodes, forwardPassTf, readCodes } from "../backend/tfjs/run.ts";
import { type EngineOptions, resolveBackend } from "../backend/backend.ts";
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";

/**
 * The partition codes t^(ℓ)(x) of a batch at every code layer (Section 7), in the
 * network's code-layer order: ReLU / leaky ReLU / abs as sign bits (1 where the
 * pre-activation is `> 0`; exactly 0 is inactive), packed 32 per Uint32 word;
 * max-pool as the argmax's row-major window index (ties to the first). With
 * `backend: "tfjs"` the forward pass runs on tfjs ops in float32 (fast with wasm or
 * webgpu); a pre-activation within float32 rounding of 0 may then get the other code.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options `backend`: which engine computes (see {@linkcode EngineOptions}).
 * @returns One {@linkcode CodeLayer} per nonlinear layer.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { partitionCodes } from "./codes.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([3], [{ kind: "relu", name: "r", inputShape: [3], outputShape: [3] }]);
 * const [layer] = partitionCodes(net, { data: new Float64Array([1, 0, 2]), shape: [1, 3] });
 * equal(layer.bits[0], 0b101);
 * ```
 */
export function partitionCodes(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): PartitionCodes {
  const what = "Cannot compute partition codes";
  checkBatchInput(x, what); // before resolveBackend reads its shape
  const layers = net.codeLayers.map((info) => info.layer);
  const inOrder = (c: Map<NonlinearLayer, Uint8Array | Uint16Array | Uint32Array>) =>
    layers.map((l) => c.get(l)!);
  let arrays: (Uint8Array | Uint16Array | Uint32Array)[], count: number;
  if (resolveBackend(x, options, what) === "tfjs") {
    const t = readTensor(x, { exampleShape: net.inputShape, what });
    count = t.shape[0];
    arrays = arrayChunks(count, examplesPerChunk(net, 1, 4), (start, n) => {
      const part = n === count ? t : tf.slice(t, start, n);
      try {
        const run = forwardPassTf(net, part);
        run.output.dispose();
        const c = readCodes(run.codes, { packed: true });
        disposeCodes(run.codes);
        return inOrder(c);
      } finally {
        if (part !== t) part.dispose();
      }
    });
    if (t !== x) t.dispose();
  } else {
    const b = readBatch(x, { exampleShape: net.inputShape, what });
    const D = net.inputSize;
    count = b.count;
    arrays = arrayChunks(
      count,
      examplesPerChunk(net, 1, 8),
      (start, n) => inOrder(forwardPass(net, b.data.subarray(start * D, (start + n) * D), n).codes),
    );
  }
  const codes = new Map(layers.map((l, i) => [l, arrays[i]]));
  return net.codeLayers.map((info): CodeLayer => {
    const raw = codes.get(info.layer)!;
    const units = info.units;
    const common = {
      kind: info.kind,
      layer: info.index,
      name: info.name,
      count,
      units,
      shape: info.shape,
    };
    if (info.kind === "max-pool") {
      return { ...common, words: 0, bits: new Uint32Array(0), argmax: raw as Uint16Array };
    }
    const words = Math.ceil(units / 32);
    if (raw instanceof Uint32Array) {
      return { ...common, words, bits: raw, argmax: new Uint16Array(0) };
    }
    const bits = new Uint32Array(count * words);
    // a word at a time, branch-free (the activity bits are unpredictable on real data)
    for (let n = 0, i = 0; n < count; n++) {
      for (let w = 0; w < words; w++) {
        const end = Math.min(32, units - w * 32);
        let word = 0;
        for (let b = 0; b < end; b++, i++) word |= raw[i] << b;
        bits[n * words + w] = word;
      }
    }
    return { ...common, words, bits, argmax: new Uint16Array(0) };
  });
}
