/**
 * {@linkcode fromLayersModel} for a model whose weights cannot be read synchronously.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { SplineNetwork } from "./spline_network.ts";
import { fromLayersModel } from "./from_layers_model.ts";
import { withWeightValues } from "./_weight_values.ts";

/**
 * Converts a tfjs LayersModel into a {@linkcode SplineNetwork} as {@linkcode fromLayersModel}
 * does, reading its weights asynchronously first: for a model on tfjs's `webgpu` backend (for
 * instance one trained there), whose tensors Deno cannot read synchronously. On other backends
 * it gives the same network as `fromLayersModel`.
 *
 * @param model The model (its current weights are read).
 * @returns The network, as {@linkcode fromLayersModel}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fromLayersModelAsync } from "./from_layers_model_async.ts";
 * import { deepEqual } from "node:assert/strict";
 * const model = tf.sequential({ layers: [
 *   tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }),
 *   tf.layers.dense({ units: 3 }),
 * ] });
 * const net = await fromLayersModelAsync(model);
 * deepEqual(net.inputShape, [4]);
 * ```
 */
export async function fromLayersModelAsync(model: tf.LayersModel): Promise<SplineNetwork> {
  const weights = (model as Partial<tf.LayersModel> | null)?.weights;
  // not a model: fromLayersModel names what it is
  if (!Array.isArray(weights)) return fromLayersModel(model);
  return await withWeightValues(weights.map((w) => w.read()), () => fromLayersModel(model));
}
