/**
 * The spline engine on tfjs ops (float32): runs on whatever tfjs backend is active —
 * `wasm` (XNNPACK) on CPU, `webgpu`/`webgl` on a GPU. Same passes as the float64 CPU
 * reference (lib/backend/cpu/run.ts), which is its oracle in the tests.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type {
  AffineLayer,
  AvgPool2DLayer,
  Conv2DLayer,
  MaxPool2DLayer,
  NonlinearLayer,
  Padding2D,
  Shape,
  SplineLayer,
  SplineNetwork,
} from "../../network/spline_network.ts";
import { foldedLayers } from "../../network/folded_layers.ts";
import { padFor } from "../../network/_padding.ts";
import { shapeSize } from "../../network/spline_network.ts";
import { inactiveSlope } from "../cpu/activation.ts";
import { poolWindows, slotPosition } from "../cpu/_windows.ts";
import {
  MASKED_MAX_POOL,
  MASKED_MAX_POOL_TRANSPOSE,
  maskedMaxPoolReady,
  wasmWindowSlots,
} from "./_wasm_masked_max_pool.ts";
import { SIGN_MASK, signMaskReady } from "./_wasm_sign_mask.ts";
import { isDisjointPool } from "../../network/disjoint_pool.ts";
import { SIGN_BITS, signBitsReady } from "./_wasm_sign_bits.ts";
import { CONV_FEW_OUTPUTS, convFewOutputsReady } from "./_wasm_conv_few_outputs.ts";
import { CONV_GEMM, convGemmReady, type ConvGemmShape } from "./_wasm_conv_gemm.ts";
import {
  wasmWinograd,
  WINOGRAD_CONV,
  winogradConvReady,
  winogradFilterValues,
  winogradTileFor,
  withoutWinograd,
} from "./_wasm_winograd.ts";
import type { WinogradTile } from "../winograd_math.ts";
import {
  CONV_POOL_GATHER,
  convPoolReady,
  POOL_CONV_TILES,
  POOL_CONV_TRANSPOSE,
  poolConvTiles,
  scatterPays,
  tilesFit,
  wasmConvPool,
} from "./_wasm_conv_pool.ts";

/**
 * What a forward pass records per nonlinear layer: for sign layers the 0/1 activity and the
 * slope tensors, or, for a ReLU on tfjs-wasm, its output `positive` (active where `> 0`;
 * the {@linkcode SIGN_MASK} kernel masks with it); for max-pools their input.
 */
export type TensorCodes = Map<
  NonlinearLayer,
  { active: tf.Tensor; slope: tf.Tensor } | { positive: tf.Tensor } | {
    input: tf.Tensor4D;
    indices?: tf.Tensor;
    mask?: tf.Tensor;
  }
>;

type Pad = "valid" | "same";

/** The tfjs padding mode equal to an explicit padding, or `null` when there is none. */
function padMode(
  name: string,
  p: Padding2D,
  input: Shape,
  output: Shape,
  k: readonly [number, number],
  s: readonly [number, number],
): Pad | null {
  if (p.every((v) => v === 0)) return "valid";
  const same = padFor(name, "same", input, [k[0], k[1]], [s[0], s[1]]);
  if (
    same.out[0] === output[0] && same.out[1] === output[1] &&
    same.padding.every((v, i) => v === p[i])
  ) {
    return "same";
  }
  return null;
}

/**
 * A pool's windows on tfjs ops: tfjs' own `valid` / `same` where the layer's padding is one of
 * them, else the explicitly padded input's `valid` windows — padded with −∞ for a max (padding
 * never wins), with zeros for a mean, rescaled to each window's count of input positions (padded
 * positions are excluded from the mean).
 */
function poolApply(l: MaxPool2DLayer | AvgPool2DLayer, x: tf.Tensor): tf.Tensor {
  const size = l.poolSize as [number, number], strides = l.strides as [number, number];
  const mode = padMode(l.name, l.padding, l.inputShape, l.outputShape, l.poolSize, l.strides);
  const pool = l.kind === "max-pool" ? tf.maxPool : tf.avgPool;
  if (mode !== null) return pool(x as tf.Tensor4D, size, strides, mode);
  const [t, b, left, right] = l.padding;
  const pads: [number, number][] = [[0, 0], [t, b], [left, right], [0, 0]];
  if (l.kind === "max-pool") {
    return tf.maxPool(tf.pad(x, pads, -Infinity) as tf.Tensor4D, size, strides, "valid");
  }
  const { start } = poolWindows(l);
  const [OH, OW] = l.outputShape;
  const rescale = Float32Array.from(
    { length: OH * OW },
    (_, o) => (size[0] * size[1]) / (start[o + 1] - start[o]),
  );
  const means = tf.avgPool(tf.pad(x, pads) as tf.Tensor4D, size, strides, "valid");
  return tf.mul(means, tf.tensor(rescale, [1, OH, OW, 1]));
}

function batchShape(rows: number, shape: Shape): number[] {
  return [rows, ...shape];
}

/** Tensors made from a layer's float64 parameters, kept per parameter array. */
const constants = new WeakMap<Float64Array, Map<string, tf.Tensor>>();
const release = new FinalizationRegistry<Map<string, tf.Tensor>>((m) => {
  for (const t of m.values()) t.dispose();
});

/**
 * A float32 tensor of a parameter array, made once per array, shape and derivation (`make`,
 * named by `tag`) and kept until the array is garbage-collected (tfjs' engine does not track
 * it: it survives tidy).
 */
