/**
 * The network's own output, computed by the spline engine.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { asOutput, type Batch, type BatchInput, readBatch } from "./batch.ts";
import type { SplineNetwork } from "./spline_network.ts";
import { forwardPass } from "../backend/cpu/run.ts";
import { arrayChunks, examplesPerChunk } from "./_chunks.ts";

/**
 * The network's output z(x) `[N, C]` (logits, before any softmax), computed in float64.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @returns `[N, C]`: a float32 tensor for a tensor input, a float64 batch for a batch.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "./spline_network.ts";
 * import { forward } from "./forward.ts";
 * import { deepEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "abs", name: "a", inputShape: [2], outputShape: [2] }]);
 * deepEqual(Array.from(forward(net, { data: new Float64Array([-1, 2]), shape: [1, 2] }).data), [1, 2]);
 * ```
 */
export function forward(net: SplineNetwork, x: tf.Tensor): tf.Tensor;
/** The network's output for a float64 batch (float64, exact). */
export function forward(net: SplineNetwork, x: Batch): Batch;
/** The network's output: a tensor for a tensor input, a float64 batch for a batch. */
export function forward(net: SplineNetwork, x: BatchInput): tf.Tensor | Batch;
export function forward(net: SplineNetwork, x: BatchInput): tf.Tensor | Batch {
  const { data, count } = readBatch(x, {
    exampleShape: net.inputShape,
    what: "Cannot run the network",
  });
  const D = net.inputSize;
  const [out] = arrayChunks(count, examplesPerChunk(net, 1, 8), (start, n) => [
    forwardPass(net, data.subarray(start * D, (start + n) * D), n).output,
  ]);
  return asOutput(x, out, [count, ...net.outputShape]);
}
