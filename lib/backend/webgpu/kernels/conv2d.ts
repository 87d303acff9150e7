/**
 * The products of a 2D convolution (NHWC, explicit zero padding) and of its transpose
 * (the gradient with respect to the input), for the tiled matrix-product kernel: the
 * activations are read as an implicit im2col matrix (forward: rows = output pixels,
 * depth = `kh·kw·cin`) or col2im matrix (transpose: rows = input pixels, depth =
 * `kh·kw·cout`, taps that no output covers read as zeros), never materialised.
 *
 * @module
 */
import type { Conv2DLayer, MaxPool2DLayer } from "../../../network/spline_network.ts";
import { isDisjointPool } from "../../../network/disjoint_pool.ts";
import { type GemmSpec, productBindings } from "./gemm.ts";
import type { Binding } from "./_elementwise.ts";
import type { FusedSign } from "./max_pool.ts";
import { f, signOfFns } from "./_snippets.ts";

/** WGSL constants of a conv's geometry (shared with kernels/conv_taps.ts). */
export function geometry(l: Conv2DLayer): string {
  const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
  return `const H = ${H}; const W = ${W}; const CI = ${CI}u; const OH = ${OH}; const OW = ${OW};
const CO = ${CO}u; const KW = ${l.kernelSize[1]};
const SH = ${l.strides[0]}; const SW = ${l.strides[1]}; const PT = ${l.padding[0]}; const PL = ${
    l.padding[2]
  };`;
}