function constant(
  values: Float64Array,
  shape: number[],
  make?: (t: tf.Tensor) => tf.Tensor,
  tag = "derived",
): tf.Tensor {
  let m = constants.get(values);
  if (!m) {
    m = new Map();
    constants.set(values, m);
    release.register(values, m);
  }
  const key = `${shape}|${make ? tag : ""}`;
  let t = m.get(key);
  if (!t) {
    t = tf.tidy(() => {
      const raw = tf.tensor(Float32Array.from(values), shape);
      return make ? make(raw) : raw;
    });
    tf.keep(t);
    m.set(key, t);
  }
  return t;
}

function kernel4(l: Conv2DLayer): tf.Tensor4D {
  const [kh, kw] = l.kernelSize;
  return constant(l.kernel, [kh, kw, l.inputShape[2], l.outputShape[2]]) as tf.Tensor4D;
}

/**
 * An affine layer applied to `x` (with its bias when `bias`); a dense or conv layer followed by
 * a ReLU can take it as `relu` (one fused op: bias and ReLU inside the product). A conv runs by
 * Winograd on tfjs-wasm where `winograd` and the rules allow: not in a pass that records codes
 * (unless they feed only ⟨A_c, x⟩: `forwardPassTf`'s `tiesFree`), because Winograd's rounding
 * differs from one position of a tile to the next, so inputs that tie exactly (an image's
 * constant background, seen through a max-pool) would no longer tie, and the first-index
 * convention for ties would not hold.
 */
function affineApply(
  l: AffineLayer,
  x: tf.Tensor,
  rows: number,
  bias: boolean,
  relu = false,
  winograd = false,
): tf.Tensor {
  switch (l.kind) {
    case "dense": {
      const inner = l.inputShape[l.inputShape.length - 1];
      const k = constant(l.kernel, [inner, l.units]);
      const b = bias && l.bias ? constant(l.bias, [l.bias.length]) : undefined;
      const y = b === undefined && !relu ? tf.matMul(x.reshape([-1, inner]), k) : tf.fused.matMul({
        a: x.reshape([-1, inner]) as tf.Tensor2D,
        b: k as tf.Tensor2D,
        bias: b,
        activation: relu ? "relu" : "linear",
      });
      return y.reshape(batchShape(rows, l.outputShape));
    }
    case "conv2d": {
      const b = bias && l.bias ? constant(l.bias, [l.bias.length]) : undefined;
      const pad: [[0, 0], [number, number], [number, number], [0, 0]] = [
        [0, 0],
        [l.padding[0], l.padding[1]],
        [l.padding[2], l.padding[3]],
        [0, 0],
      ];
      const strides = l.strides as [number, number];
      const m = winograd ? winogradTile(l, false) : false;
      if (m !== false) return winogradConv(l, m, x, false, l.padding, b, relu);
      const [kh, kw] = l.kernelSize;
      const shape: ConvGemmShape = {
        h: l.inputShape[0],
        w: l.inputShape[1],
        cin: l.inputShape[2],
        cout: l.outputShape[2],
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        pt: l.padding[0],
        pl: l.padding[2],
        oh: l.outputShape[0],
        ow: l.outputShape[1],
      };
      if (convGemmReady(shape)) {
        // a direct conv: equal receptive fields give equal outputs (exact ties)
        const inputs: Record<string, tf.Tensor> = { x, filter: kernel4(l) };
        if (b !== undefined) inputs.bias = b;
        return tf.engine().runKernel(CONV_GEMM, inputs, {
          strides: [...strides],
          pad: [...l.padding],
          relu,
        }) as tf.Tensor;
      }
      const conv = () =>
        b === undefined && !relu
          ? tf.conv2d(x as tf.Tensor4D, kernel4(l), strides, pad)
          : tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: kernel4(l),
            strides,
            pad,
            bias: b,
            activation: relu ? "relu" : "linear",
          });
      // nor the training kernels' (registerWasmTrainingKernels) in a pass that records codes
      return winograd ? conv() : withoutWinograd(conv);
    }
    case "channel-affine": {
      const y = tf.mul(x, constant(l.scale, [l.scale.length]));
      return bias ? tf.add(y, constant(l.shift, [l.shift.length])) : y;
    }
    case "zero-pad":
      return tf.pad(x, [[0, 0], [l.padding[0], l.padding[1]], [l.padding[2], l.padding[3]], [
        0,
        0,
      ]]);
    case "avg-pool":
      return poolApply(l, x);
    case "global-avg-pool":
      return tf.mean(x, [1, 2]);
    case "flatten":
      return x.reshape(batchShape(rows, l.outputShape));
  }
}

/** Inserts `s − 1` zeros between rows/columns: `[m, OH, OW, C] → [m, (OH−1)·sh+1, (OW−1)·sw+1, C]`. */
function dilate(g: tf.Tensor, sh: number, sw: number): tf.Tensor {
  if (sh === 1 && sw === 1) return g;
  const [m, OH, OW, C] = g.shape;
  const d = tf.pad(g.reshape([m, OH, 1, OW, 1, C]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [
    0,
    sw - 1,
  ], [0, 0]]).reshape([m, OH * sh, OW * sw, C]);
  return tf.slice(d, [0, 0, 0, 0], [m, (OH - 1) * sh + 1, (OW - 1) * sw + 1, C]);
}

/**
 * The rows/columns to add after `g`'s spatial axes (negative: to remove) so that a
 * stride-1 window of size `k` placed with `before` rows/cols of padding yields exactly
 * `size` outputs.
 */
function framePadding(
  g: tf.Tensor,
  before: [number, number],
  k: readonly [number, number],
  size: [number, number],
): [number, number] {
  const [, h, w] = g.shape;
  return [size[0] - h! - before[0] + k[0] - 1, size[1] - w! - before[1] + k[1] - 1];
}

/**
 * Pads (or crops, where negative) the spatial axes so that a stride-1 window of size
 * `k` placed with `before` rows/cols of padding yields exactly `size` outputs.
 */
