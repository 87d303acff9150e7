/**
 * A batch of examples in float64, the engine's exact working format.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Shape } from "./spline_network.ts";
import { shapeSize } from "./spline_network.ts";

/** A batch in float64: `data` holds `shape` in row-major order; `shape[0]` is the batch size N. */
export interface Batch {
  /** The values, row-major. */
  readonly data: Float64Array;
  /** The shape, batch axis first. */
  readonly shape: readonly number[];
}

/** An engine input: a tfjs tensor, or a float64 {@linkcode Batch} for exact work. */
export type BatchInput = tf.Tensor | Batch;

/** True when `x` is a tfjs tensor rather than a float64 batch. */
export function isTensor(x: BatchInput): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/**
 * Throws unless `x` is a live tfjs tensor or a `{ data, shape }` batch with a list of sizes for
 * its shape, naming what it is instead (null, an array, a disposed tensor, …).
 *
 * @param x The value given as an engine input.
 * @param what The computation, for messages (`"Cannot run the network"`).
 *
 * @example
 * ```ts
 * import { checkBatchInput } from "./batch.ts";
 * import { throws } from "node:assert/strict";
 * checkBatchInput({ data: new Float64Array(2), shape: [1, 2] }, "Cannot run the network");
 * throws(() => checkBatchInput([[1, 2]] as never, "Cannot run the network"), TypeError);
 * ```
 */
export function checkBatchInput(x: BatchInput, what: string): void {
  const expected = "expected a tf.Tensor or a { data: Float64Array, shape } batch";
  if (isTensor(x)) {
    if (x.isDisposed) throw new TypeError(`${what}: the input tensor is disposed, ${expected}`);
    return;
  }
  const v = x as unknown;
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    const it = v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
    throw new TypeError(`${what}: input is ${it}, ${expected}`);
  }
  const shape = (v as { shape?: unknown }).shape;
  const list = Array.isArray(shape) || ArrayBuffer.isView(shape)
    ? Array.from(shape as ArrayLike<number>)
    : null;
  if (list === null || list.length === 0 || !list.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(
      `${what}: input batch has shape ${
        list === null ? String(shape) : `[${list}]`
      }, expected a list of integers ≥ 0, the batch size first`,
    );
  }
}

/** Throws a RangeError naming both shapes unless `shape` is `[N, ...exampleShape]`. */
function checkBatchShape(shape: readonly number[], want: Shape, what: string): void {
  if (shape.length === want.length + 1 && want.every((d, i) => shape[i + 1] === d)) return;
  throw new RangeError(
    `${what}: input has shape [${shape}], expected [N, ${want.join(", ")}] (a batch of ${
      want.length === 1 ? "vectors" : "examples"
    } of shape [${want}])`,
  );
}

/**
 * Reads a batch into float64 and checks it: its shape must be `[N, ...exampleShape]`
 * and every value finite.
 *
 * @param x A tensor or float64 batch.
 * @param options `exampleShape`: the per-example shape; `what`: the computation, for messages;
 *   `float32`: the caller computes in float32 (the WebGPU engine), so a float32 tensor's values
 *   come back as they are, without a float64 copy (for 16,384 CIFAR images, 200 MB of float32,
 *   that copy takes longer than the GPU's whole pass).
 * @returns The batch as float64 (or float32, with `float32`, for a float32 tensor) with its
 *   batch size.
 *
 * @example
 * ```ts
 * import { readBatch } from "./batch.ts";
 * import { equal, throws } from "node:assert/strict";
 * const b = readBatch({ data: new Float64Array(6), shape: [2, 3] }, { exampleShape: [3] });
 * equal(b.count, 2);
 * throws(() => readBatch({ data: new Float64Array(6), shape: [3, 2] }, { exampleShape: [3] }), RangeError);
 * ```
 */
