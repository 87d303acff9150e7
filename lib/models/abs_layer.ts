/**
 * A serializable tfjs layer computing the absolute value, |x|: the paper's third
 * piecewise-affine convex activation (Proposition 2), which tfjs lacks as a layer.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Configuration of an {@linkcode Abs} layer: tfjs's base layer arguments (`name`, `inputShape`, …). */
export type AbsLayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/**
 * The elementwise absolute value |x| = max(−x, x) as a tfjs layer (class name `"Abs"`,
 * registered for serialization, so models containing it save and load).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Abs } from "./abs_layer.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const layer = new Abs();
 * equal(layer.getClassName(), "Abs");
 * const y = layer.apply(tf.tensor1d([-2, 0, 3])) as tf.Tensor;
 * deepEqual(Array.from(y.dataSync()), [2, 0, 3]);
 * ```
 */
export class Abs extends tf.layers.Layer {
  /** The name tfjs serialization knows this class by. */
  static className: string = "Abs";

  /**
   * Creates the layer.
   *
   * @param config tfjs base layer arguments (`name`, `inputShape`, `trainable`, …).
   */
  constructor(config: AbsLayerArgs = {}) {
    super(config);
  }

  /**
   * Computes |x|.
   *
   * @param inputs One tensor (or a one-element list).
   * @returns |x|, the same shape.
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length !== 1) {
      throw new RangeError(`Cannot apply Abs layer: got ${list.length} inputs, expected 1`);
    }
    return tf.abs(list[0]);
  }

  /**
   * The output shape, equal to the input shape.
   *
   * @param inputShape The input shape.
   * @returns The same shape.
   */
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
}
tf.serialization.registerClass(Abs);

/**
 * Creates an {@linkcode Abs} layer, in the style of tfjs's `tf.layers.*` factories.
 *
 * @example In a model
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { abs } from "./abs_layer.ts";
 * import { deepEqual } from "node:assert/strict";
 * const model = tf.sequential({ layers: [abs({ inputShape: [2] })] });
 * const y = model.predict(tf.tensor2d([[-1, 4]])) as tf.Tensor;
 * deepEqual(Array.from(y.dataSync()), [1, 4]);
 * ```
 *
 * @param config tfjs base layer arguments (`name`, `inputShape`, …).
 * @returns A new layer.
 */
export function abs(config?: AbsLayerArgs): Abs {
  return new Abs(config);
}
