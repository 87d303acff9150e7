/**
 * A layer's weight values for {@linkcode fromLayersModel}: read synchronously, or taken from
 * those {@linkcode fromLayersModelAsync} read beforehand (a model trained on tfjs's `webgpu`
 * backend cannot be read synchronously in Deno).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { SplineError } from "../util/errors.ts";

/**
 * Values read asynchronously, by the tensor's data id (a weight assigned since has a new one),
 * present only while {@link withWeightValues} runs its conversion.
 */
const prefetched = new WeakMap<object, Float32Array>();

/**
 * Reads `tensors` asynchronously, then runs `convert` with their values available to
 * {@link weightValues}: set, used and removed in one synchronous step, so that conversions
 * running concurrently cannot remove each other's values, and nothing is kept afterwards.
 *
 * @param tensors The model's weights.
 * @param convert The synchronous conversion.
 * @returns What `convert` returns.
 */
export async function withWeightValues<T>(
  tensors: readonly tf.Tensor[],
  convert: () => T,
): Promise<T> {
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tensors.forEach((t, i) => prefetched.set(t.dataId, values[i]));
  try {
    return convert();
  } finally {
    for (const t of tensors) prefetched.delete(t.dataId);
  }
}

/**
 * A weight's values: prefetched, or read synchronously, with an error that names the layer and
 * the way out where the tensor's backend cannot read synchronously.
 *
 * @param t The weight.
 * @param layer The layer's name, for messages.
 * @param what Which weight, for messages.
 * @returns Its values.
 */
export function weightValues(t: tf.Tensor, layer: string, what: string): Float32Array {
  const early = prefetched.get(t.dataId);
  if (early !== undefined) return early;
  try {
    return t.dataSync() as Float32Array;
  } catch (e) {
    throw new SplineError(
      `Cannot convert layer '${layer}': its ${what} cannot be read synchronously (${
        (e as Error).message
      }): a model on tfjs's webgpu backend cannot in Deno; use await fromLayersModelAsync(model)`,
      { cause: e },
    );
  }
}