function frame(
  g: tf.Tensor,
  before: [number, number],
  k: readonly [number, number],
  size: [number, number],
): tf.Tensor {
  const [m, , , c] = g.shape;
  const after = framePadding(g, before, k, size);
  const padded = tf.pad(g, [[0, 0], [Math.max(0, before[0]), Math.max(0, after[0])], [
    Math.max(0, before[1]),
    Math.max(0, after[1]),
  ], [0, 0]]);
  const top = Math.max(0, -before[0]), left = Math.max(0, -before[1]);
  if (top === 0 && left === 0 && after[0] >= 0 && after[1] >= 0) return padded;
  return tf.slice(padded, [0, top, left, 0], [
    m,
    padded.shape[1]! - top - Math.max(0, -after[0]),
    padded.shape[2]! - left - Math.max(0, -after[1]),
    c,
  ]);
}

/** The input and output channels of a conv's correlation (`transposed`: of its transpose's). */
function correlationChannels(l: Conv2DLayer, transposed: boolean): [number, number] {
  return transposed ? [l.outputShape[2], l.inputShape[2]] : [l.inputShape[2], l.outputShape[2]];
}

/**
 * The Winograd tile to run a conv (or, `transposed`, the stride-1 correlation of its transpose)
 * by on tfjs-wasm ({@linkcode winogradConvReady}, {@linkcode winogradTileFor}), or false.
 */
function winogradTile(l: Conv2DLayer, transposed: boolean): WinogradTile | false {
  const [cin, cout] = correlationChannels(l, transposed);
  const [oh, ow] = transposed ? l.inputShape : l.outputShape;
  const m = winogradTileFor(oh, ow);
  return m !== false &&
      winogradConvReady(l.kernelSize, transposed ? [1, 1] : l.strides, cin, cout)
    ? m
    : false;
}

/**
 * Whether a pooled conv's transpose scatters ({@linkcode POOL_CONV_TRANSPOSE}, where the kernel
 * applies) rather than running as the masked pool's transpose and a Winograd transpose: where
 * Winograd does not take the transpose, or where {@linkcode scatterPays} (unless
 * `wasmConvPool.scatterRule` is off).
 *
 * @param conv The conv before the pool (and its ReLU).
 * @returns Whether to scatter.
 */
export function scatters(conv: Conv2DLayer): boolean {
  return winogradTile(conv, true) === false || !wasmConvPool.scatterRule ||
    scatterPays(conv.inputShape);
}

/** The transformed filters of a layer's kernel, per direction and tile (float64, made once). */
const winogradValues = new WeakMap<Float64Array, Map<string, Float64Array[]>>();

/**
 * A conv (or, `transposed`, its transpose's stride-1 correlation of the dilated gradient `x`)
 * by masokit's Winograd kernel with tile `m`, with padding `pad` (top, bottom, left, right), the bias and a
 * fused ReLU where given.
 */
function winogradConv(
  l: Conv2DLayer,
  m: WinogradTile,
  x: tf.Tensor,
  transposed: boolean,
  pad: readonly number[],
  bias?: tf.Tensor,
  relu = false,
): tf.Tensor {
  const [cin, cout] = correlationChannels(l, transposed);
  let byKind = winogradValues.get(l.kernel);
  if (byKind === undefined) winogradValues.set(l.kernel, byKind = new Map());
  const key = `${transposed}/${m}`;
  let u = byKind.get(key);
  if (u === undefined) {
    u = winogradFilterValues(l.kernel, l.inputShape[2], l.outputShape[2], transposed, m);
    byKind.set(key, u);
  }
  const inputs: Record<string, tf.Tensor> = { x };
  u.forEach((values, xi) => inputs[`u${xi}`] = constant(values, [1, 1, cin, cout]));
  if (bias !== undefined) inputs.bias = bias;
  return tf.engine().runKernel(WINOGRAD_CONV, inputs, {
    tile: m,
    relu,
    pad: [...pad],
  }) as tf.Tensor;
}

/**
 * The transpose of a conv as a stride-1 conv of the dilated gradient with the flipped
 * kernel, `K'[i, j, co, ci] = K[kh−1−i, kw−1−j, ci, co]` (fast on XNNPACK, unlike
 * tfjs-wasm's Conv2DBackpropInput); to ≤ 4 channels (a first layer's input) on tfjs-wasm,
 * masokit's `MasokitConvFewOutputs`, which takes the flipped kernel in its own layout.
 */
function convTranspose(l: Conv2DLayer, g: tf.Tensor): tf.Tensor {
  const [kh, kw] = l.kernelSize;
  const [H, W] = l.inputShape;
  const k = constant(
    l.kernel,
    [kh, kw, l.inputShape[2], l.outputShape[2]],
    (t) => tf.transpose(tf.reverse(t, [0, 1]), [0, 1, 3, 2]),
  ) as tf.Tensor4D;
  const gd = dilate(g, l.strides[0], l.strides[1]);
  const before: [number, number] = [kh - 1 - l.padding[0], kw - 1 - l.padding[2]];
  const after = framePadding(gd, before, [kh, kw], [H, W]);
  const inside = [...before, ...after].every((p) => p >= 0);
  if (inside && convFewOutputsReady(l.outputShape[2], l.inputShape[2])) {
    // back to image space (≤ 4 channels): masokit's kernel, vectorised over the input channels
    const flipped = constant(
      l.kernel,
      [kh, kw, l.inputShape[2], l.outputShape[2]],
      (t) => tf.reverse(t, [0, 1]),
      "flipped",
    );
    return tf.engine().runKernel(CONV_FEW_OUTPUTS, { x: gd, k: flipped }, {
      pad: [before[0], after[0], before[1], after[1]],
    }) as tf.Tensor;
  }
  const m = inside ? winogradTile(l, true) : false;
  if (m !== false) return winogradConv(l, m, gd, true, [before[0], after[0], before[1], after[1]]);
  if (inside) {
    // the padding inside the convolution (XNNPACK pads on the fly), no padded copy
    const pad: [[0, 0], [number, number], [number, number], [0, 0]] = [
      [0, 0],
      [
        before[0],
        after[0],
      ],
      [before[1], after[1]],
      [0, 0],
    ];
    return tf.conv2d(gd as tf.Tensor4D, k, 1, pad);
  }
  return tf.conv2d(frame(gd, before, [kh, kw], [H, W]) as tf.Tensor4D, k, 1, "valid");
}

