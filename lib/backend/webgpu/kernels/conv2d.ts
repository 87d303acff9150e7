/**
 * The products of a 2D convolution (NHWC, explicit zero padding) and of its transpose
 * (the gradient with respect to the input), for the tiled matrix-product kernel: the
 * activations are read as an implicit im2col matrix (forward: rows = output pixels,
 * depth = `kh·kw·cin`) or col2im matrix (transpose: rows = input pixels, depth =
 * `kh·kw·cout`, taps that no output covers read as zeros), never materialised.
 *
 * @module
 */
import type { Conv2DLayer } from "../../../network/spline_network.ts";
import { type GemmSpec, productBindings } from "./gemm.ts";

function geometry(l: Conv2DLayer): string {
  const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
  return `const H = ${H}; const W = ${W}; const CI = ${CI}u; const OH = ${OH}; const OW = ${OW};
const CO = ${CO}u; const KW = ${l.kernelSize[1]};
const SH = ${l.strides[0]}; const SW = ${l.strides[1]}; const PT = ${l.padding[0]}; const PL = ${
    l.padding[2]
  };`;
}

function geometryKey(l: Conv2DLayer): string {
  return `${l.inputShape}/${l.outputShape}/${l.kernelSize}/${l.strides}/${l.padding}`;
}

/**
 * Conv forward: bindings `x`, `w` the kernel `[kh, kw, cin, cout]` (= `[kh·kw·cin, cout]`),
 * `b`, `y`.
 *
 * @param layer The layer.
 * @param bias Whether to add the bias.
 * @returns The product.
 */
export function conv2dGemm(layer: Conv2DLayer, bias: boolean): GemmSpec {
  const [OH, OW, CO] = layer.outputShape;
  return {
    key: `conv2d/${geometryKey(layer)}`,
    bindings: productBindings("x"),
    mPerRow: OH * OW,
    n: CO,
    k: layer.kernelSize[0] * layer.kernelSize[1] * layer.inputShape[2],
    consts: geometry(layer),
    loadA: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  let ci = k % CI;
  let t = i32(k / CI);
  let iy = i32(p / u32(OW)) * SH + t / KW - PT;
  let ix = i32(p % u32(OW)) * SW + t % KW - PL;
  if (iy < 0 || iy >= H || ix < 0 || ix >= W) { return 0.0; }
  return x[((r * u32(H) + u32(iy)) * u32(W) + u32(ix)) * CI + ci];`,
    // input channels 4 at a time: the row's image and window origin once, one load a quad
    vec4: layer.inputShape[2] % 4 !== 0 ? undefined : {
      rowInfo: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  return vec4<i32>(i32(r * u32(H * W) * (CI / 4u)), i32(p / u32(OW)) * SH - PT,
                   i32(p % u32(OW)) * SW - PL, 0);`,
      load4: `  let t = i32(k / CI);
  let iy = ri.y + t / KW;
  let ix = ri.z + t % KW;
  if (iy < 0 || iy >= H || ix < 0 || ix >= W) { return vec4<f32>(0.0); }
  return x[u32(ri.x + (iy * W + ix) * i32(CI / 4u)) + (k % CI) / 4u];`,
    },
    bias: bias && layer.bias !== null,
  };
}

/**
 * Conv transpose: bindings `g` `[rows, oh, ow, cout]`, `w` the kernel re-laid out as
 * `[kh, kw, cout, cin]` ({@linkcode transposedConvKernel}), `b` (unused), `y`
 * `[rows, h, w, cin]`.
 *
 * @param layer The layer.
 * @returns The product.
 */
export function conv2dTransposeGemm(layer: Conv2DLayer): GemmSpec {
  const [H, W, CI] = layer.inputShape;
  return {
    key: `conv2d-transpose/${geometryKey(layer)}`,
    bindings: productBindings("g"),
    mPerRow: H * W,
    n: CI,
    k: layer.kernelSize[0] * layer.kernelSize[1] * layer.outputShape[2],
    consts: geometry(layer),
    loadA: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  let co = k % CO;
  let t = i32(k / CO);
  let ty = i32(p / u32(W)) + PT - t / KW;
  let tx = i32(p % u32(W)) + PL - t % KW;
  if (ty < 0 || tx < 0 || ty % SH != 0 || tx % SW != 0) { return 0.0; }
  let oy = ty / SH;
  let ox = tx / SW;
  if (oy >= OH || ox >= OW) { return 0.0; }
  return g[((r * u32(OH) + u32(oy)) * u32(OW) + u32(ox)) * CO + co];`,
    // output channels 4 at a time: the row's image and position once, one load a quad
    vec4: layer.outputShape[2] % 4 !== 0 ? undefined : {
      rowInfo: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  return vec4<i32>(i32(r * u32(OH * OW) * (CO / 4u)), i32(p / u32(W)) + PT, i32(p % u32(W)) + PL, 0);`,
      load4: `  let t = i32(k / CO);
  let ty = ri.y - t / KW;
  let tx = ri.z - t % KW;
  if (ty < 0 || tx < 0 || ty % SH != 0 || tx % SW != 0) { return vec4<f32>(0.0); }
  let oy = ty / SH;
  let ox = tx / SW;
  if (oy >= OH || ox >= OW) { return vec4<f32>(0.0); }
  return g[u32(ri.x + (oy * OW + ox) * i32(CO / 4u)) + (k % CO) / 4u];`,
    },
    bias: false,
  };
}

const transposed = new WeakMap<Conv2DLayer, Float64Array>();

/**
 * The kernel `[kh, kw, cin, cout]` re-laid out as `[kh, kw, cout, cin]` (once per layer).
 *
 * @param layer The layer.
 * @returns The re-laid-out kernel.
 */
export function transposedConvKernel(layer: Conv2DLayer): Float64Array {
  let t = transposed.get(layer);
  if (t === undefined) {
    const CI = layer.inputShape[2], CO = layer.outputShape[2];
    const taps = layer.kernelSize[0] * layer.kernelSize[1];
    const k = layer.kernel;
    t = new Float64Array(k.length);
    for (let tap = 0; tap < taps; tap++) {
      for (let ci = 0; ci < CI; ci++) {
        for (let co = 0; co < CO; co++) {
          t[(tap * CO + co) * CI + ci] = k[(tap * CI + ci) * CO + co];
        }
      }
    }
    transposed.set(layer, t);
  }
  return t;
}
