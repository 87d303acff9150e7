/**
 * Errors raised by masokit.
 *
 * @module
 */

/**
 * An error raised when a network cannot be represented as a composition of
 * max-affine spline operators (MASOs), or when a spline computation is asked
 * for something the network does not have.
 *
 * @example Catching an unsupported layer
 * ```ts
 * import { SplineError } from "./errors.ts";
 * import { throws } from "node:assert/strict";
 * throws(() => {
 *   throw new SplineError("Cannot convert layer 'dense_1': activation 'tanh' is not a max-affine spline");
 * }, SplineError);
 * ```
 */
export class SplineError extends Error {
  /**
   * Creates an error with the given message.
   *
   * @param message What failed, quoting the offending values.
   * @param options `cause`: the error behind it, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SplineError";
  }
}
