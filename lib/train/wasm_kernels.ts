/**
 * Training kernels for tfjs's `wasm` backend (XNNPACK): the filter gradient of a 2-D
 * convolution, which tfjs 4.22 does not register for `wasm` (upstream issue #8474), plus faster
 * replacements for the gradient kernels that dominate a conv-net training step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { leadingReduction } from "./_leading_reduction.ts";
import {
  BATCH_NORM_GRAD,
  BROADCAST_LEADING,
  RELU_GRAD,
  setFusedGradients,
} from "./_fused_gradients.ts";
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  MOVING_AVERAGES,
  movingAverage,
  setFusedBatchNormLayer,
} from "./_batch_norm_layer.ts";
import { ADAM_UPDATE, installFusedAdam } from "./_fused_adam.ts";
import {
  free,
  heapThreadsFor,
  type Info,
  runWasm,
  type WasmBackendLike,
} from "../backend/_wasm_ops.ts";
import { maxPoolSimdFor } from "../backend/tfjs/_wasm_max_pool_simd.ts";
import { wasmMaxPoolKernels } from "../backend/tfjs/_wasm_masked_max_pool.ts";
import {
  winogradFilterGrad,
  winogradWithFilter,
  withWinogradConvs,
} from "../backend/tfjs/_wasm_winograd.ts";
import { batchNormSimdFor, SUM_BLOCK_ROWS } from "./_wasm_batch_norm_simd.ts";
import { filterGradApplies, filterGradDirect, type FilterGradShape } from "./_wasm_filter_grad.ts";
import { pointwiseFilterGrad, pointwiseFilterGradApplies } from "./_wasm_pointwise_filter_grad.ts";
import { smallMatMul, smallMatMulApplies, type SmallMatMulShape } from "./_wasm_small_matmul.ts";
import {
  ORTHOGONALITY_PENALTY,
  ORTHOGONALITY_PENALTY_GRAD,
  orthogonalityPenaltyValues,
} from "./_orthogonality_kernel.ts";
import {
  SOFTMAX_CROSS_ENTROPY,
  SOFTMAX_CROSS_ENTROPY_GRAD,
  softmaxCrossEntropyValues,
} from "./_softmax_cross_entropy.ts";
import { gatherRows } from "./_wasm_gather.ts";
import { sliceRuns } from "./_wasm_slice.ts";
import { flippedTransposed } from "./_wasm_filter_flip.ts";
import { ADAM_PARAMS, adamSimd } from "./_wasm_adam_simd.ts";
import { reluGradSimd } from "./_wasm_relu_grad.ts";
import { convGemm } from "../backend/tfjs/_wasm_conv_gemm.ts";

// the scope in which the kernels' stride-1 3×3 convs may run by Winograd (train's steps run in it)
export { withWinogradConvs };

/** What {@link registerWasmTrainingKernels} did. */
export interface WasmTrainingKernelsReport {
  /** Kernels that were missing on `wasm` and are now registered (e.g. `Conv2DBackpropFilter`). */
  added: string[];
  /** Built-in `wasm` kernels replaced by faster versions (the originals remain as fallbacks). */
  replaced: string[];
  /**
   * Gradients and updates replaced by fused versions (`FusedBatchNorm`, `Mean`, `Sum`, `Adam`, the
   * `BatchNormalization` layer's training pass), or restored.
   */
  gradients: string[];
  /** True when an earlier call had already registered everything (nothing changed now). */
  alreadyRegistered: boolean;
}

/** Options for {@link registerWasmTrainingKernels}. */
export interface WasmTrainingKernelsOptions {
  /**
   * Also replace the slow built-in `wasm` kernels `Conv2DBackpropInput`, `MaxPoolGrad`, `Tile`,
   * `Sum` and `Mean` by faster ones (default true). The missing `Conv2DBackpropFilter` is
   * always added.
   */
  replaceSlowKernels?: boolean;
  /**
   * Also compute batch-norm's training gradients with fused kernels (default true): the
   * gradients of `FusedBatchNorm` and of `Mean`/`Sum` over leading axes are replaced
   * (globally, in tfjs's gradient registry) by versions that call masokit's
   * `MasokitBatchNormGrad` / `MasokitBroadcastLeading` kernels when the active backend has them
   * and fall back to tfjs's own gradients otherwise (other backends, other shapes, non-float32);
   * and the `BatchNormalization` layer's training pass (over the last axis, with γ and β) runs
   * as one kernel, `MasokitBatchNormTrain`, with a two-pass gradient (its `call` replaced
   * globally on the layer's prototype: lib/train/_batch_norm_layer.ts).
   */
  fuseBatchNorm?: boolean;
  /**
   * Also run Adam's update (tfjs's `AdamOptimizer`, every instance) as one `MasokitAdamUpdate`
   * kernel call a variable, in float32 with tfjs's order of operations, so bit for bit as tfjs's
   * ≈12 ops (default true; lib/train/_fused_adam.ts).
   */
  fuseAdam?: boolean;
}

type KernelArgs = {
  inputs: Record<string, Info>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
};

/** The built-in configs that were replaced, kept for fallbacks. */
const originals = new Map<string, tf.KernelConfig>();
const ours = new Map<string, tf.KernelConfig>();

function original(name: string): tf.KernelConfig {
  const k = originals.get(name) ?? tf.getKernel(name, "wasm");
  if (k === undefined) throw new Error(`Cannot fall back to wasm kernel '${name}': not registered`);
  return k;
}

function callOriginal(name: string, args: KernelArgs): Info {
  return original(name).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
}

/** A float32 tensor of zeros (a gradient with no terms: an empty batch, dy or window). */
function zeros(backend: WasmBackendLike, shape: number[]): Info {
  const out = backend.makeOutput(shape, "float32");
  (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
  return out;
}

function checkNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC" && dataFormat !== "channelsLast") {
    throw new RangeError(
      `Cannot run ${kernel} on wasm: dataFormat is '${dataFormat}', expected 'NHWC'`,
    );
  }
}

/**
 * dW[kh, kw, c, co] = Σ_{n, y, x} xpad[n, y·sh + kh, x·sw + kw, c] · dy[n, y, x, co].
 *
 * Five formulations: (e) for 1×1 stride-1 unpadded convs of channels in multiples of 4,
 * `xᵀ · dy` by one register-blocked product (`pointwiseFilterGrad`); (d) for stride-1 3×3 convs of 16+ channels and at least
 * `wasmWinograd.minFilterMacs` multiply-adds, inside `withWinogradConvs`, by Winograd
 * (`winogradFilterGrad`); (c) where it applies (a multiple of 4 output channels, see
 * `_wasm_filter_grad.ts`), one generated SIMD kernel reading x and dy in place; otherwise, on
 * XNNPACK-backed kernels, (a) "transposed im2col" — transpose x to [c, n, h, w], gather the
 * kh·kw shifted (strided) windows as rows [kh·kw·c, n·oh·ow] and multiply by dy as
 * [n·oh·ow, co] with BatchMatMul; (b) for stride 1 and many filter taps, a convolution of x
 * viewed as [c, h, w, n] with dy viewed as an [oh, ow, n, co] filter.
 */
