/**
 * WGSL builders for a dense layer `y = x·W (+ b)` and its transpose `g·Wᵀ`.
 *
 * @module
 */
import type { DenseLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/**
 * Dense forward: bindings `x`, `w` `[in, units]`, `b`, `y`; one invocation per output.
 *
 * @param layer The layer.
 * @param bias Whether to add the bias.
 * @returns The shader.
 */
export function denseShader(layer: DenseLayer, bias: boolean): ShaderSource {
  const IN = layer.kernel.length / layer.units, OUT = layer.units;
  const useBias = bias && layer.bias !== null;
  return elementwiseShader(`dense/${IN}x${OUT}${useBias ? "/bias" : ""}`, {
    bindings: [{ name: "x", type: "f32" }, { name: "w", type: "f32" }, {
      name: "b",
      type: "f32",
    }, { name: "y", type: "f32", write: true }],
    perRow: OUT,
    consts: `const IN = ${IN}u;`,
    body: `  let r = i / PER_ROW;
  let o = i % PER_ROW;
  var s = ${useBias ? "b[o]" : "0.0"};
  for (var k = 0u; k < IN; k++) { s += x[r * IN + k] * w[k * PER_ROW + o]; }
  y[i] = s;`,
  });
}

/**
 * Dense transpose: bindings `g` `[rows, units]`, `w`, `y` `[rows, in]`.
 *
 * @param layer The layer.
 * @returns The shader.
 */
export function denseTransposeShader(layer: DenseLayer): ShaderSource {
  const IN = layer.kernel.length / layer.units, OUT = layer.units;
  return elementwiseShader(`dense-transpose/${IN}x${OUT}`, {
    bindings: [{ name: "g", type: "f32" }, { name: "w", type: "f32" }, {
      name: "y",
      type: "f32",
      write: true,
    }],
    perRow: IN,
    consts: `const OUT = ${OUT}u;`,
    body: `  let r = i / PER_ROW;
  let k = i % PER_ROW;
  var s = 0.0;
  for (var o = 0u; o < OUT; o++) { s += g[r * OUT + o] * w[k * OUT + o]; }
  y[i] = s;`,
  });
}
