/**
 * WGSL builder for a per-channel affine map `y = x·scale (+ shift)` (folded batch-norm);
 * its transpose is the same map without shift.
 *
 * @module
 */
import type { ChannelAffineLayer } from "../../../network/spline_network.ts";
import { shapeSize } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/**
 * Bindings `x`, `scale`, `shift`, `y`.
 *
 * @param layer The layer.
 * @param bias Whether to add the shift (false for the linear part and the transpose).
 * @returns The shader.
 */
export function channelAffineShader(layer: ChannelAffineLayer, bias: boolean): ShaderSource {
  const C = layer.scale.length;
  return elementwiseShader(
    `channel-affine/${shapeSize(layer.inputShape)}/${C}${bias ? "/bias" : ""}`,
    {
      bindings: [{ name: "x", type: "f32" }, { name: "scale", type: "f32" }, {
        name: "shift",
        type: "f32",
      }, { name: "y", type: "f32", write: true }],
      perRow: shapeSize(layer.inputShape),
      consts: `const C = ${C}u;`,
      body: `  let c = i % C;
  y[i] = x[i] * scale[c]${bias ? " + shift[c]" : ""};`,
    },
  );
}