/**
 * The transpose of average pooling (padded positions excluded from each mean): divide
 * by each window's count, dilate, and sum over flipped windows with a stride-1 pool.
 */
function avgPoolTranspose(l: AvgPool2DLayer, g: tf.Tensor): tf.Tensor {
  const { start } = poolWindows(l);
  const [OH, OW] = l.outputShape, [ph, pw] = l.poolSize;
  const inv = Float32Array.from({ length: OH * OW }, (_, o) => 1 / (start[o + 1] - start[o]));
  const gs = tf.mul(g, tf.tensor(inv, [1, OH, OW, 1]));
  const gd = frame(
    dilate(gs, l.strides[0], l.strides[1]),
    [ph - 1 - l.padding[0], pw - 1 - l.padding[2]],
    l.poolSize,
    [
      l.inputShape[0],
      l.inputShape[1],
    ],
  );
  return tf.mul(tf.avgPool(gd as tf.Tensor4D, [ph, pw], 1, "valid"), ph * pw);
}

function affineTranspose(l: AffineLayer, g: tf.Tensor, rows: number): tf.Tensor {
  switch (l.kind) {
    case "dense": {
      // the kernel transposed once and kept: tfjs-wasm multiplies by a transposed operand
      // with a slow generic loop (14 ms for smallCNN's 640 × 10 × 1,152), by a plain one
      // on XNNPACK with the packed weights cached
      const inner = l.inputShape[l.inputShape.length - 1];
      const kT = constant(l.kernel, [inner, l.units], (t) => tf.transpose(t), "transposed");
      return tf.matMul(g.reshape([-1, l.units]), kT).reshape(batchShape(rows, l.inputShape));
    }
    case "conv2d":
      return convTranspose(l, g);
    case "channel-affine":
      return tf.mul(g, constant(l.scale, [l.scale.length]));
    case "zero-pad": {
      const [H, W] = l.inputShape;
      return tf.slice(g, [0, l.padding[0], l.padding[2], 0], [rows, H, W, -1]);
    }
    case "avg-pool":
      return avgPoolTranspose(l, g);
    case "global-avg-pool": {
      const [H, W, C] = l.inputShape;
      return tf.image.resizeNearestNeighbor(
        tf.div(g, H * W).reshape([rows, 1, 1, C]) as tf.Tensor4D,
        [H, W],
      );
    }
    case "flatten":
      return g.reshape(batchShape(rows, l.inputShape));
  }
}

/**
 * The argmax slot of every max-pool window (row-major window index, first maximum wins,
 * padding never wins), computed on the recorded input by masokit's SIMD kernel on tfjs-wasm
 * (disjoint windows, channels a multiple of 4) or a JS loop: tfjs' own MaxPoolWithArgmax and
 * MaxPoolGrad mishandle negative inputs on the wasm backend, and tie-breaking must follow
 * masokit's convention.
 */
function windowSlots(l: NonlinearLayer & { kind: "max-pool" }, input: tf.Tensor4D): Uint16Array {
  const fast = isDisjointPool(l) ? wasmWindowSlots(input, l.poolSize) : null;
  if (fast !== null) return fast;
  const x = input.dataSync() as Float32Array;
  const [n, H, W, C] = input.shape;
  const [OH, OW] = l.outputShape, [ph, pw] = l.poolSize, [sh, sw] = l.strides;
  const pt = l.padding[0], pl = l.padding[2];
  const slots = new Uint16Array(n * OH * OW * C);
  const best = new Float32Array(C);
  // channels innermost: each window cell is one contiguous run of C values
  for (let e = 0; e < n; e++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const so = ((e * OH + oy) * OW + ox) * C;
        best.fill(-Infinity);
        for (let ky = 0; ky < ph; ky++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < pw; kx++) {
            const ix = ox * sw + kx - pl;
            if (ix < 0 || ix >= W) continue;
            const xo = ((e * H + iy) * W + ix) * C, slot = ky * pw + kx;
            for (let c = 0; c < C; c++) {
              const v = x[xo + c];
              if (v > best[c]) {
                best[c] = v;
                slots[so + c] = slot;
              }
            }
          }
        }
      }
    }
  }
  return slots;
}

/**
 * For a disjoint max-pool: the 0/1 mask `[N, H, W, C]` of each window's argmax (first
 * maximum wins), computed once and kept with the codes.
 */
