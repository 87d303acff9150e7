/**
 * WGSL builders for a 2D convolution (NHWC, explicit zero padding) and its transpose,
 * both as gathers (no atomics): one invocation per output value.
 *
 * @module
 */
import type { Conv2DLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

function geometry(l: Conv2DLayer): string {
  const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
  return `const H = ${H}; const W = ${W}; const CI = ${CI}u; const OH = ${OH}; const OW = ${OW};
const CO = ${CO}u; const KH = ${l.kernelSize[0]}; const KW = ${l.kernelSize[1]};
const SH = ${l.strides[0]}; const SW = ${l.strides[1]}; const PT = ${l.padding[0]}; const PL = ${
    l.padding[2]
  };`;
}

function geometryKey(l: Conv2DLayer): string {
  return `${l.inputShape}/${l.outputShape}/${l.kernelSize}/${l.strides}/${l.padding}`;
}

/**
 * Conv forward: bindings `x`, `k` `[kh, kw, cin, cout]`, `b`, `y`.
 *
 * @param layer The layer.
 * @param bias Whether to add the bias.
 * @returns The shader.
 */
export function conv2dShader(layer: Conv2DLayer, bias: boolean): ShaderSource {
  const useBias = bias && layer.bias !== null;
  const [OH, OW, CO] = layer.outputShape;
  return elementwiseShader(`conv2d/${geometryKey(layer)}${useBias ? "/bias" : ""}`, {
    bindings: [{ name: "x", type: "f32" }, { name: "k", type: "f32" }, {
      name: "b",
      type: "f32",
    }, { name: "y", type: "f32", write: true }],
    perRow: OH * OW * CO,
    consts: geometry(layer),
    body: `  let r = i / PER_ROW;
  let co = i % CO;
  let p = (i % PER_ROW) / CO;
  let oy = i32(p / u32(OW));
  let ox = i32(p % u32(OW));
  var s = ${useBias ? "b[co]" : "0.0"};
  for (var ky = 0; ky < KH; ky++) {
    let iy = oy * SH + ky - PT;
    if (iy < 0 || iy >= H) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let ix = ox * SW + kx - PL;
      if (ix < 0 || ix >= W) { continue; }
      let xo = ((r * u32(H) + u32(iy)) * u32(W) + u32(ix)) * CI;
      let ko = u32(ky * KW + kx) * CI * CO + co;
      for (var ci = 0u; ci < CI; ci++) { s += x[xo + ci] * k[ko + ci * CO]; }
    }
  }
  y[i] = s;`,
  });
}

/**
 * Conv transpose (gradient with respect to the input): bindings `g`, `k`, `y`.
 *
 * @param layer The layer.
 * @returns The shader.
 */
export function conv2dTransposeShader(layer: Conv2DLayer): ShaderSource {
  const [H, W, CI] = layer.inputShape;
  return elementwiseShader(`conv2d-transpose/${geometryKey(layer)}`, {
    bindings: [{ name: "g", type: "f32" }, { name: "k", type: "f32" }, {
      name: "y",
      type: "f32",
      write: true,
    }],
    perRow: H * W * CI,
    consts: geometry(layer),
    body: `  let r = i / PER_ROW;
  let ci = i % CI;
  let p = (i % PER_ROW) / CI;
  let iy = i32(p / u32(W));
  let ix = i32(p % u32(W));
  var s = 0.0;
  for (var ky = 0; ky < KH; ky++) {
    let ty = iy + PT - ky;
    if (ty < 0 || ty % SH != 0 || ty / SH >= OH) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let tx = ix + PL - kx;
      if (tx < 0 || tx % SW != 0 || tx / SW >= OW) { continue; }
      let go = ((r * u32(OH) + u32(ty / SH)) * u32(OW) + u32(tx / SW)) * CO;
      let ko = (u32(ky * KW + kx) * CI + ci) * CO;
      for (var co = 0u; co < CO; co++) { s += g[go + co] * k[ko + co]; }
    }
  }
  y[i] = s;`,
  });
}
