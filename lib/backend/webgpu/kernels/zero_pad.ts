/**
 * WGSL builders for spatial zero padding and its transpose (a crop).
 *
 * @module
 */
import type { ZeroPad2DLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/**
 * Bindings `x`, `y`: forward pads `[H, W, C] → [OH, OW, C]`; `transpose` crops back.
 *
 * @param layer The layer.
 * @param transpose Whether to build the transpose.
 * @returns The shader.
 */
export function zeroPadShader(layer: ZeroPad2DLayer, transpose: boolean): ShaderSource {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  const PT = layer.padding[0], PL = layer.padding[2];
  const consts =
    `const H = ${H}; const W = ${W}; const C = ${C}u; const OH = ${OH}; const OW = ${OW};
const PT = ${PT}; const PL = ${PL};`;
  const key = `zero-pad${transpose ? "-transpose" : ""}/${layer.inputShape}/${layer.padding}`;
  const bindings = [{ name: "x", type: "f32" as const }, {
    name: "y",
    type: "f32" as const,
    write: true,
  }];
  if (transpose) {
    return elementwiseShader(key, {
      bindings,
      perRow: H * W * C,
      consts,
      body: `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let iy = i32(p / u32(W)) + PT;
  let ix = i32(p % u32(W)) + PL;
  y[i] = x[((r * u32(OH) + u32(iy)) * u32(OW) + u32(ix)) * C + c];`,
    });
  }
  return elementwiseShader(key, {
    bindings,
    perRow: OH * OW * C,
    consts,
    body: `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let iy = i32(p / u32(OW)) - PT;
  let ix = i32(p % u32(OW)) - PL;
  var v = 0.0;
  if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
    v = x[((r * u32(H) + u32(iy)) * u32(W) + u32(ix)) * C + c];
  }
  y[i] = v;`,
  });
}