export function readBatch(
  x: BatchInput,
  options: { exampleShape: Shape; what?: string; float32?: false },
): { data: Float64Array; count: number };
/** The batch as float64, or a float32 tensor's values as they are (see above). */
export function readBatch(
  x: BatchInput,
  options: { exampleShape: Shape; what?: string; float32: true },
): { data: Float64Array | Float32Array; count: number };
export function readBatch(
  x: BatchInput,
  options: { exampleShape: Shape; what?: string; float32?: boolean },
): { data: Float64Array | Float32Array; count: number } {
  const what = options.what ?? "Cannot run the network";
  checkBatchInput(x, what);
  const shape = x.shape;
  const want = options.exampleShape;
  checkBatchShape(shape, want, what);
  const count = shape[0];
  let data: Float64Array | Float32Array;
  if (isTensor(x)) {
    if (x.dtype !== "float32" && x.dtype !== "int32") {
      throw new TypeError(`${what}: input has dtype ${x.dtype}, expected float32 or int32`);
    }
    const values = x.dataSync() as Float32Array | Int32Array;
    data = options.float32 === true && values instanceof Float32Array
      ? values
      : Float64Array.from(values);
  } else {
    if (!(x.data instanceof Float64Array)) {
      throw new TypeError(`${what}: a Batch must hold a Float64Array`);
    }
    if (x.data.length !== count * shapeSize(want)) {
      throw new RangeError(
        `${what}: batch data has ${x.data.length} values, shape [${shape}] needs ${
          count * shapeSize(want)
        }`,
      );
    }
    data = x.data;
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const d = shapeSize(want);
      throw new RangeError(
        `${what}: input value ${data[i]} at example ${Math.floor(i / d)}, index ${
          i % d
        } is not finite`,
      );
    }
  }
  return { data, count };
}

/**
 * Checks an input like {@linkcode readBatch} and returns it as a float32 tensor for the
 * tfjs engine (the input itself when it already is one; a new tensor for a batch).
 *
 * @param x A tensor or float64 batch.
 * @param options `exampleShape` and `what`, as for {@linkcode readBatch}.
 * @returns A float32 tensor `[N, ...exampleShape]`.
 *
 * @example
 * ```ts
 * import { readTensor } from "./batch.ts";
 * import { deepEqual } from "node:assert/strict";
 * const t = readTensor({ data: new Float64Array(6), shape: [2, 3] }, { exampleShape: [3] });
 * deepEqual(t.shape, [2, 3]);
 * ```
 */
export function readTensor(
  x: BatchInput,
  options: { exampleShape: Shape; what?: string },
): tf.Tensor {
  if (!isTensor(x)) {
    const { data, count } = readBatch(x, options);
    return tf.tensor(Float32Array.from(data), [count, ...options.exampleShape], "float32");
  }
  const what = options.what ?? "Cannot run the network";
  checkBatchInput(x, what);
  checkBatchShape(x.shape, options.exampleShape, what);
  if (x.dtype === "int32") return tf.cast(x, "float32"); // integers: finite, as readBatch reads them
  if (x.dtype !== "float32") {
    throw new TypeError(`${what}: input has dtype ${x.dtype}, expected float32 or int32`);
  }
  const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(x))).dataSync()[0]);
  if (bad) readBatch(x, options); // finds and names the offending value
  return x;
}

/**
 * Reads a tensor into a float64 {@linkcode Batch} and disposes the tensor.
 *
 * @param t The tensor.
 * @returns Its values as a float64 batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { toBatch } from "./batch.ts";
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(Array.from(toBatch(tf.ones([1, 2])).data), [1, 1]);
 * ```
 */
export function toBatch(t: tf.Tensor): Batch {
  const b = { data: Float64Array.from(t.dataSync() as Float32Array), shape: t.shape };
  t.dispose();
  return b;
}

/**
 * Returns float64 results in the same kind as the input: a float32 tensor when the
 * input was a tensor, else a float64 {@linkcode Batch} (data of the other type is converted).
 *
 * @param like The engine input the result answers.
 * @param data The result values.
 * @param shape The result shape.
 * @returns A tensor or a batch.
 *
 * @example
 * ```ts
 * import { asOutput } from "./batch.ts";
 * import { deepEqual } from "node:assert/strict";
 * const out = asOutput({ data: new Float64Array(1), shape: [1, 1] }, new Float64Array([2]), [1]);
 * deepEqual(out.shape, [1]);
 * ```
 */
export function asOutput(
  like: BatchInput,
  data: Float64Array | Float32Array,
  shape: number[],
): tf.Tensor | Batch {
  if (isTensor(like)) {
    return tf.tensor(
      data instanceof Float32Array ? data : Float32Array.from(data),
      shape,
      "float32",
    );
  }
  return { data: data instanceof Float64Array ? data : Float64Array.from(data), shape };
}

/**
 * The array type of an engine's result for `like`: float32 for a tensor input (its result is a
 * float32 tensor), float64 for a batch — so that a result computed in float32 is written once,
 * straight into the array returned.
 *
 * @param like The engine input.
 * @returns `Float32Array` or `Float64Array`.
 */
export function outputArray(
  like: BatchInput,
): new (length: number) => Float32Array | Float64Array {
  return isTensor(like) ? Float32Array : Float64Array;
}
