/**
 * WGSL builder that overwrites a buffer with NaNs: the test hook that poisons the buffers a
 * recording gives up for reuse, so that a read after the give-up shows in every result.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/**
 * Every 32-bit word of binding `y` set to a quiet NaN; dispatch with `rows` = words.
 *
 * @returns The shader.
 */
export function fillNanShader(): ShaderSource {
  return elementwiseShader("fill-nan", {
    bindings: [{ name: "y", type: "u32", write: true }],
    perRow: 1,
    body: `  y[i] = 0x7fc00000u;`,
  });
}