function argmaxMask(
  l: NonlinearLayer & { kind: "max-pool" },
  c: { input: tf.Tensor4D; mask?: tf.Tensor },
): tf.Tensor {
  if (!c.mask) {
    // one pass: per window and channel, the first maximum in row-major window order
    const x = c.input.dataSync() as Float32Array;
    const [n, H, W, C] = c.input.shape;
    const [OH, OW] = l.outputShape, [ph, pw] = l.poolSize;
    const mask = new Float32Array(n * H * W * C);
    const cells = new Int32Array(ph * pw);
    for (let e = 0; e < n; e++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          for (let ky = 0; ky < ph; ky++) {
            for (let kx = 0; kx < pw; kx++) {
              cells[ky * pw + kx] = ((e * H + oy * ph + ky) * W + ox * pw + kx) * C;
            }
          }
          const first = cells[0], k = cells.length;
          if (k === 4) {
            // 2×2 windows (the paper's pools), unrolled
            const c1 = cells[1], c2 = cells[2], c3 = cells[3];
            for (let ch = 0; ch < C; ch++) {
              let best = x[first + ch], at = first;
              const v1 = x[c1 + ch], v2 = x[c2 + ch], v3 = x[c3 + ch];
              if (v1 > best) {
                best = v1;
                at = c1;
              }
              if (v2 > best) {
                best = v2;
                at = c2;
              }
              if (v3 > best) at = c3;
              mask[at + ch] = 1;
            }
            continue;
          }
          for (let ch = 0; ch < C; ch++) {
            let best = x[first + ch], at = first;
            for (let j = 1; j < k; j++) {
              const v = x[cells[j] + ch];
              if (v > best) {
                best = v;
                at = cells[j];
              }
            }
            mask[at + ch] = 1;
          }
        }
      }
    }
    c.mask = tf.keep(tf.tensor(mask, [n, H, W, C]));
  }
  return c.mask;
}

/**
 * Flat argmax positions (batch included) of a max-pool's recorded input, computed once
 * and kept with the codes.
 */
function argmaxIndices(
  l: NonlinearLayer & { kind: "max-pool" },
  c: { input: tf.Tensor4D; indices?: tf.Tensor },
): tf.Tensor {
  if (!c.indices) {
    const slots = windowSlots(l, c.input);
    const [n, H, W, C] = c.input.shape;
    const [OH, OW] = l.outputShape;
    const idx = new Int32Array(slots.length);
    for (let e = 0; e < n; e++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          for (let ch = 0; ch < C; ch++) {
            const k = ((e * OH + oy) * OW + ox) * C + ch;
            idx[k] = (e * H * W + slotPosition(l, oy * OW + ox, slots[k])) * C + ch;
          }
        }
      }
    }
    c.indices = tf.keep(tf.tensor(idx, [n, OH, OW, C], "int32"));
  }
  return c.indices;
}

/**
 * Whether `layers[i]` is a ReLU recorded as its output and `layers[i + 1]` a disjoint
 * max-pool over that very tensor, with the wasm kernels ready: the pool's masked and
 * transposed kernels then apply the ReLU's mask themselves (`gate`: a window whose maximum
 * is not positive passes nothing) and the ReLU's own pass is skipped — exact, since a pool
 * reads only its windows' first maxima.
 */
function gatedPair(layers: readonly SplineLayer[], i: number, codes: TensorCodes): boolean {
  const relu = layers[i], pool = layers[i + 1];
  if (relu?.kind !== "relu" || pool?.kind !== "max-pool" || !isDisjointPool(pool)) return false;
  const a = codes.get(relu), b = codes.get(pool);
  return a !== undefined && "positive" in a && b !== undefined && "input" in b &&
    b.input === a.positive && maskedMaxPoolReady();
}

/**
 * When layers[i] is a stride-1 conv followed by a disjoint max-pool (directly, or through the
 * ReLU of a gated pair) whose input was recorded: that pool, and whether the ReLU gates it
 * (the pair the fused conv/pool kernels of `_wasm_conv_pool.ts` take).
 */
function convPoolAt(
  layers: readonly SplineLayer[],
  i: number,
  codes: TensorCodes,
): { conv: Conv2DLayer; pool: MaxPool2DLayer; gate: boolean } | null {
  const conv = layers[i];
  if (conv?.kind !== "conv2d" || conv.strides[0] !== 1 || conv.strides[1] !== 1) return null;
  const gate = gatedPair(layers, i + 1, codes);
  const pool = layers[gate ? i + 2 : i + 1];
  if (pool?.kind !== "max-pool" || !isDisjointPool(pool) || !maskedMaxPoolReady()) return null;
  const c = codes.get(pool);
  return c !== undefined && "input" in c ? { conv, pool, gate } : null;
}

/** The pool's recorded input (the ReLU's output for a gated pair). */
function poolInput(codes: TensorCodes, pool: MaxPool2DLayer): tf.Tensor4D {
  return (codes.get(pool) as { input: tf.Tensor4D }).input;
}

/**
 * The fused conv/pool kernels' filter and bias tensors: the conv kernel `[kh, kw, cin, co]` in the
 * kernel's `layout` (kept under `tag`, like every layer constant), and its bias (zeros when it
 * has none).
 */
function convPoolTensors(
  conv: Conv2DLayer,
  tag: string,
  layout: (kernel: tf.Tensor) => tf.Tensor,
): { k: tf.Tensor; b: tf.Tensor } {
  const [kh, kw] = conv.kernelSize, [cin, co] = [conv.inputShape[2], conv.outputShape[2]];
  const k = constant(conv.kernel, [kh, kw, cin, co], layout, tag);
  return { k, b: conv.bias ? constant(conv.bias, [co]) : tf.zeros([co]) };
}

/** The window tiles' shape for a conv with few input channels before a pool. */
function tileShape(conv: Conv2DLayer, pool: MaxPool2DLayer): number[] {
  const [ph, pw] = pool.poolSize, [kh, kw] = conv.kernelSize, cin = conv.inputShape[2];
  const floats = (pw + kw - 1) * cin;
  return [pool.inputShape[2], ph * pw, ph + kh - 1, Math.ceil(floats / 4) * 4];
}