function conv2DBackpropFilter(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  checkNhwc("Conv2DBackpropFilter", attrs.dataFormat);
  if (x.dtype !== "float32" || dy.dtype !== "float32") {
    throw new TypeError(
      `Cannot run Conv2DBackpropFilter on wasm: dtypes are '${x.dtype}' and '${dy.dtype}', expected 'float32'`,
    );
  }
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const { batchSize: n, inChannels: c, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  // No terms (an empty batch or dy): XNNPACK's products would leave dW uninitialised.
  if (n * oh * ow === 0) return zeros(backend, filterShape);
  const { top, left } = info.padInfo;
  // A numeric pad with dimRoundingMode 'ceil' or 'round' (or tfjs's output size for a numeric
  // pad, which uses the filter's height and stride for both axes) can give windows reaching past
  // the padded input; those taps read zeros, as on tfjs-cpu: pad the bottom/right to cover them.
  const bottom = Math.max(info.padInfo.bottom, (oh - 1) * sh + kh - info.inHeight - top);
  const right = Math.max(info.padInfo.right, (ow - 1) * sw + kw - info.inWidth - left);
  const padded = top !== 0 || bottom !== 0 || left !== 0 || right !== 0;
  if (sh === 1 && sw === 1 && kh === 3 && kw === 3) {
    // (d) by Winograd, for 3×3 convs of 16+ channels and enough work
    const dw = winogradFilterGrad(backend, x, dy, [top, bottom, left, right]);
    if (dw !== null) return dw;
  }

  if (pointwiseFilterGradApplies({ kh, kw, sh, sw, padded, c, co })) {
    // (e) a 1×1 conv's xᵀ · dy by the register-blocked products
    const dw = pointwiseFilterGrad(backend, x, dy, n * oh * ow, c, co);
    if (dw !== null) return dw;
  }

  const direct: FilterGradShape = {
    n,
    h: info.inHeight + top + bottom,
    w: info.inWidth + left + right,
    c,
    oh,
    ow,
    co,
    kh,
    kw,
    sh,
    sw,
  };
  if (filterGradApplies(direct, heapThreadsFor(backend))) {
    // (c) the generated SIMD kernel, reading x (padded) and dy in place.
    const xP = padded
      ? runWasm(backend, "PadV2", { x }, {
        paddings: [[0, 0], [top, bottom], [left, right], [0, 0]],
        constantValue: 0,
      })
      : x;
    const dw = filterGradDirect(backend, xP, dy, direct);
    if (xP !== x) free(backend, xP);
    if (dw !== null) return dw;
  }

  if (sh === 1 && sw === 1 && kh * kw > 1 && kh * kw * c >= 256) {
    // (b) dW as a convolution: batch ← c, channels ← n, filter ← dy.
    const xT = runWasm(backend, "Transpose", { x }, { perm: [3, 1, 2, 0] });
    const dyT = runWasm(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const conv = runWasm(backend, "Conv2D", { x: xT, filter: dyT }, {
      strides: 1,
      dilations: 1,
      pad: padded ? [[0, 0], [top, bottom], [left, right], [0, 0]] : "valid",
      dataFormat: "NHWC",
    });
    free(backend, xT, dyT);
    let core = conv;
    if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
      core = runWasm(backend, "Slice", { x: conv }, { begin: [0, 0, 0, 0], size: [c, kh, kw, co] });
      free(backend, conv);
    }
    const dw = runWasm(backend, "Transpose", { x: core }, { perm: [1, 2, 0, 3] });
    free(backend, core);
    return dw;
  }

  // (a) transposed im2col + BatchMatMul.
  const xT = runWasm(backend, "Transpose", { x }, { perm: [3, 0, 1, 2] }); // [c, n, h, w]
  const xP = padded
    ? runWasm(backend, "PadV2", { x: xT }, {
      paddings: [[0, 0], [0, 0], [top, bottom], [left, right]],
      constantValue: 0,
    })
    : xT;
  const windows: Info[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      if (sh === 1 && sw === 1) {
        windows.push(
          runWasm(backend, "Slice", { x: xP }, { begin: [0, 0, i, j], size: [c, n, oh, ow] }),
        );
      } else {
        windows.push(runWasm(backend, "StridedSlice", { x: xP }, {
          begin: [0, 0, i, j],
          end: [c, n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1],
          strides: [1, 1, sh, sw],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        }));
      }
    }
  }
  const cols = windows.length === 1 ? windows[0] : runWasm(backend, "Concat", windows, { axis: 0 }); // [kh·kw·c, n, oh, ow]
  const cols2 = runWasm(backend, "Reshape", { x: cols }, { shape: [kh * kw * c, n * oh * ow] });
  const dy2 = runWasm(backend, "Reshape", { x: dy }, { shape: [n * oh * ow, co] });
  const prod = runWasm(backend, "BatchMatMul", { a: cols2, b: dy2 }, {
    transposeA: false,
    transposeB: false,
  });
  const dw = runWasm(backend, "Reshape", { x: prod }, { shape: filterShape });
  free(backend, xT, cols2, dy2, prod);
  if (xP !== xT) free(backend, xP);
  if (windows.length > 1) free(backend, cols);
  free(backend, ...windows);
  return dw;
}

/**
 * dx = conv2d(zero-inserted dy, filter flipped in space with in/out channels swapped), with
 * padding (kh − 1 − padTop) on top; runs by Winograd where the engine's rules take it
 * (`winogradWithFilter`: 3×3, 16+ channels), else on XNNPACK's Conv2D. Falls back to the built-in
 * kernel for padding larger than the filter.
 */