/** A conv's geometry as a shader key part. */
export function geometryKey(l: Conv2DLayer): string {
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
 * What a conv's transpose reads as the gradient at the conv's output, when layers after
 * the conv are applied in its gather instead of in passes of their own: the sign layer
 * right after it (binding `scodes`, its packed codes) and/or a disjoint max-pool after that
 * (binding `codes`, its argmax slots; `g` is then the pooled gradient). Never is the
 * gradient at the conv's output written out.
 */
export interface TransposeSource {
  /** A disjoint max-pool after the conv (and its sign layer): {@linkcode isDisjointPool}. */
  readonly pool?: MaxPool2DLayer;
  /** The sign layer right after the conv: inactive units are scaled by `slope`. */
  readonly sign?: FusedSign;
}

/**
 * WGSL reads of row `r`'s gradient at the conv's output position `(oy, ox)` (in range),
 * channel `co`: `consts`, then `one` declaring `gradAt(r, oy, ox, co)` and `four` declaring
 * `gradAt4(ri, oy, ox, co)` (channels `co … co + 3`, `ri` from `rowInfo`).
 */
export function gradientReads(
  l: Conv2DLayer,
  src: TransposeSource,
): { consts: string; one: string; four: string } {
  const [OH, OW, CO] = l.outputShape;
  const { pool, sign } = src;
  const signed = (e: string, u: string) => sign === undefined ? "" : ` * signOf(${e}, ${u})`;
  const signed4 = (e: string, u: string) => sign === undefined ? "" : ` * signOf4(${e}, ${u})`;
  const consts = `const OUT = ${OH * OW * CO}u;${
    sign === undefined ? "" : signOfFns(OH * OW * CO, sign.slope)
  }`;
  if (pool === undefined) {
    return {
      consts,
      one: `fn gradAt(r: u32, oy: u32, ox: u32, co: u32) -> f32 {
  let u = (oy * u32(OW) + ox) * CO + co;
  return g[r * OUT + u]${signed("exampleOf(r)", "u")};
}`,
      four: `fn gradAt4(ri: vec4<i32>, oy: i32, ox: i32, co: u32) -> vec4<f32> {
  let u = u32(oy * OW + ox) * CO + co;
  return g[u32(ri.x) + u / 4u]${signed4("exampleOf(u32(ri.w))", "u")};
}`,
    };
  }
  const [QOH, QOW] = pool.outputShape, [QPH, QPW] = pool.poolSize;
  // the window of (oy, ox), its slot in it, and the pooled unit (channel co)
  const at = `  let wy = oy / ${QPH}u;
  let wx = ox / ${QPW}u;
  if (wy >= ${QOH}u || wx >= ${QOW}u) { return ZERO; }
  let e = exampleOf(r);
  let slot = (oy % ${QPH}u) * ${QPW}u + ox % ${QPW}u;
  let o = (wy * ${QOW}u + wx) * CO + co;`;
  return {
    consts: `${consts}
const QOUT = ${QOH * QOW * CO}u;`,
    one: `fn gradAt(r: u32, oy: u32, ox: u32, co: u32) -> f32 {
${at.replace("ZERO", "0.0")}
  if (codes[e * QOUT + o] != slot) { return 0.0; }
  return g[r * QOUT + o]${signed("e", "(oy * u32(OW) + ox) * CO + co")};
}`,
    four: `fn gradAt4(ri: vec4<i32>, py: i32, px: i32, co: u32) -> vec4<f32> {
  let r = u32(ri.w);
  let oy = u32(py);
  let ox = u32(px);
${at.replace("ZERO", "vec4<f32>(0.0)")}
  let hit = codes[(e * QOUT + o) / 4u] == vec4<u32>(slot);
  return select(vec4<f32>(0.0), g[(r * QOUT + o) / 4u], hit)${
      signed4("e", "(oy * u32(OW) + ox) * CO + co")
    };
}`,
  };
}

/**
 * The bindings of a product reading a conv's output gradient through `source`: the gradient
 * `g`, the pool's argmax slots `codes` and the sign layer's `scodes` where present, then the
 * weights `w`, the bias `b` and the output `y`.
 *
 * @param source The layers after the conv applied in the gather.
 * @returns The bindings, in order.
 */
export function transposeBindings(source: TransposeSource): readonly Binding[] {
  const [g, ...rest] = productBindings("g");
  return [
    g,
    ...(source.pool === undefined ? [] : [{ name: "codes", type: "u32" as const, wide: true }]),
    ...(source.sign === undefined ? [] : [{ name: "scodes", type: "u32" as const }]),
    ...rest,
  ];
}

/** A transpose source as a shader key part. */
export function sourceKey(src: TransposeSource): string {
  const pool = src.pool === undefined ? "" : `/unpool${src.pool.poolSize}`;
  return pool + (src.sign === undefined ? "" : `/sign${f(src.sign.slope)}`);
}

/**
 * Conv transpose: bindings `g` `[rows, oh, ow, cout]` (with `source.pool`, the pooled
 * gradient `[rows, poh, pow, cout]` and then its argmax slots `codes`), with `source.sign`
 * `scodes`, then `w` the kernel re-laid out as `[kh, kw, cout, cin]`
 * ({@linkcode transposedConvKernel}), `b` (unused), `y` `[rows, h, w, cin]`. Codes are
 * per example: row `r` reads those of example `exampleOf(r)`.
 *
 * @param layer The layer.
 * @param source The layers after it applied in the gather (none by default).
 * @returns The product.
 */
export function conv2dTransposeGemm(layer: Conv2DLayer, source: TransposeSource = {}): GemmSpec {
  if (source.pool !== undefined && !isDisjointPool(source.pool)) {
    throw new RangeError(
      `Cannot gather through max-pool ${source.pool.name}: its windows overlap or are padded`,
    );
  }
  const [H, W, CI] = layer.inputShape;
  const reads = gradientReads(layer, source);
  return {
    key: `conv2d-transpose/${geometryKey(layer)}${sourceKey(source)}`,
    bindings: transposeBindings(source),
    mPerRow: H * W,
    n: CI,
    k: layer.kernelSize[0] * layer.kernelSize[1] * layer.outputShape[2],
    consts: `${geometry(layer)}
${reads.consts}`,
    fns: reads.one,
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
  return gradAt(r, u32(oy), u32(ox), co);`,
    // output channels 4 at a time: the row's offset, position and index once, one gather a
    // quad
    vec4: layer.outputShape[2] % 4 !== 0 ? undefined : {
      fns: reads.four,
      rowInfo: `  let r = m / M_PER_ROW;
  let p = m % M_PER_ROW;
  return vec4<i32>(i32(r * OUT / 4u), i32(p / u32(W)) + PT, i32(p % u32(W)) + PL, i32(r));`,
      load4: `  let t = i32(k / CO);
  let ty = ri.y - t / KW;
  let tx = ri.z - t % KW;
  if (ty < 0 || tx < 0 || ty % SH != 0 || tx % SW != 0) { return vec4<f32>(0.0); }
  let oy = ty / SH;
  let ox = tx / SW;
  if (oy >= OH || ox >= OW) { return vec4<f32>(0.0); }
  return gradAt4(ri, oy, ox, k % CO);`,
    },
    bias: false,
  };
}

/**
 * A stride-1 conv, or the transpose of one, as a correlation with a `kh × kw` kernel (the
 * form kernels/winograd.ts computes): output `[rows, outH, outW, outC]`,
 * `out[r, oy, ox, o] = Σ in(r, oy + dy − padY, ox + dx − padX, i) · kernel[dy, dx, i, o]`,
 * where WGSL `readIn4(r, iy, ix, i)` reads input channels `i … i + 3` (`i % 4 == 0`) of row
 * `r` at `(iy, ix)`, zeros outside the input. The transpose reads the conv's output
 * gradient (through the layers of `source`, as {@linkcode conv2dTransposeGemm} does) with
 * the kernel flipped and its channels swapped.
 */
export interface ConvCorrelation {
  /** Shader key part: the geometry, the direction and the source. */
  readonly key: string;
  /** Bindings `readIn4` reads: the input (`x`, or the gradient `g`), then any codes. */
  readonly inputs: readonly Binding[];
  /** WGSL module-scope declarations, `readIn4` among them. */
  readonly consts: string;
  readonly inC: number;
  readonly outC: number;
  readonly outH: number;
  readonly outW: number;
  readonly padY: number;
  readonly padX: number;
  /** The kernel `[kh, kw, inC, outC]` (computed on demand). */
  readonly kernel: () => Float64Array;
}

/**
 * A stride-1 conv (`transposed` false) or its transpose as a correlation. Input channels
 * must be a multiple of 4 (the reads are four-wide).
 *
 * @param layer The conv (stride 1).
 * @param transposed Whether to describe the transpose.
 * @param source The transpose's gather through the layers after the conv.
 * @returns The correlation.
 */
export function convCorrelation(
  layer: Conv2DLayer,
  transposed: boolean,
  source: TransposeSource = {},
): ConvCorrelation {
  const [H, W, CI] = layer.inputShape, [OH, OW, CO] = layer.outputShape;
  const [KH, KW] = layer.kernelSize;
  if (layer.strides[0] !== 1 || layer.strides[1] !== 1 || (transposed ? CO : CI) % 4 !== 0) {
    throw new RangeError(
      `Cannot read conv ${layer.name} as a correlation: strides ${layer.strides} (expected 1), ${
        transposed ? CO : CI
      } input channels (expected a multiple of 4)`,
    );
  }
  if (!transposed) {
    return {
      key: `conv2d/${geometryKey(layer)}`,
      inputs: [{ name: "x", type: "f32", wide: true }],
      consts: `${geometry(layer)}
fn readIn4(r: u32, iy: i32, ix: i32, i: u32) -> vec4<f32> {
  if (iy < 0 || iy >= H || ix < 0 || ix >= W) { return vec4<f32>(0.0); }
  return x[(r * u32(H * W) + u32(iy * W + ix)) * (CI / 4u) + i / 4u];
}`,
      inC: CI,
      outC: CO,
      outH: OH,
      outW: OW,
      padY: layer.padding[0],
      padX: layer.padding[2],
      kernel: () => layer.kernel,
    };
  }
  const spec = conv2dTransposeGemm(layer, source);
  const reads = gradientReads(layer, source);
  return {
    key: spec.key,
    inputs: spec.bindings.slice(0, -3),
    consts: `${spec.consts}
${reads.four}
fn readIn4(r: u32, iy: i32, ix: i32, i: u32) -> vec4<f32> {
  if (iy < 0 || iy >= OH || ix < 0 || ix >= OW) { return vec4<f32>(0.0); }
  return gradAt4(vec4<i32>(i32(r * (OUT / 4u)), 0, 0, i32(r)), iy, ix, i);
}`,
    inC: CO,
    outC: CI,
    outH: H,
    outW: W,
    padY: KH - 1 - layer.padding[0],
    padX: KW - 1 - layer.padding[2],
    kernel: () => {
      // flipped: tap (dy, dx) of the transpose is tap (kh − 1 − dy, kw − 1 − dx) of the conv
      const t = transposedConvKernel(layer), k = new Float64Array(t.length), per = CI * CO;
      for (let tap = 0; tap < KH * KW; tap++) {
        k.set(t.subarray((KH * KW - 1 - tap) * per, (KH * KW - tap) * per), tap * per);
      }
      return k;
    },
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