/** Attributes shared by the fused conv/pool kernels. */
function convPoolAttrs(f: { conv: Conv2DLayer; pool: MaxPool2DLayer; gate: boolean }) {
  return {
    kernelSize: [...f.conv.kernelSize],
    poolSize: [...f.pool.poolSize],
    gate: f.gate,
    inShape: [...f.conv.inputShape],
    pad: [f.conv.padding[0], f.conv.padding[2]],
  };
}

function runLayers(
  layers: readonly SplineLayer[],
  x: tf.Tensor,
  rows: number,
  mode: { bias: boolean; fixed?: TensorCodes; record?: TensorCodes; tiesFree?: boolean },
): tf.Tensor {
  let v = x;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs": {
        const fixed = mode.fixed?.get(l);
        if (mode.fixed && gatedPair(layers, i, mode.fixed)) break; // the pool applies it
        if (fixed && "slope" in fixed) v = tf.mul(v, fixed.slope);
        else if (fixed && "positive" in fixed) {
          v = tf.engine().runKernel(SIGN_MASK, { x: fixed.positive, v }) as tf.Tensor;
        } else if (l.kind === "relu" && signMaskReady()) {
          v = tf.relu(v);
          mode.record?.set(l, { positive: tf.keep(v) });
        } else {
          const s0 = inactiveSlope(l);
          const active = tf.step(v, 0); // 1 where v > 0; exactly 0 is inactive
          const slope = s0 === 0 ? active : tf.add(tf.mul(active, 1 - s0), s0);
          mode.record?.set(l, { active: tf.keep(active), slope: tf.keep(slope) });
          v = tf.mul(v, slope);
        }
        break;
      }
      case "max-pool": {
        const fixed = mode.fixed?.get(l);
        if (fixed && "input" in fixed) {
          if (isDisjointPool(l) && maskedMaxPoolReady()) {
            v = tf.engine().runKernel(MASKED_MAX_POOL, { x: fixed.input, v }, {
              poolSize: [...l.poolSize],
              gate: gatedPair(layers, i - 1, mode.fixed!),
            }) as tf.Tensor;
          } else if (isDisjointPool(l)) {
            const area = l.poolSize[0] * l.poolSize[1];
            v = tf.mul(
              tf.avgPool(
                tf.mul(v, argmaxMask(l, fixed)) as tf.Tensor4D,
                l.poolSize as [number, number],
                l.strides as [number, number],
                "valid",
              ),
              area,
            );
          } else {
            v = tf.gather(v.reshape([-1]), argmaxIndices(l, fixed).reshape([-1])).reshape(
              batchShape(rows, l.outputShape),
            );
          }
        } else {
          mode.record?.set(l, { input: tf.keep(v as tf.Tensor4D) });
          v = poolApply(l, v);
        }
        break;
      }
      case "residual": {
        const outs = l.paths.map((p) => runLayers(p, v, rows, mode));
        v = outs.length === 1 ? outs[0] : tf.addN(outs);
        break;
      }
      default: {
        const fused = mode.fixed ? convPoolAt(layers, i, mode.fixed) : null;
        if (fused && convPoolReady(CONV_POOL_GATHER, fused.conv.inputShape[2])) {
          // the conv only where the pool (and its ReLU) let it through: filter [co, kh, kw, cin]
          const { conv } = fused;
          const { k, b } = convPoolTensors(
            conv,
            "output-first",
            (t) => tf.transpose(t, [3, 0, 1, 2]),
          );
          v = tf.engine().runKernel(CONV_POOL_GATHER, {
            x: poolInput(mode.fixed!, fused.pool),
            v,
            k,
            b,
          }, { ...convPoolAttrs(fused), bias: mode.bias && conv.bias !== null }) as tf.Tensor;
          i += fused.gate ? 2 : 1; // the ReLU and the pool are applied
          break;
        }
        // recording a ReLU after a dense/conv layer: one fused op gives the ReLU's output
        const next = layers[i + 1];
        const relu = mode.record !== undefined && mode.fixed === undefined &&
          next?.kind === "relu" && (l.kind === "conv2d" || l.kind === "dense") &&
          signMaskReady();
        v = affineApply(l, v, rows, mode.bias, relu, mode.record === undefined || mode.tiesFree);
        if (relu) {
          mode.record!.set(next, { positive: tf.keep(v) });
          i++; // the ReLU is applied
        }
      }
    }
  }
  return v;
}

/**
 * The first layer's output without its bias (`W₁x`), kept by a forward pass whose first layer
 * is a dense or conv layer with a bias: a later linear masked pass of the same input starts
 * from it instead of repeating the product (the forward pass adds the bias to this tensor,
 * so both passes see bit-identical values).
 */
const linearHeads = new WeakMap<TensorCodes, { input: tf.Tensor; linear: tf.Tensor }>();

/**
 * The forward pass on tfjs ops, recording each nonlinear layer's slopes (sign layers) or
 * its input and output (max-pool). Call {@linkcode disposeCodes} when done.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options `tiesFree`: the codes feed only ⟨A_c, x⟩, which does not depend on how exact
 * ties are decided (entries that tie exactly have the same receptive field and the same codes
 * before them, so their values without biases are equal too), so convs may run by Winograd
 * (default false: products, whose ties are the float64 reference's).
 * @returns The output and the recorded codes.
 */
