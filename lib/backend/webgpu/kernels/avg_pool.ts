/**
 * WGSL builders for average pooling (padded positions excluded from the mean), global
 * average pooling, and their transposes (gathers).
 *
 * @module
 */
import type { AvgPool2DLayer, GlobalAvgPoolLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";

/** WGSL for the pool geometry plus `count(oy, ox)`: valid positions of a window. */
export function poolGeometry(l: {
  inputShape: readonly number[];
  outputShape: readonly number[];
  poolSize: readonly [number, number];
  strides: readonly [number, number];
  padding: readonly number[];
}): string {
  const [H, W, C] = l.inputShape, [OH, OW] = l.outputShape;
  return `const H = ${H}; const W = ${W}; const C = ${C}u; const OH = ${OH}; const OW = ${OW};
const PH = ${l.poolSize[0]}; const PW = ${l.poolSize[1]}; const SH = ${l.strides[0]};
const SW = ${l.strides[1]}; const PT = ${l.padding[0]}; const PL = ${l.padding[2]};
fn windowCount(oy: i32, ox: i32) -> f32 {
  let y0 = max(oy * SH - PT, 0);
  let y1 = min(oy * SH - PT + PH, H);
  let x0 = max(ox * SW - PL, 0);
  let x1 = min(ox * SW - PL + PW, W);
  return f32((y1 - y0) * (x1 - x0));
}`;
}

const key = (l: AvgPool2DLayer) =>
  `${l.inputShape}/${l.outputShape}/${l.poolSize}/${l.strides}/${l.padding}`;
const io = [{ name: "x", type: "f32" as const }, {
  name: "y",
  type: "f32" as const,
  write: true,
}];

/**
 * Bindings `x`, `y`; `transpose` scatters each output's gradient evenly over its window.
 *
 * @param layer The layer.
 * @param transpose Whether to build the transpose.
 * @returns The shader.
 */
export function avgPoolShader(layer: AvgPool2DLayer, transpose: boolean): ShaderSource {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  if (transpose) {
    return elementwiseShader(`avg-pool-transpose/${key(layer)}`, {
      bindings: io,
      perRow: H * W * C,
      consts: poolGeometry(layer),
      body: `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let iy = i32(p / u32(W));
  let ix = i32(p % u32(W));
  var s = 0.0;
  for (var ky = 0; ky < PH; ky++) {
    let ty = iy + PT - ky;
    if (ty < 0 || ty % SH != 0 || ty / SH >= OH) { continue; }
    for (var kx = 0; kx < PW; kx++) {
      let tx = ix + PL - kx;
      if (tx < 0 || tx % SW != 0 || tx / SW >= OW) { continue; }
      let o = (r * u32(OH) + u32(ty / SH)) * u32(OW) + u32(tx / SW);
      s += x[o * C + c] / windowCount(ty / SH, tx / SW);
    }
  }
  y[i] = s;`,
    });
  }
  return elementwiseShader(`avg-pool/${key(layer)}`, {
    bindings: io,
    perRow: OH * OW * C,
    consts: poolGeometry(layer),
    body: `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let oy = i32(p / u32(OW));
  let ox = i32(p % u32(OW));
  var s = 0.0;
  for (var ky = 0; ky < PH; ky++) {
    let iy = oy * SH + ky - PT;
    if (iy < 0 || iy >= H) { continue; }
    for (var kx = 0; kx < PW; kx++) {
      let ix = ox * SW + kx - PL;
      if (ix < 0 || ix >= W) { continue; }
      s += x[((r * u32(H) + u32(iy)) * u32(W) + u32(ix)) * C + c];
    }
  }
  y[i] = s / windowCount(oy, ox);`,
  });
}

/**
 * Global average pooling `[H, W, C] → [C]` (bindings `x`, `y`), or its transpose.
 *
 * @param layer The layer.
 * @param transpose Whether to build the transpose.
 * @returns The shader.
 */
export function globalAvgPoolShader(layer: GlobalAvgPoolLayer, transpose: boolean): ShaderSource {
  const [H, W, C] = layer.inputShape, P = H * W;
  const consts = `const C = ${C}u; const NP = ${P}u;`;
  if (transpose) {
    return elementwiseShader(`global-avg-pool-transpose/${layer.inputShape}`, {
      bindings: io,
      perRow: P * C,
      consts,
      body: `  let r = i / PER_ROW;
  y[i] = x[r * C + i % C] / f32(NP);`,
    });
  }
  return elementwiseShader(`global-avg-pool/${layer.inputShape}`, {
    bindings: io,
    perRow: C,
    consts,
    body: `  let r = i / C;
  let c = i % C;
  var s = 0.0;
  for (var p = 0u; p < NP; p++) { s += x[(r * NP + p) * C + c]; }
  y[i] = s / f32(NP);`,
  });
}
