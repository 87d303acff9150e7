/**
 * Explicit paddings of convolutions and pools, per tfjs' `valid` / `same` rules: one
 * definition shared by the model converter and the tfjs engine.
 *
 * @module
 */
import { SplineError } from "../util/errors.ts";
import type { Padding2D, Shape } from "./spline_network.ts";

/** Explicit padding of a conv or pool, per tfjs' `valid`/`same` rules. */
export function padFor(
  name: string,
  mode: string,
  input: Shape,
  kernel: [number, number],
  strides: [number, number],
): { padding: Padding2D; out: [number, number] } {
  if (mode === "valid") {
    const out: [number, number] = [
      Math.floor((input[0] - kernel[0]) / strides[0]) + 1,
      Math.floor((input[1] - kernel[1]) / strides[1]) + 1,
    ];
    return { padding: [0, 0, 0, 0], out };
  }
  if (mode === "same") {
    const out: [number, number] = [
      Math.ceil(input[0] / strides[0]),
      Math.ceil(input[1] / strides[1]),
    ];
    const total = [0, 1].map((i) => Math.max((out[i] - 1) * strides[i] + kernel[i] - input[i], 0));
    const t = Math.floor(total[0] / 2), l = Math.floor(total[1] / 2);
    return { padding: [t, total[0] - t, l, total[1] - l], out };
  }
  throw new SplineError(
    `Cannot convert layer '${name}': padding '${mode}' is not supported (valid, same)`,
  );
}