export function forwardPassTf(
  net: SplineNetwork,
  x: tf.Tensor,
  options: { tiesFree?: boolean } = {},
): { output: tf.Tensor; codes: TensorCodes } {
  const tiesFree = options.tiesFree === true && wasmWinograd.tiesFree;
  const codes: TensorCodes = new Map();
  const layers = foldedLayers(net), first = layers[0], rows = x.shape[0];
  const output = tf.tidy(() => {
    let out: tf.Tensor;
    if ((first?.kind === "conv2d" || first?.kind === "dense") && first.bias) {
      const linear = affineApply(first, x, rows, false);
      linearHeads.set(codes, { input: x, linear: tf.keep(linear) });
      const v = tf.add(linear, constant(first.bias, [first.bias.length]));
      out = runLayers(layers.slice(1), v, rows, { bias: true, record: codes, tiesFree });
    } else {
      // a handle of the pass's own on x (no copy): a first max-pool records its input, which
      // disposeCodes disposes, and a network of no layers returns it — never the caller's tensor
      out = runLayers(layers, tf.clone(x), rows, { bias: true, record: codes, tiesFree });
    }
    // and an output of its own (no copy): a final ReLU's output is also its recorded code,
    // which must outlive the caller's disposing of the output
    return tf.clone(out);
  });
  return { output, codes };
}

/**
 * The masked pass on tfjs ops: the region's affine map (`bias: true`) or its linear part
 * A[x]·x (`bias: false`) applied to `x`, codes held fixed.
 *
 * @param net The network.
 * @param x Inputs `[N, ...inputShape]`.
 * @param options The codes of the same examples and `bias`.
 * @returns `[N, C]`.
 */
export function maskedPassTf(
  net: SplineNetwork,
  x: tf.Tensor,
  options: { codes: TensorCodes; bias: boolean },
): tf.Tensor {
  const { codes, bias } = options, rows = x.shape[0];
  const head = bias ? undefined : linearHeads.get(codes);
  // an output of its own (no copy): a network of one dense or conv layer returns the kept head,
  // which disposeCodes disposes, and a network of no layers returns x
  return tf.tidy(() =>
    tf.clone(
      head?.input === x
        ? runLayers(foldedLayers(net).slice(1), head.linear, rows, { bias, fixed: codes })
        : runLayers(foldedLayers(net), x, rows, { bias, fixed: codes }),
    )
  );
}

function transposeLayers(
  layers: readonly SplineLayer[],
  g: tf.Tensor,
  rows: number,
  ctx: { codes: TensorCodes; per: number; B: tf.Tensor[] },
): tf.Tensor {
  let v = g;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs": {
        const c = ctx.codes.get(l) as { slope: tf.Tensor } | { positive: tf.Tensor };
        if ("positive" in c) {
          v = tf.engine().runKernel(SIGN_MASK, {
            x: c.positive,
            v: v.reshape(batchShape(rows, l.outputShape)),
          }) as tf.Tensor;
          break;
        }
        const [n, ...rest] = c.slope.shape;
        v = tf.mul(v.reshape([n, ctx.per, ...rest]), c.slope.reshape([n, 1, ...rest])).reshape(
          batchShape(rows, l.inputShape),
        );
        break;
      }
      case "max-pool": {
        const c = ctx.codes.get(l) as { input: tf.Tensor4D; indices?: tf.Tensor; mask?: tf.Tensor };
        if (isDisjointPool(l) && maskedMaxPoolReady()) {
          const gate = gatedPair(layers, i - 1, ctx.codes);
          const fused = convPoolAt(layers, gate ? i - 2 : i - 1, ctx.codes);
          const cin = fused?.conv.inputShape[2] ?? 0;
          // pool, ReLU and conv transposed at once (the conv's bias terms too): a first layer
          // (few input channels) as window tiles summed in registers, others by scattering
          const kernel = fused?.pool !== l
            ? null
            : tilesFit(cin, fused.conv.kernelSize, l.poolSize) &&
                convPoolReady(POOL_CONV_TILES, cin)
            ? POOL_CONV_TILES
            : convPoolReady(POOL_CONV_TRANSPOSE, cin) && scatters(fused.conv)
            ? POOL_CONV_TRANSPOSE
            : null;
          if (kernel !== null && fused !== null) {
            const { conv } = fused, co = l.inputShape[2];
            const { k, b } = kernel === POOL_CONV_TILES
              ? convPoolTensors(conv, `tiles ${l.poolSize}`, () =>
                tf.tensor(
                  poolConvTiles(conv.kernel, conv.kernelSize, cin, co, l.poolSize),
                  tileShape(conv, l),
                ))
              : convPoolTensors(conv, "row-runs", (t) => tf.transpose(t, [0, 3, 1, 2])); // [kh, co, kw, cin]
            const [dx, terms] = tf.engine().runKernel(kernel, {
              x: c.input,
              g: v.reshape(batchShape(rows, l.outputShape)),
              k,
              b,
            }, convPoolAttrs(fused)) as tf.Tensor[];
            if (conv.bias) ctx.B.push(terms);
            v = dx;
            i -= gate ? 2 : 1; // the ReLU and the conv are applied
            break;
          }
          v = tf.engine().runKernel(MASKED_MAX_POOL_TRANSPOSE, { x: c.input, g: v }, {
            poolSize: [...l.poolSize],
            gate,
          }) as tf.Tensor;
          if (gate) i--; // the ReLU before it is applied
          break;
        }
        if (isDisjointPool(l)) {
          // upsample each row's gradient over its window, keep the argmax positions
          const [H, W, Ch] = l.inputShape, [OH, OW] = l.outputShape, [ph, pw] = l.poolSize;
          const mask = argmaxMask(l, c);
          const n = mask.shape[0];
          const up = tf.pad(
            tf.image.resizeNearestNeighbor(v as tf.Tensor4D, [OH * ph, OW * pw]),
            [[0, 0], [0, H - OH * ph], [0, W - OW * pw], [0, 0]],
          );
          v = tf.mul(up.reshape([n, ctx.per, H, W, Ch]), mask.reshape([n, 1, H, W, Ch])).reshape([
            rows,
            H,
            W,
            Ch,
          ]);
          break;
        }
        // general windows: scatter each row's gradient back to its example's argmax positions
        const idx = argmaxIndices(l, c);
        const n = c.input.shape[0],
          inSize = shapeSize(l.inputShape),
          units = shapeSize(l.outputShape);
        const local = tf.sub(
          idx.reshape([n, 1, units]),
          tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(inSize, "int32")).reshape([n, 1, 1]),
        );
        const offsets = tf.mul(tf.range(0, n * ctx.per, 1, "int32"), tf.scalar(inSize, "int32"))
          .reshape([
            n,
            ctx.per,
            1,
          ]);
        const global = tf.add(local, offsets).reshape([-1, 1]);
        v = tf.scatterND(global, v.reshape([-1]), [rows * inSize]).reshape(
          batchShape(rows, l.inputShape),
        );
        break;
      }
      case "residual": {
        const outs = l.paths.map((p) => transposeLayers(p, v, rows, ctx));
        v = outs.length === 1 ? outs[0] : tf.addN(outs);
        break;
      }
      default: {
        const b = l.kind === "dense" || l.kind === "conv2d"
          ? l.bias
          : l.kind === "channel-affine"
          ? l.shift
          : null;
        if (b) {
          // Σ over positions and channels of v·b: one matrix-vector product with b tiled
          // over the positions (no [rows, size] intermediate)
          const size = v.size / rows, c = b.length;
          const tiled = constant(
            b,
            [c],
            (t) => tf.tile(t, [size / c]).reshape([size, 1]),
            `tiled ${size}`,
          );
          ctx.B.push(tf.matMul(v.reshape([rows, size]), tiled).reshape([rows]));
        }
        v = affineTranspose(l, v, rows);
      }
    }
  }
  return v;
}

