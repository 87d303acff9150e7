/**
 * The exact affine map z(x) = A[x]·x + B[x] of a network at each input.
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
import { forwardPass, maskedPass, transposePass } from "../backend/cpu/run.ts";
import { disposeCodes, forwardPassTf, templatesTf } from "../backend/tfjs/run.ts";
import { type EngineOptions, resolveBackend } from "../backend/backend.ts";
import { arrayChunks, examplesPerChunk, tensorChunks } from "../network/_chunks.ts";

/** Templates and offsets of a batch, as tensors or float64 batches. */
export interface AffineMap<T> {
  /** Templates A[x]: `[N, C, D]`; row c of example n is the class-c template ∂z_c/∂x. */
  readonly A: T;
  /** Offsets B[x]: `[N, C]`. */
  readonly B: T;
}

/**
 * The exact affine map of the network's region at each input (the paper's eq. 8–9):
 * `z(x) = A[x]·x + B[x]` with A[x] `[N, C, D]` (all C class templates, D = the input's
 * values in row-major order) and B[x] `[N, C]`. A is computed by one transposed masked
 * pass per example (the C classes batched together), B by the masked pass of the zero
 * input with the codes of x held fixed — so `A·x + B` reproducing the network's output
 * is a real check, not an identity. Works in float64; a tensor input returns float32
 * tensors, a float64 {@linkcode Batch} returns float64 batches. With `backend: "tfjs"`
 * (the default for tensors when a fast tfjs backend is active) the same passes run on
 * tfjs ops in float32, and B is accumulated during the transposed pass as eq. (7)'s sum
 * of propagated biases.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options `backend`: which engine computes (see {@linkcode EngineOptions}).
 * @returns `{ A, B }`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { affineMap } from "./affine_map.ts";
 * import { deepEqual } from "node:assert/strict";
 * // z(x) = relu(x1 − x2)
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: new Float64Array([1, -1]), bias: null },
 *   { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
 * ]);
 * const { A, B } = affineMap(net, { data: new Float64Array([3, 1, 0, 2]), shape: [2, 2] });
 * deepEqual(Array.from(A.data), [1, -1, 0, 0]);
 * deepEqual(Array.from(B.data), [0, 0]);
 * ```
 */
export function affineMap(
  net: SplineNetwork,
  x: tf.Tensor,
  options?: EngineOptions,
): AffineMap<tf.Tensor>;
/** The templates A[x] and offsets B[x] of a float64 batch, as float64 batches. */
export function affineMap(net: SplineNetwork, x: Batch, options?: EngineOptions): AffineMap<Batch>;
/** The templates A[x] and offsets B[x]: tensors for a tensor input, batches for a batch. */
export function affineMap(
  net: SplineNetwork,
  x: BatchInput,
  options?: EngineOptions,
): AffineMap<tf.Tensor | Batch>;
export function affineMap(
  net: SplineNetwork,
  x: BatchInput,
  options: EngineOptions = {},
): AffineMap<tf.Tensor | Batch> {
  const what = "Cannot compute the affine map";
  checkBatchInput(x, what); // before resolveBackend reads its shape
  if (resolveBackend(x, options, what) === "tfjs") {
    const t = readTensor(x, { exampleShape: net.inputShape, what });
    const [A, B] = tensorChunks(t, examplesPerChunk(net, net.outputSize, 4), (part) => {
      const { output, codes } = forwardPassTf(net, part);
      output.dispose();
      const { A, B } = templatesTf(net, codes, part.shape[0]);
      disposeCodes(codes);
      return [A, B];
    });
    if (t !== x) t.dispose();
    if (isTensor(x)) return { A, B };
    return { A: toBatch(A), B: toBatch(B) };
  }
  const { data, count } = readBatch(x, { exampleShape: net.inputShape, what });
  const C = net.outputSize, D = net.inputSize;
  const [A, B] = arrayChunks(count, examplesPerChunk(net, C, 8), (start, n) => {
    const { codes } = forwardPass(net, data.subarray(start * D, (start + n) * D), n);
    const eye = new Float64Array(n * C * C);
    for (let e = 0; e < n; e++) for (let c = 0; c < C; c++) eye[(e * C + c) * C + c] = 1;
    return [
      transposePass(net, eye, { rows: n * C, codes, rowsPerCode: C }),
      maskedPass(net, new Float64Array(n * D), { n, codes, bias: true }),
    ];
  });
  return { A: asOutput(x, A, [count, C, D]), B: asOutput(x, B, [count, C]) };
}
