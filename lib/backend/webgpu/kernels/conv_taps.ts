/**
 * A conv's transpose by taps, for convs with few input channels (the first layer's, to RGB):
 * one product of the gradient at the conv's output with every tap's filters,
 * `P[r, oy, ox, (dy, dx, i)] = Σ_o g[r, oy, ox, o] · kernel[dy, dx, i, o]` (rows the conv's
 * output pixels, depth its output channels, columns `kh·kw·cin`), then each input pixel's
 * taps summed, `y[r, iy, ix, i] = Σ P[r, oy, ox, (dy, dx, i)]` over the taps with
 * `iy = oy·sh + dy − pt`, `ix = ox·sw + dx − pl` (Caffe's col2im).
 *
 * The same multiply-adds as the col2im product ({@linkcode conv2dTransposeGemm}: rows the
 * input pixels, depth `kh·kw·cout`, `cin` columns), arranged for a narrow transpose: that
 * product gathers every gradient value once per tap for only `cin` columns (to RGB: 3 columns,
 * padded to 4, at a 3 × 3 kernel 9 reads of each value for 3 multiply-adds), where this one
 * reads each once for `kh·kw·cin` columns and writes `kh·kw·cin` values a pixel — no more
 * than the gradient itself where `kh·kw·cin ≤ cout` ({@linkcode convTapsApply}). The gather reads
 * through the sign layer and disjoint max-pool after the conv as the col2im product's does.
 *
 * @module
 */
import type { Conv2DLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";
import type { GemmSpec } from "./gemm.ts";
import {
  geometry,
  geometryKey,
  gradientReads,
  sourceKey,
  transposeBindings,
  type TransposeSource,
} from "./conv2d.ts";

/**
 * Whether a conv's transpose can run by taps within the memory of the gradient it reads: a
 * kernel of more than one tap, and `kh·kw·cin ≤ cout` (the taps' values a pixel no more than
 * the gradient's).
 *
 * @param layer The conv.
 * @returns Whether it qualifies.
 */
export function convTapsApply(layer: Conv2DLayer): boolean {
  const taps = layer.kernelSize[0] * layer.kernelSize[1];
  return taps > 1 && taps * layer.inputShape[2] <= layer.outputShape[2];
}

/**
 * The product of the gradient with the taps' filters: bindings as
 * {@linkcode transposeBindings} (`w` the filters {@linkcode convTapsKernel}), output
 * `[rows, oh, ow, kh·kw·cin]`.
 *
 * @param layer The conv.
 * @param source The layers after it applied in the gather (none by default).
 * @returns The product.
 */
export function convTapsGemm(layer: Conv2DLayer, source: TransposeSource = {}): GemmSpec {
  const [OH, OW, CO] = layer.outputShape;
  const reads = gradientReads(layer, source);
  return {
    key: `conv2d-taps/${geometryKey(layer)}${sourceKey(source)}`,
    bindings: transposeBindings(source),
    mPerRow: OH * OW,
    n: layer.kernelSize[0] * layer.kernelSize[1] * layer.inputShape[2],
    k: CO,
    consts: `${geometry(layer)}
${reads.consts}`,
    fns: reads.one,
    loadA: `  let p = m % M_PER_ROW;
  return gradAt(m / M_PER_ROW, p / u32(OW), p % u32(OW), k);`,
    // output channels 4 at a time: one gather a quad
    vec4: CO % 4 !== 0 ? undefined : {
      fns: reads.four,
      rowInfo: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  return vec4<i32>(i32(r * OUT / 4u), i32(p / u32(OW)), i32(p % u32(OW)), i32(r));`,
      load4: "  return gradAt4(ri, ri.y, ri.z, k);",
    },
    bias: false,
  };
}

const kernels = new WeakMap<Conv2DLayer, Float64Array>();

/**
 * The taps' filters `[cout, kh·kw·cin]`: the kernel `[kh·kw·cin, cout]` transposed (once per
 * layer).
 *
 * @param layer The conv.
 * @returns The filters.
 */
export function convTapsKernel(layer: Conv2DLayer): Float64Array {
  let t = kernels.get(layer);
  if (t === undefined) {
    const k = layer.kernel, CO = layer.outputShape[2], n = k.length / CO;
    t = new Float64Array(k.length);
    for (let j = 0; j < n; j++) {
      for (let o = 0; o < CO; o++) t[o * n + j] = k[j * CO + o];
    }
    kernels.set(layer, t);
  }
  return t;
}

/**
 * The sum of each input pixel's taps: bindings `t` (the product's output) and `y`
 * `[rows, h, w, cin]`; one invocation per output value (`perRow` h·w·cin).
 *
 * @param layer The conv.
 * @returns The shader.
 */
export function convTapsSumShader(layer: Conv2DLayer): ShaderSource {
  const [KH, KW] = layer.kernelSize;
  return elementwiseShader(`conv2d-taps-sum/${geometryKey(layer)}`, {
    bindings: [{ name: "t", type: "f32" }, { name: "y", type: "f32", write: true }],
    perRow: layer.inputShape[0] * layer.inputShape[1] * layer.inputShape[2],
    consts: `${geometry(layer)}
const KH = ${KH};
const NT = ${KH * KW}u * CI;`,
    body: `  let r = i / PER_ROW;
  let ci = i % CI;
  let p = (i % PER_ROW) / CI;
  let ty0 = i32(p / u32(W)) + PT;
  let tx0 = i32(p % u32(W)) + PL;
  var s = 0.0;
  for (var dy = 0; dy < KH; dy++) {
    let ty = ty0 - dy;
    if (ty < 0 || ty % SH != 0 || ty / SH >= OH) { continue; }
    for (var dx = 0; dx < KW; dx++) {
      let tx = tx0 - dx;
      if (tx < 0 || tx % SW != 0 || tx / SW >= OW) { continue; }
      let o = (r * u32(OH) + u32(ty / SH)) * u32(OW) + u32(tx / SW);
      s += t[o * NT + u32(dy * KW + dx) * CI + ci];
    }
  }
  y[i] = s;`,
  });
}