/**
 * The transposed pass on tfjs ops for all classes at once: rows are (example, class)
 * pairs; returns every template A[x]_c `[N·C, D]` and the offsets B[x] `[N·C]`,
 * accumulated as `Σ_ℓ ⟨g_ℓ, b_ℓ⟩` (eq. 7's bias sum) along the way.
 *
 * @param net The network.
 * @param codes Codes of the N examples.
 * @param count N.
 * @returns `{ A, B }`.
 */
export function templatesTf(
  net: SplineNetwork,
  codes: TensorCodes,
  count: number,
): { A: tf.Tensor; B: tf.Tensor } {
  return tf.tidy(() => {
    const C = net.outputSize;
    const rows = count * C;
    const eye = tf.tile(tf.eye(C).reshape([1, C, C]), [count, 1, 1]).reshape(
      batchShape(rows, net.outputShape),
    );
    const ctx = { codes, per: C, B: [] as tf.Tensor[] };
    const A = transposeLayers(foldedLayers(net), eye, rows, ctx).reshape([count, C, net.inputSize]);
    const B = (ctx.B.length === 0 ? tf.zeros([rows]) : tf.addN(ctx.B)).reshape([count, C]);
    return { A, B };
  });
}

/**
 * The codes a tfjs forward pass recorded, read back in the CPU reference's format: 0/1
 * per unit for sign layers (1 where the float32 pre-activation is `> 0`), the argmax
 * window slot for max-pool layers (first maximum wins). With `packed`, a ReLU's codes on
 * tfjs-wasm come packed instead, 32 units per word as `partitionCodes` stores them
 * (`MasokitSignBits`, a `Uint32Array` of `[n, ⌈units/32⌉]`).
 *
 * @param codes The recorded codes.
 * @param options `packed`: packed ReLU codes where the kernel runs.
 * @returns Per-layer code arrays.
 */
export function readCodes(
  codes: TensorCodes,
  options: { packed?: boolean } = {},
): Map<NonlinearLayer, Uint8Array | Uint16Array | Uint32Array> {
  const out = new Map<NonlinearLayer, Uint8Array | Uint16Array | Uint32Array>();
  for (const [l, c] of codes) {
    if ("active" in c) out.set(l, Uint8Array.from(c.active.dataSync() as Float32Array));
    else if ("positive" in c && options.packed === true && signBitsReady()) {
      // packed on the heap: only ⌈units/32⌉ words per example leave it
      const flat = c.positive.reshape([c.positive.shape[0], -1]);
      const words = tf.engine().runKernel(SIGN_BITS, { x: flat }) as tf.Tensor;
      if (flat !== c.positive) flat.dispose();
      const w = words.dataSync() as Int32Array; // already a copy off the heap
      out.set(l, new Uint32Array(w.buffer, w.byteOffset, w.length));
      words.dispose();
    } else if ("positive" in c) {
      // y > 0 ⇔ y's bit pattern as an int32 is > 0 (NaN aside: NaN inputs are refused),
      // tested without branches (a ternary mispredicts on real data: 8× slower)
      const y = c.positive.dataSync() as Float32Array;
      const iv = new Int32Array(y.buffer, y.byteOffset, y.length);
      const bits = new Uint8Array(y.length);
      for (let i = 0; i < iv.length; i++) bits[i] = (-iv[i] >> 31) & ~(iv[i] >> 31) & 1;
      out.set(l, bits);
    } else if (l.kind === "max-pool") out.set(l, windowSlots(l, c.input));
  }
  return out;
}

/**
 * Frees the tensors a forward pass recorded.
 *
 * @param codes The recorded codes.
 */
export function disposeCodes(codes: TensorCodes): void {
  linearHeads.get(codes)?.linear.dispose();
  linearHeads.delete(codes);
  for (const c of codes.values()) {
    if ("positive" in c) c.positive.dispose();
    else if ("slope" in c) {
      c.slope.dispose();
      c.active.dispose();
    } else {
      c.input.dispose();
      c.indices?.dispose();
      c.mask?.dispose();
    }
  }
  codes.clear();
}
