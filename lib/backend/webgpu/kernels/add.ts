/**
 * WGSL builder for the sum of two residual paths.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/**
 * `y = a + b` elementwise: bindings `a`, `b`, `y`.
 *
 * @param perRow Values per row.
 * @returns The shader.
 */
export function addShader(perRow: number): ShaderSource {
  return elementwiseShader(`add/${perRow}`, {
    bindings: [{ name: "a", type: "f32" }, { name: "b", type: "f32" }, {
      name: "y",
      type: "f32",
      write: true,
    }],
    perRow,
    body: `  y[i] = a[i] + b[i];`,
  });
}
