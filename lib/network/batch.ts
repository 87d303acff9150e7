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
  return checkedBatch(
    x,
    checkTensor(x, options) ? syncValues(x as tf.Tensor, what) : null,
    options,
  );
}

/**
 * {@linkcode readBatch} for the async functions: a tensor's values are read asynchronously, so
 * that a tensor on tfjs's `webgpu` backend (which cannot read synchronously in Deno) works too.
 *
 * @param x A tensor or float64 batch.
 * @param options As for {@linkcode readBatch}.
 * @returns As {@linkcode readBatch}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readBatchAsync } from "./batch.ts";
 * import { deepEqual } from "node:assert/strict";
 * const b = await readBatchAsync(tf.tensor2d([[1, 2, 3]]), { exampleShape: [3], float32: true });
 * deepEqual(Array.from(b.data), [1, 2, 3]);
 * ```
 */
export async function readBatchAsync(
  x: BatchInput,
  options: { exampleShape: Shape; what?: string; float32?: boolean },
): Promise<{ data: Float64Array | Float32Array; count: number }> {
  const values = checkTensor(x, options)
    ? await (x as tf.Tensor).data() as Float32Array | Int32Array
    : null;
  return checkedBatch(x, values, options);
}

/**
 * Checks a tensor input as {@linkcode readBatchAsync} does (shape, dtype, every value finite)
 * without reading its values: finiteness is tested where the tensor lives (one flag read back),
 * and only a non-finite input is read, to name the offending value.
 *
 * @param x A tensor.
 * @param options `exampleShape` and `what`, as for {@linkcode readBatch}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkTensorAsync } from "./batch.ts";
 * import { rejects } from "node:assert/strict";
 * await checkTensorAsync(tf.ones([2, 3]), { exampleShape: [3] });
 * await rejects(checkTensorAsync(tf.tensor2d([[1, NaN, 3]]), { exampleShape: [3] }), RangeError);
 * ```
 */
export async function checkTensorAsync(
  x: tf.Tensor,
  options: { exampleShape: Shape; what?: string },
): Promise<void> {
  checkTensor(x, options);
  if (await hasNonFiniteAsync(x)) await readBatchAsync(x, options); // finds and names the value
}

/** A scalar tensor: 1 where `x` holds a NaN or an infinity (float32 `x`, not empty). */
function nonFiniteFlag(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(x))));
}

/**
 * Whether a tensor holds a NaN or an infinity, tested where it lives: one flag read back
 * (asynchronously: tfjs-webgpu cannot read synchronously in Deno), its values not read.
 *
 * @param x The tensor (int32 and empty ones are finite).
 * @returns True where some value is not finite.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { hasNonFiniteAsync } from "./batch.ts";
 * import { equal } from "node:assert/strict";
 * equal(await hasNonFiniteAsync(tf.tensor1d([1, Infinity])), true);
 * ```
 */
export async function hasNonFiniteAsync(x: tf.Tensor): Promise<boolean> {
  if (x.size === 0 || x.dtype === "int32") return false;
  const flag = nonFiniteFlag(x);
  try {
    return (await flag.data())[0] !== 0;
  } finally {
    flag.dispose();
  }
}

/** Checks the input, its shape and (for a tensor) its dtype; true for a tensor. */
function checkTensor(x: BatchInput, options: { exampleShape: Shape; what?: string }): boolean {
  const what = options.what ?? "Cannot run the network";
  checkBatchInput(x, what);
  checkBatchShape(x.shape, options.exampleShape, what);
  if (!isTensor(x)) return false;
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new TypeError(`${what}: input has dtype ${x.dtype}, expected float32 or int32`);
  }
  return true;
}

/**
 * A tensor's values, read synchronously; where the tensor's backend cannot (tfjs's `webgpu` in
 * Deno), an error that says so and what to do instead.
 */
function syncValues(t: tf.Tensor, what: string): Float32Array | Int32Array {
  try {
    return t.dataSync() as Float32Array | Int32Array;
  } catch (e) {
    throw new TypeError(
      `${what}: the input tensor cannot be read synchronously (${
        (e as Error).message
      }): tfjs's webgpu backend cannot in Deno; call the async variant (e.g. affineMapAsync), or make the tensor under tfjs's cpu or wasm backend`,
      { cause: e },
    );
  }
}

/** {@linkcode readBatch}'s result from a checked input and, for a tensor, its values. */
function checkedBatch(
  x: BatchInput,
  values: Float32Array | Int32Array | null,
  options: { exampleShape: Shape; what?: string; float32?: boolean },
): { data: Float64Array | Float32Array; count: number } {
  const what = options.what ?? "Cannot run the network";
  const want = options.exampleShape;
  const count = x.shape[0];
  let data: Float64Array | Float32Array;
  if (values !== null) {
    data = options.float32 === true && values instanceof Float32Array
      ? values
      : Float64Array.from(values);
  } else {
    const b = x as Batch;
    if (!(b.data instanceof Float64Array)) {
      throw new TypeError(`${what}: a Batch must hold a Float64Array`);
    }
    if (b.data.length !== count * shapeSize(want)) {
      throw new RangeError(
        `${what}: batch data has ${b.data.length} values, shape [${x.shape}] needs ${
          count * shapeSize(want)
        }`,
      );
    }
    data = b.data;
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
 * The float64 batch of an input whose values were read (by {@linkcode readBatchAsync}): the
 * batch itself, or a tensor's values as float64.
 *
 * @param x The input.
 * @param data Its values, as read.
 * @returns A float64 batch of `x`'s shape.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { asBatch } from "./batch.ts";
 * import { deepEqual } from "node:assert/strict";
 * const b = asBatch(tf.zeros([1, 2]), new Float32Array([0.5, 2]));
 * deepEqual([Array.from(b.data), b.shape], [[0.5, 2], [1, 2]]);
 * ```
 */
export function asBatch(x: BatchInput, data: Float64Array | Float32Array): Batch {
  if (!isTensor(x) && data === x.data) return x;
  return { data: data instanceof Float64Array ? data : Float64Array.from(data), shape: x.shape };
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
  checkTensor(x, options);
  if (x.dtype === "int32") return tf.cast(x, "float32"); // integers: finite, as readBatch reads them
  const flag = nonFiniteFlag(x);
  const [bad] = syncValues(flag, what);
  flag.dispose();
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
  const b = { data: Float64Array.from(syncValues(t, "Cannot read the result")), shape: t.shape };
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