function conv2DBackpropInput(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  checkNhwc("Conv2DBackpropInput", attrs.dataFormat);
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const { outChannels: co, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  // No terms (an empty dy): XNNPACK's Conv2D would leave dx uninitialised.
  if (n * oh * ow * co === 0 && dy.dtype === "float32") return zeros(backend, inputShape);
  if (top > kh - 1 || left > kw - 1 || top < 0 || left < 0 || dy.dtype !== "float32") {
    return callOriginal("Conv2DBackpropInput", args);
  }
  let wT = flippedTransposed(backend, filter);
  if (wT === null) {
    const flipped = runWasm(backend, "Reverse", { x: filter }, { dims: [0, 1] });
    wT = runWasm(backend, "Transpose", { x: flipped }, { perm: [0, 1, 3, 2] });
    free(backend, flipped);
  }
  let dyD = dy;
  let dilH = oh, dilW = ow;
  if (sh > 1 || sw > 1) {
    const dy6 = runWasm(backend, "Reshape", { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
    const pd = runWasm(backend, "PadV2", { x: dy6 }, {
      paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
      constantValue: 0,
    });
    dilH = oh * sh;
    dilW = ow * sw;
    dyD = runWasm(backend, "Reshape", { x: pd }, { shape: [n, dilH, dilW, co] });
    free(backend, dy6, pd);
  }
  const padTop = kh - 1 - top, padLeft = kw - 1 - left;
  let padBottom = h + kh - 1 - padTop - dilH;
  let padRight = w + kw - 1 - padLeft - dilW;
  if (padBottom < 0 || padRight < 0) {
    // The trailing rows/columns cut off here are inserted zeros only.
    const keepH = dilH + Math.min(0, padBottom), keepW = dilW + Math.min(0, padRight);
    const cut = runWasm(backend, "Slice", { x: dyD }, {
      begin: [0, 0, 0, 0],
      size: [n, keepH, keepW, co],
    });
    if (dyD !== dy) free(backend, dyD);
    dyD = cut;
    padBottom = Math.max(0, padBottom);
    padRight = Math.max(0, padRight);
  }
  const dx = winogradWithFilter(backend, dyD, wT, [padTop, padBottom, padLeft, padRight]) ??
    runWasm(backend, "Conv2D", { x: dyD, filter: wT }, {
      strides: 1,
      dilations: 1,
      pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
      dataFormat: "NHWC",
    });
  free(backend, wT);
  if (dyD !== dy) free(backend, dyD);
  return dx;
}

/**
 * Max-pool gradient: each dy goes to the first maximum of its window (row-major order, strict
 * `>`, as tfjs's `cpu` backend does). Disjoint windows over a multiple of 4 channels run the
 * engine's WebAssembly SIMD kernel (lib/backend/tfjs/_wasm_max_pool_simd.ts, whose running
 * maximum starts at the first cell rather than −∞: only windows holding NaN or nothing but −∞
 * can differ); other pools a channel-vectorised loop over the wasm heap.
 */
function maxPoolGrad(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    return callOriginal("MaxPoolGrad", args);
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c } = info;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(input.shape, "float32");
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xv = backend.typedArrayFromHeap(input) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  // disjoint windows (the paper's pools): the engine's SIMD transposed max-pool, one row each
  const disjoint = fh === sh && fw === sw && dh === 1 && dw === 1 && top === 0 && left === 0 &&
    oh === Math.floor(h / fh) && ow === Math.floor(w / fw);
  const simd = disjoint && wasmMaxPoolKernels.simd ? maxPoolSimdFor(backend, [fh, fw], c) : null;
  if (simd !== null) {
    simd.transpose(xv, dyv, dx, input.shape, 1, false);
    return out;
  }
  dx.fill(0);
  if (
    fh === 2 && fw === 2 && sh === 2 && sw === 2 && dh === 1 && dw === 1 && top === 0 &&
    left === 0 && oh * 2 <= h && ow * 2 <= w
  ) {
    maxPoolGrad2x2(xv, dyv, dx, [nb, h, w, c], [oh, ow]);
    return out;
  }
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  let o = 0;
  for (let b = 0; b < nb; b++) {
    const xb = b * h * w * c;
    for (let yr = 0; yr < oh; yr++) {
      const r0 = yr * sh - top;
      for (let yc = 0; yc < ow; yc++, o += c) {
        const c0 = yc * sw - left;
        best.fill(-Infinity);
        at.fill(-1);
        for (let wr = 0; wr < fh; wr += dh) {
          const xr = r0 + wr;
          if (xr < 0 || xr >= h) continue;
          for (let wc = 0; wc < fw; wc += dw) {
            const xc = c0 + wc;
            if (xc < 0 || xc >= w) continue;
            const base = xb + (xr * w + xc) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xv[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                at[ch] = base + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) {
          const p = at[ch];
          if (p >= 0) dx[p] += dyv[o + ch];
        }
      }
    }
  }
  return out;
}

/** Non-overlapping 2×2 windows, stride 2, no padding: every dx entry has at most one source. */
function maxPoolGrad2x2(
  xv: Float32Array,
  dyv: Float32Array,
  dx: Float32Array,
  [nb, h, w, c]: number[],
  [oh, ow]: number[],
): void {
  const rowStride = w * c;
  let o = 0;
  for (let b = 0; b < nb; b++) {
    for (let yr = 0; yr < oh; yr++) {
      let p00 = b * h * rowStride + 2 * yr * rowStride;
      for (let yc = 0; yc < ow; yc++, p00 += 2 * c) {
        const p01 = p00 + c, p10 = p00 + rowStride, p11 = p10 + c;
        for (let ch = 0; ch < c; ch++, o++) {
          let m = -Infinity, q = -1;
          const v00 = xv[p00 + ch], v01 = xv[p01 + ch], v10 = xv[p10 + ch], v11 = xv[p11 + ch];
          if (v00 > m) {
            m = v00;
            q = p00 + ch;
          }
          if (v01 > m) {
            m = v01;
            q = p01 + ch;
          }
          if (v10 > m) {
            m = v10;
            q = p10 + ch;
          }
          if (v11 > m) q = p11 + ch;
          if (q >= 0) dx[q] = dyv[o];
        }
      }
    }
  }
}

/** Whether all of `t`'s axes before the last two are 1. */
const batchOne = (t: Info) => t.shape.slice(0, -2).every((d) => d === 1);

/**
 * A product of batch 1 small enough for the generated kernel (`smallMatMul`,
 * lib/train/_wasm_small_matmul.ts: a dense layer's forward pass and gradients), `B` transposed
 * first where stored transposed; null where it does not apply.
 */
function smallProduct(
  backend: WasmBackendLike,
  a: Info,
  b: Info,
  ta: boolean,
  tb: boolean,
  bias: Info | undefined,
  relu: boolean,
): Info | null {
  if (
    a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2 ||
    !batchOne(a) || !batchOne(b)
  ) return null;
  const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
  const [m, k] = ta ? [ac, ar] : [ar, ac], [k2, n] = tb ? [bc, br] : [br, bc];
  if (
    k !== k2 || !smallMatMulApplies(m, k, n) ||
    (bias !== undefined && (bias.dtype !== "float32" || `${bias.shape}` !== `${n}`))
  ) return null;
  const b2 = tb ? flip(backend, b) : b;
  const batch = (a.shape.length >= b.shape.length ? a : b).shape.slice(0, -2);
  const out = backend.makeOutput([...batch, m, n], "float32");
  const at = (t: Info | undefined) =>
    t === undefined ? 0 : backend.typedArrayFromHeap(t).byteOffset;
  const ran = smallMatMul(
    backend,
    { m, k, n, transposeA: ta, bias: bias !== undefined, relu },
    [at(a), at(b2), at(bias), at(out)],
  );
  if (b2 !== b) free(backend, b2);
  if (!ran) free(backend, out);
  return ran ? out : null;
}

/** The last two axes of `t` swapped. */
function flip(backend: WasmBackendLike, t: Info): Info {
  const perm = t.shape.map((_, i) => i);
  perm.push(...perm.splice(-2).reverse());
  return runWasm(backend, "Transpose", { x: t }, { perm });
}

/**
 * BatchMatMul: small products of batch 1 by the generated kernel (`smallProduct`); others of batch
 * 1 with a transposed operand have it transposed explicitly, then the built-in product, which runs
 * on XNNPACK — the built-in kernel multiplies by a transposed operand in a generic loop (1.7 ms
 * for smallCNN's 64 × 10 by 1,152 × 10ᵀ, 0.2 ms this way). Other cases go to the built-in kernel.
 */
function batchMatMul(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const ta = attrs.transposeA === true, tb = attrs.transposeB === true;
  const small = smallProduct(backend, a, b, ta, tb, undefined, false);
  if (small !== null) return small;
  if (
    (!ta && !tb) || a.dtype !== "float32" || b.dtype !== "float32" || !batchOne(a) ||
    !batchOne(b)
  ) {
    return callOriginal("BatchMatMul", args);
  }
  const a2 = ta ? flip(backend, a) : a, b2 = tb ? flip(backend, b) : b;
  try {
    return callOriginal("BatchMatMul", {
      inputs: { a: a2, b: b2 },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
  } finally {
    if (a2 !== a) free(backend, a2);
    if (b2 !== b) free(backend, b2);
  }
}

/**
 * `_FusedMatMul` (a dense layer's forward pass): small products of batch 1 with no bias or a
 * bias `[N]`, linear or ReLU, by the generated kernel (`smallProduct`); the rest by the built-in
 * kernel.
 */
function fusedMatMul(args: KernelArgs): Info {
  const { inputs: { a, b, bias, preluActivationWeights }, backend, attrs } = args;
  const activation = (attrs.activation ?? "linear") as string;
  const small = preluActivationWeights == null && (activation === "linear" || activation === "relu")
    ? smallProduct(
      backend,
      a,
      b,
      attrs.transposeA === true,
      attrs.transposeB === true,
      bias ?? undefined,
      activation === "relu",
    )
    : null;
  return small ?? callOriginal("_FusedMatMul", args);
}

/** Tile, fast path for broadcasting a [1, …, 1, C] tensor (batch-norm gradients): memcpy. */
function tile(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const reps = attrs.reps as number[];
  const r = x.shape.length;
  const broadcastOnly = r > 0 && reps[r - 1] === 1 &&
    x.shape.slice(0, -1).every((d) => d === 1) && x.dtype !== "string";
  if (!broadcastOnly) return callOriginal("Tile", args);
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  const total = dst.length, unit = src.length;
  if (total === 0) return out;
  dst.set(src, 0);
  let filled = unit;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    dst.copyWithin(filled, 0, n);
    filled += n;
  }
  return out;
}

/**
 * Sum or Mean over the leading axes of a float32 tensor (as batch-norm's moments and gradients
 * reduce [N, H, W, C] over N, H, W): one pass over the wasm heap into float64 accumulators,
 * instead of the built-in transpose-then-reduce. (A BatchMatMul with a ones row would be faster
 * per call, but XNNPACK re-packs its right operand, here the whole tensor, on every call.)
 */
function makeReduce(name: "Sum" | "Mean"): (args: KernelArgs) => Info {
  return (args: KernelArgs): Info => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    if (x.dtype === "float32" && tf.util.sizeFromShape(x.shape) === 0) {
      // Nothing to add up: zeros, as on tfjs-cpu (tfjs-wasm's kernel leaves them uninitialised).
      const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
      const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
      return zeros(
        backend,
        attrs.keepDims === true ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape,
      );
    }
    const r = leadingReduction(x, attrs);
    if (r === null) return callOriginal(name, args);
    const { rows, cols: inner } = r;
    const out = backend.makeOutput(r.shape, "float32");
    const acc = new Float64Array(inner);
    sumRows(backend, [x], rows, inner, (src, t) => {
      for (let j = 0; j < inner; j++) acc[j] += src[0][t * inner + j];
    }, (sums) => {
      for (let j = 0; j < inner; j++) acc[j] += sums[0][j];
    });
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    const scale = name === "Mean" ? 1 / rows : 1;
    for (let j = 0; j < inner; j++) dst[j] = acc[j] * scale;
    return out;
  };
}

/**
 * Per-channel sums over the rows of `[rows, cols]` heap tensors, added up by the caller in
 * float64: float32 sums of blocks of rows from the generated SIMD `colsum` (one tensor),
 * `devsums` (x and the mean: Σ (x − μ)²) or `gradsums` (x, dy and the mean: Σ dy and
 * Σ dy·(x − μ)) where they apply, handing each block's sums to `block` (the first of them for
 * one sum); else row by row (`row(views, r)`) in JS.
 */
function sumRows(
  backend: WasmBackendLike,
  tensors: Info[],
  rows: number,
  cols: number,
  row: (views: Float32Array[], r: number) => void,
  block: (sums: Float32Array[]) => void,
): void {
  const simd = batchNormSimdFor(backend, cols);
  const blocks = Math.ceil(rows / SUM_BLOCK_ROWS);
  const tmp = simd === null ? null : backend.makeOutput([2 * blocks * cols], "float32");
  // views after the allocation (an allocation may move the heap)
  const views = tensors.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  if (simd === null || tmp === null) {
    for (let r = 0; r < rows; r++) row(views, r);
    return;
  }
  const t = backend.typedArrayFromHeap(tmp) as Float32Array;
  const s1 = t.subarray(0, blocks * cols), s2 = t.subarray(blocks * cols);
  if (views.length === 1) simd.colsum(views[0].byteOffset, rows, s1.byteOffset);
  else if (views.length === 2) {
    simd.devsums(views[0].byteOffset, views[1].byteOffset, rows, s1.byteOffset);
  } else {
    const [x, dy, mean] = views;
    simd.gradsums(x.byteOffset, dy.byteOffset, mean.byteOffset, rows, s1.byteOffset, s2.byteOffset);
  }
  for (let b = 0; b < blocks; b++) {
    const at = (s: Float32Array) => s.subarray(b * cols, (b + 1) * cols);
    block([at(s1), at(s2)]);
  }
  free(backend, tmp);
}

/**
 * Batch-norm's per-channel sums over the `rows` of `[rows, c]` tensors, in float64 ({@link sumRows}):
 * `[x]` gives [Σ x]; `[x, mean]` [Σ (x − μ)²]; `[x, dy, mean]` [Σ dy, Σ dy·(x − μ)].
 */
function channelSums(backend: WasmBackendLike, tensors: Info[], rows: number, c: number) {
  const sums = tensors.length === 3
    ? [new Float64Array(c), new Float64Array(c)]
    : [new Float64Array(c)];
  const [s1, s2] = sums;
  const row = tensors.length === 1
    ? ([xv]: Float32Array[], r: number) => {
      for (let j = 0, p = r * c; j < c; j++, p++) s1[j] += xv[p];
    }
    : tensors.length === 2
    ? ([xv, m]: Float32Array[], r: number) => {
      for (let j = 0, p = r * c; j < c; j++, p++) s1[j] += (xv[p] - m[j]) ** 2;
    }
    : ([xv, dyv, m]: Float32Array[], r: number) => {
      for (let j = 0, p = r * c; j < c; j++, p++) {
        s1[j] += dyv[p];
        s2[j] += dyv[p] * (xv[p] - m[j]);
      }
    };
  sumRows(backend, tensors, rows, c, row, (blocks) => {
    sums.forEach((sum, i) => {
      for (let j = 0; j < c; j++) sum[j] += blocks[i][j];
    });
  });
  return sums;
}

/** Identity without a copy: the output shares the input's heap data (tensors are immutable). */
function identity(args: KernelArgs): Info {
  const { inputs: { x }, backend } = args;
  if (x.dtype === "string") return callOriginal("Identity", args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/** Cast to the same dtype (as `tf.moments` does to float32 inputs) without a copy. */
function cast(args: KernelArgs): Info {
  const { inputs: { x }, attrs, backend } = args;
  if (attrs.dtype !== x.dtype || x.dtype === "string") return callOriginal("Cast", args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/**
 * Batch-norm forward, y = β + (x − μ)·γ/√(σ² + ε), with per-channel μ, σ², γ, β (shape [C]
 * over x's last axis; γ, β optional): the factor γ/√(σ²+ε) once per channel, then one loop
 * (tfjs-wasm's kernel takes ≈20 ms for a [64, 30, 30, 32] input).
 */
function fusedBatchNorm(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { x, mean, variance, offset, scale } = inputs;
  const c = x.shape[x.shape.length - 1];
  const perChannel = (t: Info | undefined) =>
    t === undefined || (t.shape.length === 1 && t.shape[0] === c && t.dtype === "float32");
  if (
    x.dtype !== "float32" || x.shape.length < 1 || !perChannel(mean) || !perChannel(variance) ||
    !perChannel(offset) || !perChannel(scale) || mean === undefined || variance === undefined
  ) {
    return callOriginal("FusedBatchNorm", args);
  }
  const eps = attrs.varianceEpsilon as number;
  const out = backend.makeOutput(x.shape, "float32");
  const simd = batchNormSimdFor(backend, c);
  const params = backend.makeOutput([3 * c], "float32"); // m, k, b
  // views after the allocations (an allocation may move the heap)
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const mv = backend.typedArrayFromHeap(mean) as Float32Array;
  const vv = backend.typedArrayFromHeap(variance) as Float32Array;
  const sv = scale === undefined ? null : backend.typedArrayFromHeap(scale) as Float32Array;
  const bv = offset === undefined ? null : backend.typedArrayFromHeap(offset) as Float32Array;
  const pv = backend.typedArrayFromHeap(params) as Float32Array;
  const m = pv.subarray(0, c), k = pv.subarray(c, 2 * c), b = pv.subarray(2 * c);
  for (let j = 0; j < c; j++) {
    k[j] = (sv === null ? 1 : sv[j]) / Math.sqrt(vv[j] + eps);
    m[j] = mv[j];
    b[j] = bv === null ? 0 : bv[j];
  }
  const n = c === 0 ? 0 : o.length;
  if (simd !== null) {
    simd.affine(xv.byteOffset, m.byteOffset, k.byteOffset, b.byteOffset, n / c, o.byteOffset);
  } else {
    for (let p = 0; p < n; p += c) {
      for (let j = 0; j < c; j++) o[p + j] = b[j] + (xv[p + j] - m[j]) * k[j];
    }
  }
  free(backend, params);
  return out;
}

/**
 * All five gradients of y = (x − μ)·γ/√(σ² + ε) + β over [.., C] (μ, σ², γ of shape [C]):
 * two passes over the heap instead of tfjs's ≈10 elementwise ops and 4 reductions.
 *
 * With r = 1/√(σ²+ε), S₁ = Σ dy, S₂ = Σ dy·(x − μ) (over all leading positions):
 * dx = dy·γ·r, dμ = −γ·r·S₁, dσ² = −½·γ·r³·S₂, dγ = r·S₂, dβ = S₁ — exactly tfjs's
 * FusedBatchNorm gradient (tfjs-core/src/gradients/FusedBatchNorm_grad.ts), with float64 sums.
 */
function batchNormGrad(args: KernelArgs): Info[] {
  const { inputs, backend, attrs } = args;
  const { x, mean, variance, scale, dy } = inputs;
  const c = mean.shape[0];
  const eps = attrs.varianceEpsilon as number;
  const total = tf.util.sizeFromShape(x.shape);
  const outs = [
    backend.makeOutput(x.shape, "float32"),
    ...[0, 1, 2, 3].map(() => backend.makeOutput([c], "float32")),
  ];
  const rows = c === 0 ? 0 : total / c;
  const [s1, s2] = channelSums(backend, [x, dy, mean], rows, c);
  const simd = batchNormSimdFor(backend, c);
  const kInfo = backend.makeOutput([c], "float32");
  // views after the allocations (an allocation may move the heap)
  const vv = backend.typedArrayFromHeap(variance) as Float32Array;
  const gv = scale === undefined ? null : backend.typedArrayFromHeap(scale) as Float32Array;
  const [dx, dMean, dVar, dScale, dOffset] = outs.map((o) =>
    backend.typedArrayFromHeap(o) as Float32Array
  );
  const k = backend.typedArrayFromHeap(kInfo) as Float32Array;
  for (let j = 0; j < c; j++) {
    const r = 1 / Math.sqrt(vv[j] + eps);
    const g = gv === null ? 1 : gv[j];
    k[j] = g * r;
    dMean[j] = -g * r * s1[j];
    dVar[j] = -0.5 * g * r * r * r * s2[j];
    dScale[j] = r * s2[j];
    dOffset[j] = s1[j];
  }
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  if (simd !== null) simd.scale(dyv.byteOffset, k.byteOffset, rows, dx.byteOffset);
  else {
    for (let p = 0; p < total; p += c) {
      for (let j = 0; j < c; j++) dx[p + j] = dyv[p + j] * k[j];
    }
  }
  free(backend, kInfo);
  return outs;
}

/**
 * Batch-norm's training pass over [.., C] as one kernel (the `BatchNormalization` layer's in
 * training mode, lib/train/_batch_norm_layer.ts): the batch's mean μ and (biased) variance σ²
 * over every leading position — two passes, Σ x and then Σ (x − μ)², as `tf.moments` does, in
 * float64 over float32 blocks — and y = β + (x − μ)·γ/√(σ² + ε). Outputs `[y, μ, σ²]`.
 */
function batchNormTrain(args: KernelArgs): Info[] {
  const { inputs: { x, scale, offset }, backend, attrs } = args;
  const c = x.shape[x.shape.length - 1];
  // its gradient needs γ; the layer passes γ and β as [C] float32 vectors
  for (
    const [name, t, shape] of [["x", x, x.shape], ["scale", scale, [c]], ["offset", offset, [
      c,
    ]]] as const
  ) {
    if (t === undefined || t.dtype !== "float32" || `${t.shape}` !== `${shape}`) {
      throw new RangeError(
        `Cannot run ${BATCH_NORM_TRAIN}: ${name} is ${
          t === undefined ? "missing" : `${t.dtype} [${t.shape}]`
        }, expected float32 [${shape}]`,
      );
    }
  }
  const rows = c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c;
  const [mean, variance] = [0, 1].map(() => backend.makeOutput([c], "float32"));
  const [sx] = channelSums(backend, [x], rows, c);
  const mv = backend.typedArrayFromHeap(mean) as Float32Array;
  for (let j = 0; j < c; j++) mv[j] = sx[j] / rows;
  const [squares] = channelSums(backend, [x, mean], rows, c);
  const vv = backend.typedArrayFromHeap(variance) as Float32Array;
  for (let j = 0; j < c; j++) vv[j] = squares[j] / rows;
  const y = fusedBatchNorm({
    inputs: { x, mean, variance, scale, offset },
    backend,
    attrs: { varianceEpsilon: attrs.varianceEpsilon },
  });
  return [y, mean, variance];
}

/**
 * The gradients of {@linkcode batchNormTrain}'s outputs `[y, μ, σ²]` (upstream `dy`, `dMean`,
 * `dVariance`) with respect to x, γ and β, μ and σ² being functions of x: with r = 1/√(σ² + ε),
 * k = γ·r, S₁ = Σ dy, S₂ = Σ dy·(x − μ) over the n leading positions,
 * dx = k·dy + (x − μ)·(2·dσ²/n − k·r²·S₂/n) + (dμ − k·S₁)/n, dγ = r·S₂, dβ = S₁: two passes
 * (the sums, then dx) where tfjs's composite of the moments and `FusedBatchNorm` takes ≈12
 * elementwise ops and reductions. Outputs `[dx, dγ, dβ]`.
 */
function batchNormTrainGrad(args: KernelArgs): Info[] {
  const { inputs: { x, mean, variance, scale, dy, dMean, dVariance }, backend, attrs } = args;
  const eps = attrs.varianceEpsilon as number;
  const c = mean.shape[0];
  const rows = c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c;
  const [s1, s2] = channelSums(backend, [x, dy, mean], rows, c);
  const outs = [
    backend.makeOutput(x.shape, "float32"),
    backend.makeOutput([c], "float32"),
    backend.makeOutput([c], "float32"),
  ];
  const params = backend.makeOutput([3 * c], "float32"); // k, q, c
  const simd = batchNormSimdFor(backend, c);
  // views after the allocations (an allocation may move the heap)
  const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
  const [dx, dScale, dOffset] = outs.map(view);
  const [vv, gv, dm, dv, kqc] = [variance, scale, dMean, dVariance, params].map(view);
  for (let j = 0; j < c; j++) {
    const r = 1 / Math.sqrt(vv[j] + eps), k = gv[j] * r;
    kqc[j] = k;
    kqc[c + j] = (2 * dv[j] - k * r * r * s2[j]) / rows;
    kqc[2 * c + j] = (dm[j] - k * s1[j]) / rows;
    dScale[j] = r * s2[j];
    dOffset[j] = s1[j];
  }
  const [xv, dyv, mv] = [x, dy, mean].map(view);
  if (simd !== null) {
    simd.combine(dyv.byteOffset, xv.byteOffset, mv.byteOffset, kqc.byteOffset, rows, dx.byteOffset);
  } else {
    for (let p = 0; p < dx.length; p += c) {
      for (let j = 0; j < c; j++) {
        dx[p + j] = dyv[p + j] * kqc[j] + (xv[p + j] - mv[j]) * kqc[c + j] + kqc[2 * c + j];
      }
    }
  }
  free(backend, params);
  return outs;
}

/** out[r, j] = x[j] / divisor for out of attrs.shape (x holds the trailing block): one pass. */
function broadcastLeading(args: KernelArgs): Info {
  const { inputs: { x }, backend, attrs } = args;
  const shape = attrs.shape as number[];
  const divisor = attrs.divisor as number;
  const out = backend.makeOutput(shape, "float32");
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const unit = src.length, total = dst.length;
  if (total === 0) return out;
  for (let j = 0; j < unit; j++) dst[j] = src[j] / divisor;
  let filled = unit;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    dst.copyWithin(filled, 0, n);
    filled += n;
  }
  return out;
}

/**
 * `MasokitAdamUpdate` on wasm (lib/train/_fused_adam.ts): m′, v′, w′ in one pass over the heap,
 * each operation rounded to float32 as tfjs-wasm's own ops round it (a double product, sum,
 * quotient or square root of float32 values rounded once to float32 is the correctly rounded
 * float32 result), so the update equals tfjs's bit for bit.
 */
function adamUpdate(args: KernelArgs): Info[] {
  const { inputs: { w, m, v, g, accBeta1, accBeta2 }, backend, attrs } = args;
  const f = Math.fround;
  const [beta1, beta2, epsilon, lr] = ["beta1", "beta2", "epsilon", "learningRate"].map((k) =>
    attrs[k] as number
  );
  const b1 = f(beta1), c1 = f(1 - beta1), b2 = f(beta2), c2 = f(1 - beta2);
  const eps = f(epsilon), negLr = f(-lr);
  const outs = [m, v, w].map((t) => backend.makeOutput(t.shape, "float32"));
  const params = backend.makeOutput([ADAM_PARAMS], "float32");
  // views after the allocations (an allocation may move the heap)
  const [m1, v1, w1] = outs.map((o) => backend.typedArrayFromHeap(o) as Float32Array);
  const [wv, mv, vv, gv, a1, a2] = [w, m, v, g, accBeta1, accBeta2].map((t) =>
    backend.typedArrayFromHeap(t) as Float32Array
  );
  const d1 = f(1 - a1[0]), d2 = f(1 - a2[0]);
  const pv = backend.typedArrayFromHeap(params) as Float32Array;
  pv.set([b1, c1, b2, c2, eps, negLr, d1, d2]);
  // four weights a vector in SIMD (lib/train/_wasm_adam_simd.ts), the rest here
  const vectors = gv.length >> 2;
  const simd = vectors > 0 &&
    adamSimd(backend, [wv, mv, vv, gv, m1, v1, w1, pv].map((a) => a.byteOffset), vectors);
  free(backend, params);
  for (let i = simd ? 4 * vectors : 0; i < gv.length; i++) {
    const gi = gv[i];
    const mi = f(f(mv[i] * b1) + f(gi * c1));
    const vi = f(f(vv[i] * b2) + f(f(gi * gi) * c2));
    const step = f(f(f(mi / d1) / f(f(Math.sqrt(f(vi / d2))) + eps)) * negLr);
    m1[i] = mi;
    v1[i] = vi;
    w1[i] = step + wv[i];
  }
  return outs;
}

/**
 * `Conv2D` and `FusedConv2D` (bias, linear or ReLU): stride-1 3×3 convs of 16+ channels by
 * Winograd (`winogradWithFilter`, the filters transformed at each call: a training step's change
 * every step) inside {@linkcode withWinogradConvs}, the others (float32, any kernel and stride,
 * output channels a multiple of 4) by the direct im2col + products kernel (`convGemm`: exact
 * ties), the rest by the built-in kernel.
 */
function convByWinograd(name: "Conv2D" | "FusedConv2D"): (args: KernelArgs) => Info {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias, preluActivationWeights } = inputs;
    const activation = (attrs.activation ?? "linear") as string;
    const dilations = attrs.dilations ?? 1;
    if (
      x.shape.length === 4 && filter.shape.length === 4 &&
      (attrs.dataFormat === undefined || attrs.dataFormat === "NHWC") &&
      (activation === "linear" || activation === "relu") && preluActivationWeights === undefined &&
      [dilations].flat().every((d) => d === 1)
    ) {
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        attrs.strides as number | [number, number],
        1,
        attrs.pad as "same" | "valid",
        attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
      );
      const { top, bottom, left, right } = info.padInfo;
      const y = info.strideHeight === 1 && info.strideWidth === 1
        ? winogradWithFilter(
          backend,
          x,
          filter,
          [top, bottom, left, right],
          bias,
          activation === "relu",
        )
        : null;
      if (y !== null) return y;
      const biasOk = bias === undefined ||
        (bias.dtype === "float32" && bias.shape.length === 1 && bias.shape[0] === info.outChannels);
      if (x.dtype === "float32" && filter.dtype === "float32" && biasOk) {
        const direct = convGemm(backend, x, filter, bias, {
          h: info.inHeight,
          w: info.inWidth,
          cin: info.inChannels,
          cout: info.outChannels,
          kh: info.filterHeight,
          kw: info.filterWidth,
          sh: info.strideHeight,
          sw: info.strideWidth,
          pt: top,
          pl: left,
          oh: info.outHeight,
          ow: info.outWidth,
        }, activation === "relu");
        if (direct !== null) return direct;
      }
    }
    return callOriginal(name, args);
  };
}

/** Slice by runs of whole trailing axes where they apply (lib/train/_wasm_slice.ts). */
function slice(args: KernelArgs): Info {
  const { inputs: { x }, backend, attrs } = args;
  return sliceRuns(backend, x, attrs.begin as number[], attrs.size as number[]) ??
    callOriginal("Slice", args);
}

/** GatherV2 by row copies where they apply (`train`'s batches; lib/train/_wasm_gather.ts). */
function gatherV2(args: KernelArgs): Info {
  const { inputs: { x, indices }, backend, attrs } = args;
  return gatherRows(backend, x, indices, attrs.axis as number, (attrs.batchDims as number) ?? 0) ??
    callOriginal("GatherV2", args);
}

const added: Record<string, (args: KernelArgs) => Info> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
};
const replacements: Record<string, (args: KernelArgs) => Info> = {
  Conv2D: convByWinograd("Conv2D"),
  FusedConv2D: convByWinograd("FusedConv2D"),
  Conv2DBackpropInput: conv2DBackpropInput,
  MaxPoolGrad: maxPoolGrad,
  Tile: tile,
  Sum: makeReduce("Sum"),
  Mean: makeReduce("Mean"),
  Identity: identity,
  Cast: cast,
  FusedBatchNorm: fusedBatchNorm,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  GatherV2: gatherV2,
  Slice: slice,
};

/**
 * `MasokitReluGrad`: `dx = dy · step(x)` (NaN where x is NaN, as tfjs's `Step`) in one pass
 * (lib/train/_wasm_relu_grad.ts), the last values (past whole vectors of four) here.
 */
function reluGrad(args: KernelArgs): Info {
  const { inputs: { x, dy }, backend } = args;
  const out = backend.makeOutput(x.shape, "float32");
  // views after the allocation (an allocation may move the heap)
  const [xv, dv, ov] = [x, dy, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const vectors = xv.length >> 2;
  const simd = vectors > 0 && reluGradSimd(backend, [xv, dv, ov].map((a) => a.byteOffset), vectors);
  for (let i = simd ? 4 * vectors : 0; i < xv.length; i++) {
    const v = xv[i];
    ov[i] = dv[i] * (v > 0 ? 1 : v !== v ? NaN : 0);
  }
  return out;
}

/** `MasokitSoftmaxCrossEntropy`: the losses `[B]` (lib/train/_softmax_cross_entropy.ts). */
function softmaxCrossEntropyLoss(args: KernelArgs): Info {
  const { inputs: { logits, labels }, backend } = args;
  const [rows, classes] = logits.shape;
  const out = backend.makeOutput([rows], "float32");
  // views after the allocation (an allocation may move the heap)
  const [z, y, o] = [logits, labels, out].map((t) => backend.typedArrayFromHeap(t));
  softmaxCrossEntropyValues.loss(z, y, rows, classes, o as Float32Array);
  return out;
}

/** `MasokitSoftmaxCrossEntropyGrad`: the logits' gradient `[B, C]`. */
function softmaxCrossEntropyGrad(args: KernelArgs): Info {
  const { inputs: { dy, logits, labels }, backend } = args;
  const [rows, classes] = logits.shape;
  const out = backend.makeOutput([rows, classes], "float32");
  const [d, z, y, o] = [dy, logits, labels, out].map((t) => backend.typedArrayFromHeap(t));
  softmaxCrossEntropyValues.grad(d, z, y, rows, classes, o as Float32Array);
  return out;
}

/** `MasokitMovingAverages`: a batch-norm layer's new moving mean and variance. */
function movingAverages(args: KernelArgs): Info[] {
  const { inputs: { movingMean, mean, movingVariance, variance }, backend, attrs } = args;
  const outs = [movingMean, movingVariance].map((t) => backend.makeOutput(t.shape, "float32"));
  const [mm, m, mv, v, om, ov] = [movingMean, mean, movingVariance, variance, ...outs].map((t) =>
    backend.typedArrayFromHeap(t)
  );
  movingAverage(mm, m, attrs.momentum as number, om as Float32Array);
  movingAverage(mv, v, attrs.momentum as number, ov as Float32Array);
  return outs;
}

/** `out = A · B` by the small products' kernel, for the penalty's kernels (they need the heap). */
function heapProduct(
  backend: WasmBackendLike,
  shape: SmallMatMulShape,
  [a, b, out]: readonly Info[],
): void {
  const at = (t: Info) => backend.typedArrayFromHeap(t).byteOffset;
  if (!smallMatMul(backend, shape, [at(a), at(b), 0, at(out)])) {
    throw new Error(`Cannot run ${ORTHOGONALITY_PENALTY}: the wasm heap was not found`);
  }
}

/** `WᵀW` `[C, C]` of `kernel` `[K, C]` (a new heap tensor). */
function gramOnHeap(backend: WasmBackendLike, kernel: Info): Info {
  const [k, c] = kernel.shape;
  const g = backend.makeOutput([c, c], "float32");
  try {
    heapProduct(backend, { m: c, k, n: c, transposeA: true, bias: false, relu: false }, [
      kernel,
      kernel,
      g,
    ]);
  } catch (e) {
    free(backend, g);
    throw e;
  }
  return g;
}

/** `MasokitOrthogonalityPenalty`: eq. (13)'s penalty of `kernel` `[K, C]`, a scalar. */
function orthogonalityPenalty(args: KernelArgs): Info {
  const { inputs: { kernel }, backend } = args;
  const g = gramOnHeap(backend, kernel);
  const out = backend.makeOutput([], "float32");
  const [gv, o] = [g, out].map((t) => backend.typedArrayFromHeap(t));
  o[0] = orthogonalityPenaltyValues.penalty(gv, kernel.shape[1]);
  free(backend, g);
  return out;
}

/** `MasokitOrthogonalityPenaltyGrad`: its gradient `dW = W · 4·dy·(G ⊙ (1 − I))` `[K, C]`. */
function orthogonalityPenaltyGrad(args: KernelArgs): Info {
  const { inputs: { dy, kernel }, backend } = args;
  const [k, c] = kernel.shape;
  const g = gramOnHeap(backend, kernel);
  const h = backend.makeOutput([c, c], "float32");
  const out = backend.makeOutput([k, c], "float32");
  const [d, gv, hv] = [dy, g, h].map((t) => backend.typedArrayFromHeap(t));
  orthogonalityPenaltyValues.gradFactor(gv, c, d[0], hv as Float32Array);
  try {
    const shape = { m: k, k: c, n: c, transposeA: false, bias: false, relu: false };
    heapProduct(backend, shape, [kernel, h, out]);
  } catch (e) {
    free(backend, out);
    throw e;
  } finally {
    free(backend, g, h);
  }
  return out;
}

const customKernels: Record<string, (args: KernelArgs) => Info | Info[]> = {
  [ORTHOGONALITY_PENALTY]: orthogonalityPenalty,
  [ORTHOGONALITY_PENALTY_GRAD]: orthogonalityPenaltyGrad,
  [MOVING_AVERAGES]: movingAverages,
  [SOFTMAX_CROSS_ENTROPY]: softmaxCrossEntropyLoss,
  [SOFTMAX_CROSS_ENTROPY_GRAD]: softmaxCrossEntropyGrad,
  [BATCH_NORM_GRAD]: batchNormGrad,
  [BROADCAST_LEADING]: broadcastLeading,
  [BATCH_NORM_TRAIN]: batchNormTrain,
  [BATCH_NORM_TRAIN_GRAD]: batchNormTrainGrad,
  [RELU_GRAD]: reluGrad,
};

function isOurs(name: string): boolean {
  const current = tf.getKernel(name, "wasm");
  return current !== undefined && current === ours.get(name);
}

function install(name: string, fn: (args: KernelArgs) => Info): void {
  const previous = tf.getKernel(name, "wasm");
  if (previous !== undefined) {
    originals.set(name, previous);
    tf.unregisterKernel(name, "wasm");
  }
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: fn as unknown as tf.KernelFunc,
    // Keep the original's setup so that the fallback works if the backend initialises later.
    ...(previous?.setupFunc ? { setupFunc: previous.setupFunc } : {}),
  };
  tf.registerKernel(config);
  ours.set(name, config);
}

/**
 * Registers the kernels needed to train conv nets (conv, batch-norm, max-pool, dense, Adam) on
 * tfjs's `wasm` backend: adds `Conv2DBackpropFilter` (missing upstream, tfjs issue #8474) and,
 * unless `replaceSlowKernels` is false, replaces the built-in `Conv2D`, `FusedConv2D` and
 * `Conv2DBackpropInput` (stride-1 3×3 convs of 16+ channels by Winograd inside
 * {@linkcode withWinogradConvs}, where `train` runs its steps and evaluations; elsewhere they keep
 * XNNPACK's exact ties, so `tf.grad` of a model is its template A[x]), `MaxPoolGrad`,
 * `Tile`, `Sum`, `Mean`, `FusedBatchNorm` (forward), `BatchMatMul` and `_FusedMatMul` (small
 * products by a generated kernel; transposed operands),
 * `GatherV2` (row copies: `train`'s batches), `Slice` (runs of whole trailing axes: a
 * zero-padding layer's gradient), `Identity` and `Cast` by faster equivalents
 * (the originals stay as fallbacks for cases the replacements do not cover; `Identity` and a `Cast`
 * to the same dtype share the input's memory instead of copying it). Unless `fuseBatchNorm` is
 * false it also adds the kernels `MasokitBatchNormGrad` (all five batch-norm gradients in two
 * passes), `MasokitBroadcastLeading` and `MasokitReluGrad`, and makes the gradients of
 * `FusedBatchNorm`, of `Mean`/`Sum` over leading axes and of `Relu` use them (globally, falling
 * back to tfjs's gradients on backends without these kernels), and runs the `BatchNormalization` layer's training pass as one kernel,
 * `MasokitBatchNormTrain` (the batch's moments and the normalization; its gradient in two
 * passes: `MasokitBatchNormTrainGrad`; 1.14–1.31× a smallCNN step, bench/RESULTS.md). It always
 * adds `MasokitMovingAverages` (the layer's moving statistics, bit for bit tfjs-layers' ops),
 * `MasokitSoftmaxCrossEntropy` and its gradient (`train`'s loss) and `MasokitOrthogonalityPenalty`
 * and its gradient (eq. 13), each used where it is registered for the active backend. Unless
 * `fuseAdam` is false it adds `MasokitAdamUpdate` and runs every tfjs Adam optimizer's update on `wasm` through it: one kernel call a variable instead of ≈12,
 * bit for bit the same (lib/train/_fused_adam.ts). Idempotent; nothing is registered at import
 * time. Call it before or after `tf.setBackend("wasm")`.
 *
 * @param options `replaceSlowKernels`, `fuseBatchNorm`, `fuseAdam` (each default true).
 * @returns Which kernels were added and replaced, which gradients changed, and whether an
 *   earlier call already had done everything.
 *
 * @example Training a convolution on wasm
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
 * import { ok } from "node:assert/strict";
 *
 * const report = registerWasmTrainingKernels();
 * ok(report.alreadyRegistered || report.added.includes("Conv2DBackpropFilter"));
 * await tf.ready();
 * const previous = tf.getBackend();
 * await tf.setBackend("wasm");
 * const x = tf.ones([1, 4, 4, 1]);
 * const dw = tf.grad((w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid").sum())(
 *   tf.zeros([3, 3, 1, 1]),
 * );
 * ok((await dw.data()).every((v) => v === 4)); // each tap sees 2×2 ones
 * await tf.setBackend(previous);
 * ```
 */
export function registerWasmTrainingKernels(
  options: WasmTrainingKernelsOptions = {},
): WasmTrainingKernelsReport {
  const replace = options.replaceSlowKernels ?? true;
  const fuse = options.fuseBatchNorm ?? true;
  const adam = options.fuseAdam ?? true;
  const chosen = { replaceSlowKernels: replace, fuseBatchNorm: fuse, fuseAdam: adam };
  for (const [key, value] of Object.entries(chosen)) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot register wasm training kernels: ${key} is ${
          JSON.stringify(value)
        }, expected a boolean`,
      );
    }
  }
  const report: WasmTrainingKernelsReport = {
    added: [],
    replaced: [],
    gradients: [],
    alreadyRegistered: false,
  };
  for (const [name, fn] of Object.entries(customKernels)) {
    if (isOurs(name)) continue;
    install(name, fn as (args: KernelArgs) => Info);
    report.added.push(name);
  }
  report.gradients = setFusedGradients(fuse);
  if (setFusedBatchNormLayer(fuse)) report.gradients.push("BatchNormalization");
  if (adam && !isOurs(ADAM_UPDATE)) {
    install(ADAM_UPDATE, adamUpdate as unknown as (args: KernelArgs) => Info);
    report.added.push(ADAM_UPDATE);
  } else if (!adam && isOurs(ADAM_UPDATE)) {
    tf.unregisterKernel(ADAM_UPDATE, "wasm");
    ours.delete(ADAM_UPDATE);
  }
  if (adam && installFusedAdam()) report.gradients.push("Adam");
  for (const [name, fn] of Object.entries(added)) {
    if (isOurs(name)) continue;
    if (tf.getKernel(name, "wasm") !== undefined && !originals.has(name)) continue; // upstream fixed
    install(name, fn);
    report.added.push(name);
  }
  for (const [name, fn] of Object.entries(replacements)) {
    if (isOurs(name)) {
      if (!replace) {
        tf.unregisterKernel(name, "wasm");
        tf.registerKernel(original(name));
        ours.delete(name);
      }
      continue;
    }
    if (!replace) continue;
    install(name, fn);
    report.replaced.push(name);
  }
  report.alreadyRegistered = report.added.length === 0 && report.replaced.length === 0 &&
    report.gradients.length === 0;
  return report;
}
