/**
 * WGSL builders for max pooling with argmax codes: the forward pass that emits each
 * output's argmax (row-major window slot, ties to the first, padded positions never
 * win), the masked selection with recorded codes, and its transpose (a gather).
 *
 * @module
 */
import type { MaxPool2DLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";
import { poolGeometry } from "./avg_pool.ts";
import { f, signOfFns } from "./_snippets.ts";

const key = (l: MaxPool2DLayer) =>
  `${l.inputShape}/${l.outputShape}/${l.poolSize}/${l.strides}/${l.padding}`;

const OUT_POS = `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let oy = i32(p / u32(OW));
  let ox = i32(p % u32(OW));`;

/**
 * Forward with codes: bindings `x`, `y`, `codes` (u32 slot per output).
 *
 * @param layer The layer.
 * @returns The shader.
 */
export function maxPoolForwardShader(layer: MaxPool2DLayer): ShaderSource {
  const [OH, OW, C] = layer.outputShape;
  return elementwiseShader(`max-pool-forward/${key(layer)}`, {
    bindings: [{ name: "x", type: "f32" }, { name: "y", type: "f32", write: true }, {
      name: "codes",
      type: "u32",
      write: true,
    }],
    perRow: OH * OW * C,
    consts: poolGeometry(layer),
    body: `${OUT_POS}
  var best = 0.0;
  var at = 0u;
  var found = false;
  for (var ky = 0; ky < PH; ky++) {
    let iy = oy * SH + ky - PT;
    if (iy < 0 || iy >= H) { continue; }
    for (var kx = 0; kx < PW; kx++) {
      let ix = ox * SW + kx - PL;
      if (ix < 0 || ix >= W) { continue; }
      let v = x[((r * u32(H) + u32(iy)) * u32(W) + u32(ix)) * C + c];
      if (!found || v > best) {
        best = v;
        at = u32(ky * PW + kx);
        found = true;
      }
    }
  }
  y[i] = best;
  codes[i] = at;`,
  });
}

/**
 * The sign layer (ReLU, leaky ReLU, abs) just before a max-pool, fused into the pool's
 * masked and transposed selections: its recorded codes, binding `scodes`
 * `[examples, ceil(H·W·C / 32)]`, scale each pre-pool value by 1 (bit set) or `slope`.
 */
export interface FusedSign {
  readonly slope: number;
}

const signConsts = (l: MaxPool2DLayer, sign?: FusedSign) =>
  sign === undefined
    ? ""
    : signOfFns(l.inputShape[0] * l.inputShape[1] * l.inputShape[2], sign.slope);

const signBindings = (sign?: FusedSign) =>
  sign === undefined ? [] : [{ name: "scodes", type: "u32" as const }];

const signKey = (sign?: FusedSign) => sign === undefined ? "" : `/sign${f(sign.slope)}`;

/**
 * Masked selection: bindings `x` `[rows, H, W, C]`, `codes`, (`scodes` with `sign`), `y`
 * `[rows, OH, OW, C]`.
 *
 * @param layer The layer.
 * @param sign The sign layer before it, applied to the selected value.
 * @returns The shader.
 */
export function maxPoolMaskedShader(layer: MaxPool2DLayer, sign?: FusedSign): ShaderSource {
  const [OH, OW, C] = layer.outputShape;
  const [H, W] = layer.inputShape;
  return elementwiseShader(`max-pool-masked/${key(layer)}${signKey(sign)}`, {
    bindings: [
      { name: "x", type: "f32" },
      { name: "codes", type: "u32" },
      ...signBindings(sign),
      { name: "y", type: "f32", write: true },
    ],
    perRow: OH * OW * C,
    consts: poolGeometry(layer) + signConsts(layer, sign),
    body: `${OUT_POS}
  let e = exampleOf(r);
  let slot = i32(codes[e * PER_ROW + i % PER_ROW]);
  let iy = oy * SH + slot / PW - PT;
  let ix = ox * SW + slot % PW - PL;
  let u = (u32(iy) * u32(W) + u32(ix)) * C + c;
  y[i] = x[r * ${H * W}u * C + u]${sign === undefined ? "" : " * signOf(e, u)"};`,
  });
}

/**
 * Transposed selection: bindings `g` `[rows, OH, OW, C]`, `codes`, (`scodes` with `sign`),
 * `y` `[rows, H, W, C]`.
 *
 * @param layer The layer.
 * @param sign The sign layer before it, applied to the result.
 * @returns The shader.
 */
export function maxPoolTransposeShader(layer: MaxPool2DLayer, sign?: FusedSign): ShaderSource {
  const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
  return elementwiseShader(`max-pool-transpose/${key(layer)}${signKey(sign)}`, {
    bindings: [
      { name: "g", type: "f32" },
      { name: "codes", type: "u32" },
      ...signBindings(sign),
      { name: "y", type: "f32", write: true },
    ],
    perRow: H * W * C,
    consts: poolGeometry(layer) + `\nconst OUT = ${OH * OW * C}u;` + signConsts(layer, sign),
    body: `  let r = i / PER_ROW;
  let c = i % C;
  let p = (i % PER_ROW) / C;
  let iy = i32(p / u32(W));
  let ix = i32(p % u32(W));
  let e = exampleOf(r);
  var s = 0.0;
  for (var ky = 0; ky < PH; ky++) {
    let ty = iy + PT - ky;
    if (ty < 0 || ty % SH != 0 || ty / SH >= OH) { continue; }
    for (var kx = 0; kx < PW; kx++) {
      let tx = ix + PL - kx;
      if (tx < 0 || tx % SW != 0 || tx / SW >= OW) { continue; }
      let o = (u32(ty / SH) * u32(OW) + u32(tx / SW)) * C + c;
      if (codes[e * OUT + o] == u32(ky * PW + kx)) { s += g[r * OUT + o]; }
    }
  }
  y[i] = s${sign === undefined ? "" : " * signOf(e, i % PER_ROW)"};`,
  });
}
