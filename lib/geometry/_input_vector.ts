/**
 * Checking a vector of input space (a point or a direction) given by the user.
 *
 * @module
 */
import type { SplineNetwork } from "../network/spline_network.ts";

/**
 * The vector as float64, checked: `net.inputSize` finite numbers.
 *
 * @param net The network.
 * @param v The vector.
 * @param name Its name, for messages.
 * @param what What failed, for messages.
 * @returns A float64 copy.
 */
export function inputVector(
  net: SplineNetwork,
  v: unknown,
  name: string,
  what: string,
): Float64Array {
  const D = net.inputSize;
  if (v === null || typeof v !== "object" || typeof (v as ArrayLike<number>).length !== "number") {
    throw new TypeError(
      `${what}: ${name} is ${v === null ? "null" : typeof v}, expected ${D} numbers`,
    );
  }
  const a = Float64Array.from(v as ArrayLike<number>);
  if (a.length !== D) {
    throw new RangeError(
      `${what}: ${name} has ${a.length} values, expected ${D} (the network's input size, shape [${net.inputShape}])`,
    );
  }
  const bad = a.findIndex((t) => !Number.isFinite(t));
  if (bad >= 0) {
    throw new RangeError(`${what}: ${name}[${bad}] is ${a[bad]}, expected a finite number`);
  }
  return a;
}
