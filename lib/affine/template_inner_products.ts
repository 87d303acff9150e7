/**
 * ⟨A[x]_c, x⟩ for every class in one masked linear pass.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  asOutput,
  type Batch,
  type BatchInput,
  checkBatchInput,
  isTensor,
  readBatch,
  readTensor,
  toBatch,
} from "../network/batch.ts";
import type { SplineNetwork } from "../network/spline_network.ts";
import { forwardPass, maskedPass } from "../backend/cpu/run.ts";
import { disposeCodes, forwardPassTf, maskedPassTf } from "../backend/tfjs/run.ts";
import { type EngineOptions, resolveBackend } from "../backend/backend.ts";
import { arrayChunks, examplesPerChunk, tensorChunks } from "../network/_chunks.ts";

/**
 * The inner products ⟨A[x]_c, x⟩ of each input with its own class templates, `[N, C]`
 * (the quantity of the paper's Proposition 5 and Figure 2). Computed in ONE masked
 * linear pass: the codes of x held fixed and every bias zeroed give `A[x]·x` directly,
 * with no per-class gradient.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options `backend`: which engine computes (see {@linkcode EngineOptions}).
 * @returns `[N, C]`, a float32 tensor for a tensor input, a float64 batch for a batch.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { templateInnerProducts } from "./template_inner_products.ts";
 * import { deepEqual } from "node:assert/strict";
 * // z(x) = relu(x1 − x2 + 1): A[x] = [1, −1] when active, B = 1
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: new Float64Array([1, -1]), bias: new Float64Array([1]) },
 *   { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
 * ]);
 * const out = templateInnerProducts(net, { data: new Float64Array([3, 1]), shape: [1, 2] });
 * deepEqual(Array.from(out.data), [2]);
 * ```
 */
export function templateInnerProducts(
  net: SplineNetwork,
  x: tf.Tensor,
  options?: EngineOptions,
): tf.Tensor;
/** ⟨A[x]_c, x⟩ for every class c of a float64 batch, as a float64 batch `[N, C]`. */
export function templateInnerProducts(net: SplineNetwork, x: Batch, options?: EngineOptions): Batch;
/** ⟨A[x]_c, x⟩ for every class c: a tensor for a tensor input, a batch for a batch. */
export function templateInnerProducts(
  net: SplineNetwork,
  x: BatchInput,
  options?: EngineOptions,
): tf.Tensor | Batch;
export function templateInnerProducts(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): tf.Tensor | Batch {
  const what = "Cannot compute template inner products";
  checkBatchInput(x, what); // before resolveBackend reads its shape
  if (resolveBackend(x, options, what) === "tfjs") {
    const t = readTensor(x, { exampleShape: net.inputShape, what });
    const [z] = tensorChunks(t, examplesPerChunk(net, 1, 4), (part) => {
      // codes by Winograd where it applies: ⟨A_c, x⟩ does not depend on how exact ties are decided
      const { output, codes } = forwardPassTf(net, part, { tiesFree: true });
      output.dispose();
      const z = maskedPassTf(net, part, { codes, bias: false });
      disposeCodes(codes);
      return [z];
    });
    if (t !== x) t.dispose();
    return isTensor(x) ? z : toBatch(z);
  }
  const { data, count } = readBatch(x, { exampleShape: net.inputShape, what });
  const D = net.inputSize;
  const [z] = arrayChunks(count, examplesPerChunk(net, 1, 8), (start, n) => {
    const sub = data.subarray(start * D, (start + n) * D);
    const { codes } = forwardPass(net, sub, n);
    return [maskedPass(net, sub, { n, codes, bias: false })];
  });
  return asOutput(x, z, [count, net.outputSize]);
}
